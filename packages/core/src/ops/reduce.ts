// SPDX-License-Identifier: MIT
// Reductions over any set of axes with keepdim: sum, mean, prod, max, min, argmax, argmin,
// var, std, logsumexp, any, all. The backend reduces; keepdim is a reshape here.
import type { ReduceOp } from '../backend.js';
import { isFloatDType, type DType } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { normalizeAxes, normalizeAxis, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { record } from '../autograd/record.js';
import { noGrad } from '../autograd/mode.js';
import { commonBackend, fromData } from './dispatch.js';
import { reshape } from './views.js';
import { binary, unary, where } from './elementwise.js';

/**
 * Options shared by reductions.
 *
 * @example
 * ```ts
 * sum(x, { axis: [0, 2], keepdim: true });
 * ```
 */
export interface ReduceOptions {
  /** Axis or axes to reduce (default: all). Negative values count from the end. */
  axis?: number | readonly number[];
  /** Keep reduced dimensions with size 1 (default false). */
  keepdim?: boolean;
}

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Runs the reduce primitive and applies keepdim; no recording. */
function rawReduce(op: ReduceOp, x: Tensor, axes: number[], keepdim: boolean, dtype: DType): Tensor {
  const backend = commonBackend(op, [x]);
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const data = axes.length === 0 ? backend.cast(x.stridedView(op), dtype) : backend.reduce(op, x.stridedView(op), axes, dtype);
  const out = fromData(backend, data, outShape, dtype);
  if (!keepdim) return out;
  const kept = noGrad(() => reshape(out, keptShape(x.shape, axes)));
  out.dispose();
  return kept;
}

/**
 * Sum over axes. Bool and int32 inputs sum to int32.
 *
 * @example
 * ```ts
 * sum(tensor([[1, 2], [3, 4]]), { axis: 0 }); // [4, 6]
 * ```
 */
export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  commonBackend('sum', [x]);
  const axes = normalizeAxes(options.axis, x.rank, 'sum');
  const keepdim = options.keepdim ?? false;
  const out = rawReduce('sum', x, axes, keepdim, x.dtype === 'bool' ? 'int32' : x.dtype);
  return record('sum', [x], out, { axes, keepdim });
}

/**
 * Mean over axes (float result).
 *
 * @example
 * ```ts
 * mean(tensor([1, 2, 3, 4])); // 2.5
 * ```
 */
export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  commonBackend('mean', [x]);
  const axes = normalizeAxes(options.axis, x.rank, 'mean');
  const count = sizeOf(axes.map((a) => x.shape[a]));
  const src = isFloatDType(x.dtype) ? x : castFloat(x);
  const s = sum(src, options);
  const out = binary('div', s, count);
  s.dispose();
  if (src !== x) src.dispose();
  return out;
}

function castFloat(x: Tensor): Tensor {
  return fromData(x.backend, x.backend.cast(x.stridedView('cast'), 'float32'), x.shape, 'float32');
}

/**
 * Product over axes. (Its gradient divides by the input, so it is undefined at zeros.)
 *
 * @example
 * ```ts
 * prod(tensor([1, 2, 3, 4])); // 24
 * ```
 */
export function prod(x: Tensor, options: ReduceOptions = {}): Tensor {
  commonBackend('prod', [x]);
  const axes = normalizeAxes(options.axis, x.rank, 'prod');
  const keepdim = options.keepdim ?? false;
  const out = rawReduce('prod', x, axes, keepdim, x.dtype === 'bool' ? 'int32' : x.dtype);
  return record('prod', [x], out, { axes, keepdim });
}

function extreme(op: 'max' | 'min', x: Tensor, options: ReduceOptions): Tensor {
  commonBackend(op, [x]);
  const axes = normalizeAxes(options.axis, x.rank, op);
  for (const a of axes) {
    if (x.shape[a] === 0) {
      throw new HeedError(op, `cannot take the ${op} over axis ${a} of size 0 (shape ${fmtShape(x.shape)}); the reduction has no identity.`);
    }
  }
  const keepdim = options.keepdim ?? false;
  const out = rawReduce(op, x, axes, keepdim, x.dtype);
  return record('extreme', [x], out, { axes, keepdim });
}

/**
 * Maximum over axes (values only; see {@link argmax} for indices). NaN propagates.
 * The gradient is shared evenly among tied maxima.
 *
 * @example
 * ```ts
 * max(tensor([[1, 5], [7, 2]]), { axis: 1 }); // [5, 7]
 * ```
 */
export function max(x: Tensor, options: ReduceOptions = {}): Tensor {
  return extreme('max', x, options);
}

/**
 * Minimum over axes. NaN propagates.
 *
 * @example
 * ```ts
 * min(tensor([[1, 5], [7, 2]]), { axis: 1 }); // [1, 2]
 * ```
 */
export function min(x: Tensor, options: ReduceOptions = {}): Tensor {
  return extreme('min', x, options);
}

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  commonBackend(op, [x]);
  if (axis === undefined) {
    const flat = noGrad(() => reshape(x, [x.size]));
    const out = argExtreme(op, flat, 0, false);
    flat.dispose();
    return out;
  }
  const a = normalizeAxis(axis, x.rank, op);
  if (x.rank > 0 && x.shape[a] === 0) {
    throw new HeedError(op, `cannot take ${op} over axis ${axis} of size 0 (shape ${fmtShape(x.shape)}).`);
  }
  if (x.rank === 0) return fromData(x.backend, x.backend.fill(1, 0, 'int32'), [], 'int32');
  return rawReduce(op, x, [a], keepdim, 'int32');
}

/**
 * Index of the maximum along `axis` (of the flattened tensor when omitted), int32. Ties pick
 * the first index.
 *
 * @example
 * ```ts
 * argmax(tensor([[1, 5], [7, 2]]), 1); // [1, 0]
 * ```
 */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argExtreme('argmax', x, axis, keepdim);
}

/**
 * Index of the minimum along `axis` (of the flattened tensor when omitted), int32.
 *
 * @example
 * ```ts
 * argmin(tensor([[1, 5], [7, 2]]), 1); // [0, 1]
 * ```
 */
export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argExtreme('argmin', x, axis, keepdim);
}

/**
 * Options for {@link variance} and {@link std}.
 *
 * @example
 * ```ts
 * variance(x, { axis: -1, correction: 0 }); // population variance
 * ```
 */
export interface VarianceOptions extends ReduceOptions {
  /** Subtracted from the count in the denominator (1 = unbiased, the default; 0 = population). */
  correction?: number;
}

/**
 * Variance over axes (`correction` 1 by default, like torch.var).
 *
 * @example
 * ```ts
 * variance(tensor([1, 2, 3, 4])); // 1.6667
 * ```
 */
export function variance(x: Tensor, options: VarianceOptions = {}): Tensor {
  commonBackend('var', [x]);
  const axes = normalizeAxes(options.axis, x.rank, 'var');
  const n = sizeOf(axes.map((a) => x.shape[a]));
  const correction = options.correction ?? 1;
  const m = mean(x, { axis: axes, keepdim: true });
  const d = binary('sub', x, m);
  const sq = unary('square', d);
  const s = sum(sq, { axis: axes, keepdim: options.keepdim ?? false });
  const out = binary('div', s, Math.max(0, n - correction));
  for (const t of [m, d, sq, s]) t.dispose();
  return out;
}

/**
 * Standard deviation over axes (`correction` 1 by default, like torch.std).
 *
 * @example
 * ```ts
 * std(tensor([1, 2, 3, 4])); // 1.291
 * ```
 */
export function std(x: Tensor, options: VarianceOptions = {}): Tensor {
  const v = variance(x, options);
  if (!v.requiresGrad) {
    const out = unary('sqrt', v);
    v.dispose();
    return out;
  }
  // PyTorch's gradient is 0 where std = 0, but sqrt's rule gives 0 * inf = NaN there: such
  // entries take the value of v itself (sqrt(+-0) = +-0) and sqrt only sees the others.
  const zero = binary('eq', v, 0);
  const safe = where(zero, 1, v);
  const root = unary('sqrt', safe);
  const out = where(zero, v, root);
  for (const t of [v, zero, safe, root]) t.dispose();
  return out;
}

/**
 * `log(sum(exp(x)))` over axes, computed stably (rows of all -Infinity give -Infinity).
 *
 * @example
 * ```ts
 * logsumexp(tensor([0, 0]), { axis: 0 }); // log(2)
 * ```
 */
export function logsumexp(x: Tensor, options: ReduceOptions = {}): Tensor {
  commonBackend('logsumexp', [x]);
  const axes = normalizeAxes(options.axis, x.rank, 'logsumexp');
  const keepdim = options.keepdim ?? false;
  const shift = noGrad(() => {
    const m = rawReduce('max', x, axes, true, x.dtype);
    const absM = unary('abs', m);
    const finite = binary('lt', absM, Infinity);
    const safe = where(finite, m, 0);
    for (const t of [m, absM, finite]) t.dispose();
    return safe;
  });
  const shifted = binary('sub', x, shift);
  const e = unary('exp', shifted);
  const s = sum(e, { axis: axes, keepdim: true });
  const l = unary('log', s);
  const full = binary('add', l, shift);
  const out = keepdim ? full : reshape(full, x.shape.filter((_, i) => !axes.includes(i)));
  for (const t of [shift, shifted, e, s, l]) t.dispose();
  if (out !== full) full.dispose();
  return out;
}

function countTrue(x: Tensor, options: ReduceOptions, op: string): { count: Tensor; total: number } {
  const axes = normalizeAxes(options.axis, x.rank, op);
  const nz = x.dtype === 'bool' ? x : binary('ne', x, 0);
  const count = rawReduce('sum', nz, axes, options.keepdim ?? false, 'int32');
  if (nz !== x) nz.dispose();
  return { count, total: sizeOf(axes.map((a) => x.shape[a])) };
}

/**
 * Whether any element is true (nonzero) over axes (bool result; false for empty input).
 *
 * @example
 * ```ts
 * any(tensor([0, 1])); // true
 * ```
 */
export function any(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { count } = countTrue(x, options, 'any');
  const out = binary('gt', count, 0);
  count.dispose();
  return out;
}

/**
 * Whether all elements are true (nonzero) over axes (bool result; true for empty input).
 *
 * @example
 * ```ts
 * all(tensor([0, 1])); // false
 * ```
 */
export function all(x: Tensor, options: ReduceOptions = {}): Tensor {
  const { count, total } = countTrue(x, options, 'all');
  const out = binary('eq', count, total);
  count.dispose();
  return out;
}
