// SPDX-License-Identifier: MIT
// Fused argsort and topk (core's FusedKernels) on TypedArrays: per row of the last axis,
// PyTorch's order (ascending or descending, NaN as the largest value, equal values in index
// order: the comparator breaks ties by index, so the result is stable whatever the engine's
// sort does). argsort sorts an index array; topk keeps the best k seen so far in a sorted
// buffer (insertion only when an element beats the current k-th: about n + k log(n/k) k
// steps on random data, O(n k) at worst), and falls back to a full sort when k is large.
// Both decline (null) for views that are not row-contiguous or dtypes other than float32/int32.
import { isContiguous, sizeOf, type DataId, type StridedView, type TypedArray } from '@heed/core';
import { arrayOf, wrap } from './storage.js';

/** Above this k / n a full sort is faster than the insertion buffer. */
const FULL_SORT_FRACTION = 1 / 16;

/** `before(a, b)`: whether position a comes before position b in the row starting at `base`. */
type Before = (a: number, b: number) => boolean;

function orderOf(values: TypedArray, base: number, descending: boolean): Before {
  const sign = descending ? -1 : 1;
  return (a, b) => {
    const va = values[base + a];
    const vb = values[base + b];
    const d = (va - vb) * sign;
    if (d < 0) return true;
    if (d > 0) return false;
    if (va === vb) return a < b; // equal (also +-0 and equal infinities): index order
    const na = va !== va;
    const nb = vb !== vb;
    if (na && nb) return a < b;
    // exactly one is NaN: NaN is the largest value
    return descending ? na : nb;
  };
}

/** The rows of a float32/int32 view contiguous along the last axis, or null. */
function rowsOf(x: StridedView, op: string): { values: TypedArray; n: number; rows: number } | null {
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return null;
  if (!isContiguous(x.shape, x.strides)) return null;
  const n = x.shape[x.shape.length - 1] ?? 1;
  const size = sizeOf(x.shape);
  return { values: arrayOf(x.data, op), n, rows: n === 0 ? 0 : size / n };
}

function sortRow(order: Before, out: Int32Array, start: number, n: number): void {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => (order(a, b) ? -1 : 1));
  out.set(idx, start);
}

/**
 * Stable argsort of each row (last axis): int32 indices of `x.shape`, or null to decline.
 *
 * @example
 * ```ts
 * const id = argsortKernel(view, false); // ascending, NaN last
 * ```
 */
export function argsortKernel(x: StridedView, descending: boolean): DataId | null {
  const r = rowsOf(x, 'argsort');
  if (r === null) return null;
  const out = new Int32Array(r.rows * r.n);
  for (let row = 0; row < r.rows; row++) sortRow(orderOf(r.values, x.offset + row * r.n, descending), out, row * r.n, r.n);
  return wrap(out, 'int32');
}

/**
 * The first `k` indices of each row's stable sort (the k largest when `largest`): int32
 * `[..., k]`, or null to decline.
 *
 * @example
 * ```ts
 * const id = topkKernel(logitsView, 50, true);
 * ```
 */
export function topkKernel(x: StridedView, k: number, largest: boolean): DataId | null {
  const r = rowsOf(x, 'topk');
  if (r === null || !(k >= 1 && k <= r.n)) return null;
  const { values, n, rows } = r;
  const out = new Int32Array(rows * k);
  const full = k > n * FULL_SORT_FRACTION ? new Int32Array(n) : null;
  const best = new Int32Array(k);
  for (let row = 0; row < rows; row++) {
    const order = orderOf(values, x.offset + row * n, largest);
    if (full) {
      sortRow(order, full, 0, n);
      out.set(full.subarray(0, k), row * k);
      continue;
    }
    let count = 0;
    for (let i = 0; i < n; i++) {
      if (count === k && !order(i, best[k - 1])) continue;
      // insert i into best[0..count) keeping the order; drop the last when full
      let j = count < k ? count++ : k - 1;
      while (j > 0 && order(i, best[j - 1])) {
        best[j] = best[j - 1];
        j--;
      }
      best[j] = i;
    }
    out.set(best, row * k);
  }
  return wrap(out, 'int32');
}
