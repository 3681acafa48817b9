// SPDX-License-Identifier: MIT
// Zero-copy view ops: reshape (copies only when the layout forbids a view), permute,
// transpose, expand, slice/narrow/select, squeeze/unsqueeze, flatten, contiguous.
// Every view shares its input's storage; gradients are recorded as view ops.
import { checkBufferLimit } from '../backend.js';
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, inferShape, isContiguous, sizeOf, viewStrides } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { record } from '../autograd/record.js';
import { checkAxis, checkInt, checkShape, describeValue } from '../validate.js';
import { commonBackend, fromData, makeView } from './operands.js';
import { runKernel } from '../kernel-dispatch.js';

/**
 * Returns a tensor with the same values in a new shape (one entry may be -1). A view when
 * the memory layout allows it, otherwise a copy.
 *
 * @example
 * ```ts
 * reshape(arange(6), [2, -1]).shape; // [2, 3]
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  commonBackend('reshape', [x]);
  const target = inferShape(checkTarget('reshape', shape), x.size, 'reshape');
  const strides = viewStrides(x.shape, x.strides, target);
  if (!strides) checkBufferLimit(x.backend, 'reshape', target, x.dtype); // copying an expanded view can grow
  const out = strides
    ? makeView(x, target, strides, x.offset)
    : fromData(x.backend, runKernel(x.backend, 'copy', x.stridedView('reshape')), target, x.dtype);
  return record('reshape', [x], out, {});
}

/** Checks a target shape of reshape/expand: an array of integers >= -1 (-1 = infer/keep). */
function checkTarget(op: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) {
    throw new HeedError(op, `shape must be an array of integers (e.g. [2, -1]), got ${describeValue(shape)}.`);
  }
  shape.forEach((d: unknown, i) => {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < -1) {
      throw new HeedError(op, `invalid shape ${describeValue(shape)}: dimension ${i} is ${describeValue(d)}; ` +
        'every dimension must be a non-negative integer (or -1).');
    }
  });
  return [...(shape as number[])];
}

/**
 * Flattens dimensions `startDim..endDim` into one.
 *
 * @example
 * ```ts
 * flatten(zeros([2, 3, 4]), 1).shape; // [2, 12]
 * ```
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  commonBackend('flatten', [x]);
  const s = checkAxis('flatten', startDim, x.rank, 'startDim');
  const e = checkAxis('flatten', endDim, x.rank, 'endDim');
  if (x.rank === 0) return reshape(x, [1]);
  if (s > e) throw new HeedError('flatten', `startDim ${startDim} comes after endDim ${endDim}.`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/**
 * Reorders dimensions (a view).
 *
 * @example
 * ```ts
 * permute(zeros([2, 3, 4]), [2, 0, 1]).shape; // [4, 2, 3]
 * ```
 */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  commonBackend('permute', [x]);
  if (!Array.isArray(perm)) throw new HeedError('permute', `perm must be an array of axes, got ${describeValue(perm)}.`);
  if (perm.length !== x.rank) {
    throw new HeedError('permute', `perm [${perm.join(', ')}] has ${perm.length} entries but the tensor ${fmtShape(x.shape)} has rank ${x.rank}.`);
  }
  const p = perm.map((a: unknown) => checkAxis('permute', a, x.rank));
  if (new Set(p).size !== p.length) throw new HeedError('permute', `perm [${perm.join(', ')}] repeats an axis; it must be a permutation.`);
  const out = makeView(x, p.map((a) => x.shape[a]), p.map((a) => x.strides[a]), x.offset);
  return record('permute', [x], out, { perm: p });
}

/**
 * Swaps two dimensions (default: the last two) — a view.
 *
 * @example
 * ```ts
 * transpose(zeros([2, 3])).shape; // [3, 2]
 * ```
 */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  commonBackend('transpose', [x]);
  if (x.rank < 2 && dim0 === -2 && dim1 === -1) return reshape(x, x.shape);
  const a = checkAxis('transpose', dim0, x.rank, 'dim0');
  const b = checkAxis('transpose', dim1, x.rank, 'dim1');
  const perm = Array.from({ length: x.rank }, (_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/**
 * Broadcasts to a larger shape without copying (-1 keeps a dimension).
 *
 * @example
 * ```ts
 * expand(tensor([1, 2]), [3, 2]).shape; // [3, 2]
 * ```
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  commonBackend('expand', [x]);
  const lead = checkTarget('expand', shape).length - x.rank;
  if (lead < 0) throw new HeedError('expand', `cannot expand ${fmtShape(x.shape)} to fewer dimensions ${fmtShape(shape)}.`);
  const target = checkShape('expand', shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d)), 'target shape');
  const result = broadcastShapes('expand', x.shape, target);
  if (result.some((d, i) => d !== target[i])) {
    throw new HeedError('expand', `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}; only size-1 dims can grow.`);
  }
  const out = makeView(x, target, broadcastStrides(x.shape, x.strides, target), x.offset);
  return record('expand', [x], out, {});
}

/**
 * One range per leading dimension for {@link slice}: `[start, end, step]`, `[start, end]`,
 * or `null` for the whole dimension. Negative start/end count from the end.
 *
 * @example
 * ```ts
 * const r: SliceRange = [0, -1, 2];
 * ```
 */
export type SliceRange = readonly [number, number?, number?] | null;

/**
 * Takes a strided sub-block (a view). Ranges are clamped like Python slicing; step > 0.
 *
 * @example
 * ```ts
 * slice(arange(10), [[2, 8, 2]]); // [2, 4, 6]
 * slice(x, [null, [0, 1]]); // all rows, first column
 * ```
 */
export function slice(x: Tensor, ranges: readonly SliceRange[]): Tensor {
  commonBackend('slice', [x]);
  if (!Array.isArray(ranges)) {
    throw new HeedError('slice', `ranges must be an array with one [start, end?, step?] or null per leading dimension, got ${describeValue(ranges)}.`);
  }
  if (ranges.length > x.rank) {
    throw new HeedError('slice', `got ${ranges.length} ranges for a tensor of rank ${x.rank} ${fmtShape(x.shape)}.`);
  }
  const shape = [...x.shape];
  const strides = [...x.strides];
  const starts = new Array<number>(x.rank).fill(0);
  const steps = new Array<number>(x.rank).fill(1);
  let offset = x.offset;
  ranges.forEach((r, axis) => {
    if (r === null || r === undefined) return;
    if (!Array.isArray(r) || r.length > 3) {
      throw new HeedError('slice', `the range of axis ${axis} must be null or [start, end?, step?], got ${describeValue(r)}.`);
    }
    const dim = x.shape[axis];
    const step = r[2] ?? 1;
    if (!Number.isInteger(step) || step <= 0) throw new HeedError('slice', `step must be a positive integer, got ${describeValue(step)} on axis ${axis}.`);
    for (const [name, v] of [['start', r[0]], ['end', r[1]]] as const) {
      if (v !== undefined && v !== null) checkInt('slice', `${name} of axis ${axis}`, v);
    }
    const clampIndex = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const start = clampIndex(r[0] ?? 0);
    const end = clampIndex(r[1] ?? dim);
    const len = Math.max(0, Math.ceil((end - start) / step));
    shape[axis] = len;
    strides[axis] = x.strides[axis] * step;
    starts[axis] = start;
    steps[axis] = step;
    if (len > 0) offset += start * x.strides[axis];
  });
  const out = makeView(x, shape, strides, offset);
  return record('slice', [x], out, { starts, steps });
}

/**
 * `length` entries of dimension `axis` starting at `start` (a view).
 *
 * @example
 * ```ts
 * narrow(zeros([4, 5]), 1, 1, 3).shape; // [4, 3]
 * ```
 */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  commonBackend('narrow', [x]);
  const a = checkAxis('narrow', axis, x.rank);
  const dim = x.shape[a];
  const s = start < 0 ? start + dim : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > dim) {
    throw new HeedError('narrow', `range start=${start}, length=${length} does not fit axis ${axis} of size ${dim} (shape ${fmtShape(x.shape)}).`);
  }
  const ranges: [number, number][] = x.shape.map((d) => [0, d]);
  ranges[a] = [s, s + length];
  return slice(x, ranges);
}

/**
 * Picks index `index` of dimension `axis`, removing that dimension (a view).
 *
 * @example
 * ```ts
 * select(zeros([4, 5]), 0, 2).shape; // [5]
 * ```
 */
export function select(x: Tensor, axis: number, index: number): Tensor {
  commonBackend('select', [x]);
  const a = checkAxis('select', axis, x.rank);
  const dim = x.shape[a];
  if (!Number.isInteger(index) || index < -dim || index >= dim) {
    throw new HeedError('select', `index ${index} is out of range for axis ${axis} of size ${dim} (shape ${fmtShape(x.shape)}).`);
  }
  const picked = narrow(x, a, index < 0 ? index + dim : index, 1);
  const out = squeeze(picked, a);
  picked.dispose();
  return out;
}

/**
 * Removes size-1 dimensions (all of them, or the given axes).
 *
 * @example
 * ```ts
 * squeeze(zeros([1, 3, 1])).shape; // [3]
 * ```
 */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  commonBackend('squeeze', [x]);
  if (axes !== undefined && typeof axes !== 'number' && !Array.isArray(axes)) {
    throw new HeedError('squeeze', `axes must be an integer or an array of integers, got ${describeValue(axes)}.`);
  }
  const list = axes === undefined ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
    : (typeof axes === 'number' ? [axes] : axes).map((a: unknown) => checkAxis('squeeze', a, x.rank));
  const shape = x.shape.filter((d, i) => !(list.includes(i) && d === 1));
  return reshape(x, shape);
}

/**
 * Inserts a size-1 dimension at `axis`.
 *
 * @example
 * ```ts
 * unsqueeze(zeros([3]), 0).shape; // [1, 3]
 * ```
 */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  commonBackend('unsqueeze', [x]);
  const a = checkAxis('unsqueeze', axis, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/**
 * A row-major copy if `x` is not already contiguous (else a view of the same data).
 *
 * @example
 * ```ts
 * contiguous(transpose(x)).isContiguous; // true
 * ```
 */
export function contiguous(x: Tensor): Tensor {
  commonBackend('contiguous', [x]);
  const plain = x.offset === 0 && isContiguous(x.shape, x.strides) && x.storage.size === x.size;
  if (!plain) checkBufferLimit(x.backend, 'contiguous', x.shape, x.dtype); // copying an expanded view can grow
  const out = plain
    ? makeView(x, x.shape, contiguousStrides(x.shape), 0)
    : fromData(x.backend, runKernel(x.backend, 'copy', x.stridedView('contiguous')), x.shape, x.dtype);
  return record('reshape', [x], out, {});
}
