// SPDX-License-Identifier: MIT
// Reshuffling and masking composites (PyTorch semantics): flip, roll, repeat, tile, tril,
// triu, maskedFill and diff. Each is built from differentiable core ops (indexSelect,
// narrow/concat, expand/reshape, where, sub), so gradients need no rule of their own and
// every backend runs them with its primitives.
import type { Backend } from '../backend.js';
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import { Tensor } from '../tensor.js';
import { checkAxis, checkInt, checkNumel, checkOptions, checkStorable, describeValue, type OptionKeys } from '../validate.js';
import { commonBackend, fromData, scalarTensor } from './operands.js';
import { binary, cast, clone, where } from './elementwise.js';
import { indexSelect } from './indexing.js';
import { concat } from './join.js';
import { expand, narrow, reshape } from './views.js';
import { runKernel } from '../kernel-dispatch.js';

/** @internal A 1-D int32 tensor `[start, start + step, ...]` of length `n` on `backend` (no gradient). */
export function iota(backend: Backend, n: number, start = 0, step = 1): Tensor {
  const values = new Int32Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return fromData(backend, runKernel(backend, 'upload', values, 'int32'), [n], 'int32');
}

/** An integer or a list of integers, as a list (checked). */
function intList(op: string, name: string, value: unknown): number[] {
  const list: unknown[] = typeof value === 'number' ? [value] : Array.isArray(value) ? value : [value];
  if (typeof value !== 'number' && !Array.isArray(value)) {
    throw new HeedError(op, `${name} must be an integer or an array of integers, got ${describeValue(value)}.`);
  }
  return list.map((v, i) => checkInt(op, Array.isArray(value) ? `${name}[${i}]` : name, v));
}

/**
 * Reverses the order of elements along the given axes (a copy, like torch.flip).
 *
 * @example
 * ```ts
 * flip(tensor([[1, 2], [3, 4]]), 1); // [[2, 1], [4, 3]]
 * flip(x, [0, 1]);
 * ```
 */
export function flip(x: Tensor, dims: number | readonly number[]): Tensor {
  commonBackend('flip', [x]);
  const list = intList('flip', 'dims', dims).map((d) => checkAxis('flip', d, Math.max(x.rank, 1), 'dims'));
  if (new Set(list).size !== list.length) throw new HeedError('flip', `dims [${list.join(', ')}] repeats an axis.`);
  let out = clone(x);
  for (const a of list) {
    const n = x.rank === 0 ? 1 : x.shape[a];
    if (n <= 1) continue;
    const idx = iota(x.backend, n, n - 1, -1);
    const next = indexSelect(out, a, idx);
    idx.dispose();
    out.dispose();
    out = next;
  }
  return out;
}

/**
 * Rolls elements along axes: element `i` moves to `i + shift` (wrapping around). Without
 * `dims` the tensor is flattened, rolled, and reshaped back (like torch.roll).
 *
 * @example
 * ```ts
 * roll(tensor([1, 2, 3, 4]), 1); // [4, 1, 2, 3]
 * roll(x, [1, -1], [0, 1]);
 * ```
 */
export function roll(x: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
  commonBackend('roll', [x]);
  const s = intList('roll', 'shifts', shifts);
  if (dims === undefined || dims === null) {
    if (s.length !== 1) throw new HeedError('roll', `without dims, shifts must be one integer, got [${s.join(', ')}].`);
    const flat = reshape(x, [x.size]);
    const rolled = rollAxis(flat, s[0], 0);
    flat.dispose();
    const out = reshape(rolled, x.shape);
    rolled.dispose();
    return out;
  }
  const d = intList('roll', 'dims', dims).map((a) => checkAxis('roll', a, x.rank, 'dims'));
  if (d.length !== s.length) {
    throw new HeedError('roll', `shifts [${s.join(', ')}] and dims [${d.join(', ')}] must have the same length.`);
  }
  let out = clone(x);
  d.forEach((a, i) => {
    const next = rollAxis(out, s[i], a);
    out.dispose();
    out = next;
  });
  return out;
}

/** Rolls one axis: the last `shift` entries (mod n) move to the front. */
function rollAxis(x: Tensor, shift: number, axis: number): Tensor {
  const n = x.shape[axis];
  const k = n === 0 ? 0 : ((shift % n) + n) % n;
  if (k === 0) return clone(x);
  const tail = narrow(x, axis, n - k, k);
  const head = narrow(x, axis, 0, n - k);
  const out = concat([tail, head], axis);
  tail.dispose();
  head.dispose();
  return out;
}

/**
 * Repeats the tensor along each axis `repeats[i]` times (torch.Tensor.repeat): `repeats` must
 * have at least `x.rank` entries; extra leading entries add new leading axes.
 *
 * @example
 * ```ts
 * repeat(tensor([1, 2]), [2, 2]); // [[1, 2, 1, 2], [1, 2, 1, 2]]
 * ```
 */
export function repeat(x: Tensor, repeats: readonly number[]): Tensor {
  commonBackend('repeat', [x]);
  if (!Array.isArray(repeats)) throw new HeedError('repeat', `repeats must be an array of non-negative integers, got ${describeValue(repeats)}.`);
  const reps = repeats.map((r: unknown, i) => checkInt('repeat', `repeats[${i}]`, r, { min: 0 }));
  if (reps.length < x.rank) {
    throw new HeedError('repeat', `repeats [${reps.join(', ')}] has ${reps.length} entries, fewer than the rank ${x.rank} of ${fmtShape(x.shape)}; ` +
      'give one per axis (or use tile, which pads with 1s).');
  }
  const padded = [...new Array<number>(reps.length - x.rank).fill(1), ...x.shape];
  const target = padded.map((d, i) => d * reps[i]);
  checkNumel('repeat', target);
  // [p0, p1, ...] -> [1, p0, 1, p1, ...] -> expand to [r0, p0, r1, p1, ...] -> [r0*p0, r1*p1, ...]
  const interleaved = padded.flatMap((d) => [1, d]);
  const base = reshape(x, interleaved);
  const big = expand(base, padded.flatMap((d, i) => [reps[i], d]));
  const out = reshape(big, target);
  base.dispose();
  big.dispose();
  return out;
}

/**
 * Tiles the tensor (torch.tile): like {@link repeat}, but `reps` shorter than the rank is
 * padded with leading 1s.
 *
 * @example
 * ```ts
 * tile(tensor([[1, 2]]), [2]); // [[1, 2, 1, 2]]
 * ```
 */
export function tile(x: Tensor, reps: readonly number[]): Tensor {
  commonBackend('tile', [x]);
  if (!Array.isArray(reps)) throw new HeedError('tile', `reps must be an array of non-negative integers, got ${describeValue(reps)}.`);
  const list = reps.map((r: unknown, i) => checkInt('tile', `reps[${i}]`, r, { min: 0 }));
  return repeat(x, [...new Array<number>(Math.max(0, x.rank - list.length)).fill(1), ...list]);
}

/** Keeps the elements of the last two axes with `col - row` on the kept side of `diagonal`. */
function triangle(op: 'tril' | 'triu', x: Tensor, diagonal: number): Tensor {
  commonBackend(op, [x]);
  checkInt(op, 'diagonal', diagonal);
  if (x.rank < 2) throw new HeedError(op, `expects a tensor with at least 2 dims, got ${fmtShape(x.shape)}.`);
  const [m, n] = x.shape.slice(-2);
  const rows = iota(x.backend, m);
  const cols = iota(x.backend, n);
  const rowCol = reshape(rows, [m, 1]);
  const offset = binary('sub', cols, rowCol); // [m, n]: col - row
  const keep = binary(op === 'tril' ? 'le' : 'ge', offset, diagonal);
  const zero = scalarTensor(x.backend, 0, x.dtype);
  const out = where(keep, x, zero);
  for (const t of [rows, cols, rowCol, offset, keep, zero]) t.dispose();
  return out;
}

/**
 * The lower triangle of the last two axes (torch.tril): elements with `col - row <= diagonal`
 * are kept, the rest set to 0. Batched over leading axes.
 *
 * @example
 * ```ts
 * tril(ones([3, 3])); // [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
 * tril(x, -1); // strictly below the diagonal
 * ```
 */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return triangle('tril', x, diagonal);
}

/**
 * The upper triangle of the last two axes (torch.triu): elements with `col - row >= diagonal`
 * are kept, the rest set to 0. Batched over leading axes.
 *
 * @example
 * ```ts
 * triu(ones([3, 3]), 1); // [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
 * ```
 */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return triangle('triu', x, diagonal);
}

/**
 * `x` with `value` where the bool `mask` (broadcastable to `x`'s shape) is true (a new
 * tensor, like torch.Tensor.masked_fill). `value` is a number or a 0-d tensor (which then
 * receives the gradient of the filled positions); the result keeps `x`'s dtype.
 *
 * @example
 * ```ts
 * maskedFill(scores, causalMask.logicalNot(), -Infinity);
 * ```
 */
export function maskedFill(x: Tensor, mask: Tensor, value: number | Tensor): Tensor {
  const backend = commonBackend('maskedFill', [x, mask, ...(value instanceof Tensor ? [value] : [])]);
  if (mask.dtype !== 'bool') {
    throw new HeedError('maskedFill', `mask must be bool, got ${mask.dtype} (shape ${fmtShape(mask.shape)}); compare first, e.g. x.eq(0).`);
  }
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  if (shape.length !== x.rank || shape.some((d, i) => d !== x.shape[i])) {
    throw new HeedError('maskedFill', `mask ${fmtShape(mask.shape)} must broadcast to the shape of x ${fmtShape(x.shape)}.`);
  }
  let fill: Tensor;
  if (value instanceof Tensor) {
    if (value.rank !== 0) {
      throw new HeedError('maskedFill', `value must be a number or a 0-d tensor, got a tensor of shape ${fmtShape(value.shape)}.`);
    }
    fill = value.dtype === x.dtype ? value : cast(value, x.dtype);
  } else {
    if (typeof value !== 'number') throw new HeedError('maskedFill', `value must be a number or a 0-d tensor, got ${describeValue(value)}.`);
    if (x.dtype === 'int32' && !Number.isInteger(value)) {
      throw new HeedError('maskedFill', `value ${value} is not an integer but x is int32; cast x with .float() first.`);
    }
    checkStorable('maskedFill', 'value', value, x.dtype);
    fill = scalarTensor(backend, x.dtype === 'bool' ? Number(value !== 0) : value, x.dtype); // bool: value != 0
  }
  const out = where(mask, fill, x);
  if (fill !== value) fill.dispose();
  return out;
}

/**
 * Options of {@link diff}.
 *
 * @example
 * ```ts
 * const o: DiffOptions = { n: 2, axis: 0, prepend: zeros([1, 3]) };
 * ```
 */
export interface DiffOptions {
  /** How many times to take differences (default 1). */
  n?: number;
  /** The axis (default -1). */
  axis?: number;
  /** Values put before `x` along the axis first (same shape except along the axis). */
  prepend?: Tensor;
  /** Values put after `x` along the axis first (same shape except along the axis). */
  append?: Tensor;
}

const DIFF_KEYS: OptionKeys<DiffOptions> = { n: true, axis: true, prepend: true, append: true };

/**
 * The `n`-th forward difference along an axis, `out[i] = x[i + 1] - x[i]` (torch.diff); bool
 * tensors use `!=` (logical xor) like PyTorch.
 *
 * @example
 * ```ts
 * diff(tensor([1, 4, 9, 16])); // [3, 5, 7]
 * diff(tensor([1, 4, 9, 16]), { n: 2 }); // [2, 2]
 * ```
 */
export function diff(x: Tensor, options?: DiffOptions): Tensor {
  const o = checkOptions('diff', options, DIFF_KEYS);
  const extras = [o.prepend, o.append].filter((t): t is Tensor => t !== undefined && t !== null);
  commonBackend('diff', [x, ...extras]);
  const n = checkInt('diff', 'n', o.n ?? 1, { min: 0 });
  if (x.rank === 0) throw new HeedError('diff', 'expects a tensor with at least 1 dim, got a 0-d tensor.');
  const a = checkAxis('diff', o.axis ?? -1, x.rank);
  for (const [name, t] of [['prepend', o.prepend], ['append', o.append]] as const) {
    if (t === undefined || t === null) continue;
    if (t.rank !== x.rank || t.shape.some((d, i) => i !== a && d !== x.shape[i])) {
      throw new HeedError('diff', `${name} ${fmtShape(t.shape)} must have the shape of x ${fmtShape(x.shape)} except along axis ${a}.`);
    }
  }
  const parts = [o.prepend, x, o.append].filter((t): t is Tensor => t !== undefined && t !== null);
  let cur = parts.length > 1 ? concat(parts, a) : clone(x);
  for (let k = 0; k < n && cur.shape[a] > 0; k++) {
    const len = cur.shape[a] - 1;
    const hi = narrow(cur, a, 1, len);
    const lo = narrow(cur, a, 0, len);
    const next = binary(cur.dtype === 'bool' ? 'ne' : 'sub', hi, lo);
    for (const t of [hi, lo, cur]) t.dispose();
    cur = next;
  }
  return cur;
}
