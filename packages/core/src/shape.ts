// SPDX-License-Identifier: MIT
// Pure shape arithmetic: sizes, contiguous strides, axis normalisation, broadcasting and the
// stride rules that let reshape/permute/expand stay zero-copy. No tensors, no backends here.
// The one source of these helpers for core and every backend (exported for backend authors,
// with the iteration helpers of layout.ts); backends keep no copies of them.
import { HeedError, fmtShape } from './errors.js';

/**
 * A tensor shape: one non-negative integer per dimension; `[]` is a scalar.
 *
 * @example
 * ```ts
 * const s: Shape = [2, 3];
 * ```
 */
export type Shape = readonly number[];

/**
 * Number of elements of a shape (1 for a scalar).
 *
 * @example
 * ```ts
 * sizeOf([2, 3]); // 6
 * ```
 */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Row-major strides of a contiguous tensor of `shape`.
 *
 * @example
 * ```ts
 * contiguousStrides([2, 3, 4]); // [12, 4, 1]
 * ```
 */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Whether a view with these strides is laid out row-major without gaps (size-1 dims ignored),
 * i.e. element `i` of the view is at `offset + i`. The offset is not part of the question.
 *
 * @example
 * ```ts
 * isContiguous([2, 3], [3, 1]); // true
 * isContiguous([3, 2], [1, 3]); // false (a transpose)
 * isContiguous([2, 1, 3], [3, 99, 1]); // true (the size-1 dim never moves)
 * ```
 */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/**
 * Validates a user shape (non-negative integers) and returns a copy.
 *
 * @example
 * ```ts
 * checkShape([2, 3], 'zeros'); // [2, 3]
 * ```
 */
export function checkShape(shape: readonly number[], op: string): number[] {
  if (!Array.isArray(shape)) throw new HeedError(op, `shape must be an array of integers, got ${String(shape)}.`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new HeedError(op, `invalid shape ${fmtShape(shape)}: every dimension must be a non-negative integer.`);
    }
  }
  return [...shape];
}

/**
 * Maps a possibly negative axis to `[0, rank)`, or throws naming the op.
 *
 * @example
 * ```ts
 * normalizeAxis(-1, 3, 'sum'); // 2
 * ```
 */
export function normalizeAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis) || axis < -Math.max(rank, 1) || axis >= Math.max(rank, 1)) {
    throw new HeedError(op, `axis ${axis} is out of range for a tensor of rank ${rank}; ` +
      `use an axis in [${-Math.max(rank, 1)}, ${Math.max(rank, 1) - 1}].`);
  }
  return axis < 0 ? axis + Math.max(rank, 1) : axis;
}

/**
 * Normalises a list of axes (or all axes when `undefined`), sorted and without duplicates.
 *
 * @example
 * ```ts
 * normalizeAxes([-1, 0], 3, 'sum'); // [0, 2]
 * ```
 */
export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => normalizeAxis(a, rank, op));
  // A scalar has no real axis: axis 0 / -1 (accepted like PyTorch) reduce over nothing.
  if (rank === 0) return [];
  if (new Set(out).size !== out.length) {
    throw new HeedError(op, `axes [${list.join(', ')}] name the same dimension twice; list each axis once.`);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The broadcast shape of several shapes (NumPy/PyTorch rules), or throws naming the op.
 *
 * @example
 * ```ts
 * broadcastShapes('add', [2, 1, 3], [4, 1]); // [2, 4, 3]
 * ```
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i];
      if (out[o] === 1) out[o] = d;
      else if (d !== 1 && d !== out[o]) {
        throw new HeedError(op, `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together ` +
          `(dimension ${o - rank} is ${out[o]} vs ${d}); make the sizes equal or 1.`);
      }
    }
  }
  return out;
}

/**
 * Strides that view a tensor of (`shape`, `strides`) as broadcast to `target` (0 for new or
 * stretched dims). Assumes `shape` broadcasts to `target`.
 *
 * @example
 * ```ts
 * broadcastStrides([3], [1], [2, 3]); // [0, 1]
 * ```
 */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) {
    out[lead + i] = shape[i] === 1 && target[lead + i] !== 1 ? 0 : strides[i];
  }
  return out;
}

/**
 * The strides that reshape a strided view to `newShape` without copying, or `null` when the
 * memory layout does not allow it (then a copy is needed). Mirrors PyTorch's `computeStride`.
 *
 * @example
 * ```ts
 * viewStrides([2, 3], [3, 1], [6]); // [1]
 * viewStrides([3, 2], [1, 3], [6]); // null (a transpose cannot be flattened)
 * ```
 */
export function viewStrides(oldShape: Shape, oldStrides: readonly number[], newShape: Shape): number[] | null {
  if (sizeOf(oldShape) === 0) return contiguousStrides(newShape);
  const newStrides = new Array<number>(newShape.length).fill(0);
  let viewD = newShape.length - 1;
  let chunkBase = oldStrides[oldStrides.length - 1] ?? 1;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = oldShape.length - 1; d >= 0; d--) {
    tensorNumel *= oldShape[d];
    if (d === 0 || (oldShape[d - 1] !== 1 && oldStrides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStrides[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = oldStrides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return newStrides;
}

/**
 * Resolves one `-1` entry of a reshape target against `size`, or throws.
 *
 * @example
 * ```ts
 * inferShape([2, -1], 6, 'reshape'); // [2, 3]
 * ```
 */
export function inferShape(shape: readonly number[], size: number, op: string): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (out.indexOf(-1, unknown + 1) !== -1 && unknown !== -1) {
    throw new HeedError(op, `target shape ${fmtShape(shape)} has more than one -1; only one dimension can be inferred.`);
  }
  if (unknown !== -1) {
    const known = sizeOf(out.filter((_, i) => i !== unknown));
    if (known === 0 || size % known !== 0) {
      throw new HeedError(op, `cannot infer -1 in ${fmtShape(shape)} for ${size} elements.`);
    }
    out[unknown] = size / known;
  }
  checkShape(out, op);
  if (sizeOf(out) !== size) {
    throw new HeedError(op, `cannot reshape ${size} elements to ${fmtShape(shape)} (${sizeOf(out)} elements); ` +
      'the sizes must match.');
  }
  return out;
}
