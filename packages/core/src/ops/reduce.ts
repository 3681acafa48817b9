// SPDX-License-Identifier: MIT
// Reductions over any set of axes with keepdim: sum, mean, prod, max, min, argmax, argmin,
// var, std, logsumexp, any, all. The backend reduces; keepdim is a reshape here.
// Every reduction takes either an options object (`sum(x, { axis, keepdim })`) or the axis
// first (`sum(x, -1)`, `sum(x, [0, 1], { keepdim: true })`); unknown option keys are rejected.
import type { ReduceOp } from '../backend.js';
import { isFloatDType, type DType } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { record } from '../autograd/record.js';
import { noGrad } from '../autograd/mode.js';
import { checkNumber } from '../validate.js';
import {
  CORRECTION_KEYS, KEEPDIM_KEYS, REDUCE_KEYS, VARIANCE_KEYS, argArgs, reduceArgs, type ArgReduceOptions, type AxisArg,
  type CorrectionOptions, type KeepdimOptions, type ReduceOptions, type VarianceOptions,
} from './reduce-args.js';
import { commonBackend, fromData } from './operands.js';
import { reshape } from './views.js';
import { binary, unary, where } from './elementwise.js';
import { runKernel } from '../kernel-dispatch.js';

export type { ArgReduceOptions, AxisArg, CorrectionOptions, KeepdimOptions, ReduceOptions, VarianceOptions } from './reduce-args.js';

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Runs the reduce primitive and applies keepdim; no recording. */
function rawReduce(op: ReduceOp, x: Tensor, axes: number[], keepdim: boolean, dtype: DType): Tensor {
  const backend = commonBackend(op, [x]);
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const data = axes.length === 0 ? runKernel(backend, 'cast', x.stridedView(op), dtype) : runKernel(backend, 'reduce', op, x.stridedView(op), axes, dtype);
  const out = fromData(backend, data, outShape, dtype);
  if (!keepdim) return out;
  const kept = noGrad(() => reshape(out, keptShape(x.shape, axes)));
  out.dispose();
  return kept;
}

/** The sum primitive with validated axes, recorded for autograd. */
function sumAxes(x: Tensor, axes: number[], keepdim: boolean): Tensor {
  const out = rawReduce('sum', x, axes, keepdim, x.dtype === 'bool' ? 'int32' : x.dtype);
  return record('sum', [x], out, { axes, keepdim });
}

/**
 * Sum over axes (all by default). Bool and int32 inputs sum to int32. The axis may come
 * first: `sum(x, -1)` is `sum(x, { axis: -1 })`.
 *
 * @example
 * ```ts
 * sum(tensor([[1, 2], [3, 4]]), { axis: 0 }); // [4, 6]
 * ```
 */
export function sum(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * Sum over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * sum(tensor([[1, 2], [3, 4]]), -1, { keepdim: true }); // [[3], [7]]
 * ```
 */
export function sum(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function sum(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  commonBackend('sum', [x]);
  const { axes, keepdim } = reduceArgs('sum', x, axisOrOptions, options, REDUCE_KEYS, KEEPDIM_KEYS);
  return sumAxes(x, axes, keepdim);
}

/** The mean with validated axes. */
function meanAxes(x: Tensor, axes: number[], keepdim: boolean): Tensor {
  const count = sizeOf(axes.map((a) => x.shape[a]));
  const src = isFloatDType(x.dtype) ? x : castFloat(x);
  const s = sumAxes(src, axes, keepdim);
  const out = binary('div', s, count);
  s.dispose();
  if (src !== x) src.dispose();
  return out;
}

/**
 * Mean over axes (float result). The axis may come first: `mean(x, 0)`.
 *
 * @example
 * ```ts
 * mean(tensor([1, 2, 3, 4])); // 2.5
 * ```
 */
export function mean(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * Mean over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * mean(tensor([[1, 2], [3, 4]]), 0); // [2, 3]
 * ```
 */
export function mean(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function mean(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  commonBackend('mean', [x]);
  const { axes, keepdim } = reduceArgs('mean', x, axisOrOptions, options, REDUCE_KEYS, KEEPDIM_KEYS);
  return meanAxes(x, axes, keepdim);
}

function castFloat(x: Tensor): Tensor {
  return fromData(x.backend, runKernel(x.backend, 'cast', x.stridedView('cast'), 'float32'), x.shape, 'float32');
}

/**
 * Product over axes. (Its gradient divides by the input, so it is undefined at zeros.)
 * The axis may come first: `prod(x, 1)`.
 *
 * @example
 * ```ts
 * prod(tensor([1, 2, 3, 4])); // 24
 * ```
 */
export function prod(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * Product over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * prod(tensor([[1, 2], [3, 4]]), 1); // [2, 12]
 * ```
 */
export function prod(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function prod(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  commonBackend('prod', [x]);
  const { axes, keepdim } = reduceArgs('prod', x, axisOrOptions, options, REDUCE_KEYS, KEEPDIM_KEYS);
  const out = rawReduce('prod', x, axes, keepdim, x.dtype === 'bool' ? 'int32' : x.dtype);
  return record('prod', [x], out, { axes, keepdim });
}

function extreme(op: 'max' | 'min', x: Tensor, first: unknown, second: unknown): Tensor {
  commonBackend(op, [x]);
  const { axes, keepdim } = reduceArgs(op, x, first, second, REDUCE_KEYS, KEEPDIM_KEYS);
  for (const a of axes) {
    if (x.shape[a] === 0) {
      throw new HeedError(op, `cannot take the ${op} over axis ${a} of size 0 (shape ${fmtShape(x.shape)}); the reduction has no identity.`);
    }
  }
  const out = rawReduce(op, x, axes, keepdim, x.dtype);
  return record('extreme', [x], out, { axes, keepdim });
}

/**
 * Maximum over axes: the values only. Unlike PyTorch, where `torch.max(x, dim)` returns
 * `(values, indices)`, `max(x, dim)` returns the values; use {@link argmax} for the indices.
 * NaN propagates; the gradient is shared evenly among tied maxima.
 *
 * @example
 * ```ts
 * max(tensor([[1, 5], [7, 2]]), { axis: 1 }); // [5, 7]
 * ```
 */
export function max(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * Maximum over `axis` (values only; {@link argmax} gives the indices).
 *
 * @example
 * ```ts
 * max(tensor([[1, 5], [7, 2]]), 1); // [5, 7] (torch.max(x, 1) would also return indices)
 * ```
 */
export function max(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function max(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  return extreme('max', x, axisOrOptions, options);
}

/**
 * Minimum over axes: the values only (unlike `torch.min(x, dim)`, no indices; use
 * {@link argmin}). NaN propagates.
 *
 * @example
 * ```ts
 * min(tensor([[1, 5], [7, 2]]), { axis: 1 }); // [1, 2]
 * ```
 */
export function min(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * Minimum over `axis` (values only; {@link argmin} gives the indices).
 *
 * @example
 * ```ts
 * min(tensor([[1, 5], [7, 2]]), 1); // [1, 2]
 * ```
 */
export function min(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function min(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  return extreme('min', x, axisOrOptions, options);
}

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, first: unknown, second: unknown): Tensor {
  commonBackend(op, [x]);
  const { axis, keepdim } = argArgs(op, x, first, second);
  return argAlong(op, x, axis, keepdim);
}

function argAlong(op: 'argmax' | 'argmin', x: Tensor, a: number | undefined, keepdim: boolean): Tensor {
  if (a === undefined) {
    const flat = noGrad(() => reshape(x, [x.size]));
    const out = argAlong(op, flat, 0, false);
    flat.dispose();
    return out;
  }
  if (x.rank > 0 && x.shape[a] === 0) {
    throw new HeedError(op, `cannot take ${op} over axis ${a} of size 0 (shape ${fmtShape(x.shape)}).`);
  }
  if (x.rank === 0) return fromData(x.backend, runKernel(x.backend, 'fill', 1, 0, 'int32'), [], 'int32');
  return rawReduce(op, x, [a], keepdim, 'int32');
}

/**
 * Index of the maximum along `axis` (of the flattened tensor when omitted), int32. Ties pick
 * the first index. (This is what the second output of `torch.max(x, dim)` holds.)
 *
 * @example
 * ```ts
 * argmax(tensor([[1, 5], [7, 2]]), 1); // [1, 0]
 * argmax(tensor([[1, 5], [7, 2]]), 1, { keepdim: true }); // [[1], [0]]
 * ```
 */
export function argmax(x: Tensor, axis?: number, keepdim?: boolean | KeepdimOptions): Tensor;
/**
 * Index of the maximum, with the axis in an options object.
 *
 * @example
 * ```ts
 * argmax(tensor([[1, 5], [7, 2]]), { axis: 0 }); // [1, 0]
 * ```
 */
export function argmax(x: Tensor, options: ArgReduceOptions): Tensor;
export function argmax(x: Tensor, axisOrOptions?: number | ArgReduceOptions, keepdim?: boolean | KeepdimOptions): Tensor {
  return argExtreme('argmax', x, axisOrOptions, keepdim);
}

/**
 * Index of the minimum along `axis` (of the flattened tensor when omitted), int32.
 *
 * @example
 * ```ts
 * argmin(tensor([[1, 5], [7, 2]]), 1); // [0, 1]
 * ```
 */
export function argmin(x: Tensor, axis?: number, keepdim?: boolean | KeepdimOptions): Tensor;
/**
 * Index of the minimum, with the axis in an options object.
 *
 * @example
 * ```ts
 * argmin(tensor([[1, 5], [7, 2]]), { axis: 0, keepdim: true }); // [[0, 1]]
 * ```
 */
export function argmin(x: Tensor, options: ArgReduceOptions): Tensor;
export function argmin(x: Tensor, axisOrOptions?: number | ArgReduceOptions, keepdim?: boolean | KeepdimOptions): Tensor {
  return argExtreme('argmin', x, axisOrOptions, keepdim);
}

function varianceOf(x: Tensor, first: unknown, second: unknown): Tensor {
  commonBackend('var', [x]);
  const { axes, keepdim, options } = reduceArgs('var', x, first, second, VARIANCE_KEYS, CORRECTION_KEYS);
  const correction = options.correction === undefined ? 1 : checkNumber('var', 'correction', options.correction);
  const n = sizeOf(axes.map((a) => x.shape[a]));
  const m = meanAxes(x, axes, true);
  const d = binary('sub', x, m);
  const sq = unary('square', d);
  const s = sumAxes(sq, axes, keepdim);
  const out = binary('div', s, Math.max(0, n - correction));
  for (const t of [m, d, sq, s]) t.dispose();
  return out;
}

/**
 * Variance over axes (`correction` 1 by default, like torch.var). The axis may come first:
 * `variance(x, -1, { correction: 0 })`.
 *
 * @example
 * ```ts
 * variance(tensor([1, 2, 3, 4])); // 1.6667
 * ```
 */
export function variance(x: Tensor, options?: VarianceOptions): Tensor;
/**
 * Variance over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * variance(tensor([[1, 2], [3, 5]]), 1, { correction: 0 }); // [0.25, 1]
 * ```
 */
export function variance(x: Tensor, axis: AxisArg, options?: CorrectionOptions): Tensor;
export function variance(x: Tensor, axisOrOptions?: AxisArg | VarianceOptions, options?: CorrectionOptions): Tensor {
  return varianceOf(x, axisOrOptions, options);
}

/**
 * Standard deviation over axes (`correction` 1 by default, like torch.std). The axis may
 * come first: `std(x, -1)`.
 *
 * @example
 * ```ts
 * std(tensor([1, 2, 3, 4])); // 1.291
 * ```
 */
export function std(x: Tensor, options?: VarianceOptions): Tensor;
/**
 * Standard deviation over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * std(tensor([[1, 3], [2, 6]]), 1, { correction: 0 }); // [1, 2]
 * ```
 */
export function std(x: Tensor, axis: AxisArg, options?: CorrectionOptions): Tensor;
export function std(x: Tensor, axisOrOptions?: AxisArg | VarianceOptions, options?: CorrectionOptions): Tensor {
  const v = varianceOf(x, axisOrOptions, options);
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
 * The axis may come first: `logsumexp(x, -1)`.
 *
 * @example
 * ```ts
 * logsumexp(tensor([0, 0]), { axis: 0 }); // log(2)
 * ```
 */
export function logsumexp(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * `log(sum(exp(x)))` over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * logsumexp(tensor([[0, 0], [1, 1]]), -1); // [0.693, 1.693]
 * ```
 */
export function logsumexp(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function logsumexp(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  commonBackend('logsumexp', [x]);
  const { axes, keepdim } = reduceArgs('logsumexp', x, axisOrOptions, options, REDUCE_KEYS, KEEPDIM_KEYS);
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
  const s = sumAxes(e, axes, true);
  const l = unary('log', s);
  const full = binary('add', l, shift);
  const out = keepdim ? full : reshape(full, x.shape.filter((_, i) => !axes.includes(i)));
  for (const t of [shift, shifted, e, s, l]) t.dispose();
  if (out !== full) full.dispose();
  return out;
}

function countTrue(op: string, x: Tensor, first: unknown, second: unknown): { count: Tensor; total: number } {
  commonBackend(op, [x]);
  const { axes, keepdim } = reduceArgs(op, x, first, second, REDUCE_KEYS, KEEPDIM_KEYS);
  const nz = x.dtype === 'bool' ? x : binary('ne', x, 0);
  const count = rawReduce('sum', nz, axes, keepdim, 'int32');
  if (nz !== x) nz.dispose();
  return { count, total: sizeOf(axes.map((a) => x.shape[a])) };
}

/**
 * Whether any element is true (nonzero) over axes (bool result; false for empty input).
 * The axis may come first: `any(mask, -1)`.
 *
 * @example
 * ```ts
 * any(tensor([0, 1])); // true
 * ```
 */
export function any(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * Whether any element is true over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * any(tensor([[true, false], [false, false]]), 1); // [true, false]
 * ```
 */
export function any(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function any(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  const { count } = countTrue('any', x, axisOrOptions, options);
  const out = binary('gt', count, 0);
  count.dispose();
  return out;
}

/**
 * Whether all elements are true (nonzero) over axes (bool result; true for empty input).
 * The axis may come first: `all(mask, 0)`.
 *
 * @example
 * ```ts
 * all(tensor([0, 1])); // false
 * ```
 */
export function all(x: Tensor, options?: ReduceOptions): Tensor;
/**
 * Whether all elements are true over `axis` (one axis or a list).
 *
 * @example
 * ```ts
 * all(tensor([[true, false], [true, true]]), 1); // [false, true]
 * ```
 */
export function all(x: Tensor, axis: AxisArg, options?: KeepdimOptions): Tensor;
export function all(x: Tensor, axisOrOptions?: AxisArg | ReduceOptions, options?: KeepdimOptions): Tensor {
  const { count, total } = countTrue('all', x, axisOrOptions, options);
  const out = binary('eq', count, total);
  count.dispose();
  return out;
}
