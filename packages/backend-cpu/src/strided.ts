// SPDX-License-Identifier: MIT
// The CPU kernels' strided-copy building blocks over core's layout helpers (StridedWalker,
// contiguousStrides, ... from @heed/core, the one source for every backend): copying a strided
// view between TypedArrays run by run, and pinning one axis's stride (gather/scatter).
// Invariant: no per-element calls or allocations; contiguous runs of one element type use
// TypedArray.set.
import { StridedWalker } from '@heed/core';
import type { NumArray } from './storage.js';

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
