// SPDX-License-Identifier: MIT
// Strided iteration shared by every kernel. A StridedWalker visits the elements of a shape in
// row-major order for up to three operands at once, as "runs": each run is `n` elements along
// the innermost (collapsed) dimension, where operand k starts at `pk` and steps by `sk`.
// Kernels loop over runs and do their per-element work in a plain for-loop, so there are no
// per-element calls or allocations. Invariants:
// - dimensions of size 1 are dropped and adjacent dimensions that are contiguous for every
//   operand are merged, so same-layout contiguous views become a single run of all elements;
// - after `rows` calls to `next()` the walker is back at the first run;
// - a zero-size shape has `rows === 0`, so kernels do no work.
import type { NumArray } from './storage.js';

/**
 * Number of elements of `shape` (1 for a scalar `[]`, 0 when any dimension is 0).
 *
 * @example
 * ```ts
 * sizeOf([2, 3]); // 6
 * sizeOf([]); // 1
 * ```
 */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/**
 * Row-major strides of a contiguous buffer of `shape`.
 *
 * @example
 * ```ts
 * rowMajorStrides([2, 3, 4]); // [12, 4, 1]
 * ```
 */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * The multi-index of flat row-major position `flat` in `shape` (for error messages).
 *
 * @example
 * ```ts
 * unravel(5, [2, 3]); // [1, 2]
 * ```
 */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    if (d > 0) {
      idx[i] = flat % d;
      flat = Math.floor(flat / d);
    }
  }
  return idx;
}

/**
 * `strides` with the entry at `axis` replaced by `value` (e.g. 0 to pin an axis).
 *
 * @example
 * ```ts
 * withStride([12, 4, 1], 1, 0); // [12, 0, 1]
 * ```
 */
export function withStride(strides: readonly number[], axis: number, value: number): number[] {
  const out = strides.slice();
  out[axis] = value;
  return out;
}

const NO_STRIDES: readonly number[] = [];

/**
 * Walks up to three strided operands over one shape, run by run (see the file comment).
 * Operands that are not given have stride 0 and offset 0.
 *
 * @example
 * ```ts
 * // out[i] = a[i] + b[i] over any views a, b of one shape
 * const w = new StridedWalker(shape, a.strides, a.offset, b.strides, b.offset);
 * let o = 0;
 * for (let r = 0; r < w.rows; r++, w.next()) {
 *   let pa = w.p0, pb = w.p1;
 *   for (let j = 0; j < w.n; j++, pa += w.s0, pb += w.s1) out[o++] = A[pa] + B[pb];
 * }
 * ```
 */
export class StridedWalker {
  /** Elements per run (the innermost collapsed dimension). */
  readonly n: number;
  /** Number of runs; 0 for a zero-size shape. */
  readonly rows: number;
  /** Inner strides of operands 0, 1, 2. */
  readonly s0: number;
  readonly s1: number;
  readonly s2: number;
  /** Start offsets of the current run for operands 0, 1, 2. */
  p0: number;
  p1: number;
  p2: number;
  private readonly dims: number[];
  private readonly t0: number[];
  private readonly t1: number[];
  private readonly t2: number[];
  private readonly count: number[];

  constructor(
    shape: readonly number[],
    strides0: readonly number[], offset0: number,
    strides1: readonly number[] = NO_STRIDES, offset1 = 0,
    strides2: readonly number[] = NO_STRIDES, offset2 = 0,
  ) {
    const dims: number[] = [];
    const t0: number[] = [];
    const t1: number[] = [];
    const t2: number[] = [];
    let size = 1;
    for (let d = 0; d < shape.length; d++) {
      const len = shape[d];
      size *= len;
      if (len === 1) continue;
      const a = strides0[d] ?? 0;
      const b = strides1[d] ?? 0;
      const c = strides2[d] ?? 0;
      const k = dims.length - 1;
      if (k >= 0 && t0[k] === a * len && t1[k] === b * len && t2[k] === c * len) {
        dims[k] *= len;
        t0[k] = a;
        t1[k] = b;
        t2[k] = c;
      } else {
        dims.push(len);
        t0.push(a);
        t1.push(b);
        t2.push(c);
      }
    }
    this.p0 = offset0;
    this.p1 = offset1;
    this.p2 = offset2;
    if (size === 0) {
      this.n = 0;
      this.rows = 0;
      this.s0 = this.s1 = this.s2 = 0;
    } else if (dims.length === 0) {
      this.n = 1;
      this.rows = 1;
      this.s0 = this.s1 = this.s2 = 0;
    } else {
      this.n = dims.pop() as number;
      this.s0 = t0.pop() as number;
      this.s1 = t1.pop() as number;
      this.s2 = t2.pop() as number;
      this.rows = size / this.n;
    }
    this.dims = dims;
    this.t0 = t0;
    this.t1 = t1;
    this.t2 = t2;
    this.count = new Array<number>(dims.length).fill(0);
  }

  /** Moves to the next run (wrapping to the first after the last). */
  next(): void {
    const { dims, count, t0, t1, t2 } = this;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++count[d] < dims[d]) {
        this.p0 += t0[d];
        this.p1 += t1[d];
        this.p2 += t2[d];
        return;
      }
      const back = dims[d] - 1;
      count[d] = 0;
      this.p0 -= t0[d] * back;
      this.p1 -= t1[d] * back;
      this.p2 -= t2[d] * back;
    }
  }
}

/**
 * Copies the strided `src` view of `shape` into `dst` laid out with `dstStrides` from
 * `dstOffset` (same element type; contiguous runs use `TypedArray.set`).
 *
 * @example
 * ```ts
 * // transpose a 2x3 buffer into a contiguous 3x2 one
 * copyStrided(out, [2, 1], 0, src, [1, 3], 0, [3, 2]);
 * ```
 */
export function copyStrided(
  dst: NumArray, dstStrides: readonly number[], dstOffset: number,
  src: NumArray, srcStrides: readonly number[], srcOffset: number,
  shape: readonly number[],
): void {
  const w = new StridedWalker(shape, dstStrides, dstOffset, srcStrides, srcOffset);
  const n = w.n;
  const sd = w.s0;
  const ss = w.s1;
  const bulk = sd === 1 && ss === 1 && n >= 16 && Object.getPrototypeOf(dst) === Object.getPrototypeOf(src);
  for (let r = 0; r < w.rows; r++, w.next()) {
    let pd = w.p0;
    let ps = w.p1;
    if (bulk) {
      dst.set(src.subarray(ps, ps + n), pd);
    } else {
      for (let j = 0; j < n; j++, pd += sd, ps += ss) dst[pd] = src[ps];
    }
  }
}
