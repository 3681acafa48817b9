// SPDX-License-Identifier: MIT
// Batched matrix product C[b] = A[b] @ B[b] for rank-3 strided views, in plain JS.
// Layout of the computation (per batch):
//   for each column block jc (NC columns) and depth block kc (KC rows of B):
//     pack B[kc.., jc..] into a contiguous Float64Array panel (this also absorbs any strides,
//     so transposed or broadcast B costs one strided read per element per block);
//     for each pair of rows of A: load the two C rows into a Float64Array accumulator, then
//     i-k-j with k unrolled by 4: acc[j] += a0*p0[j] + a1*p1[j] + a2*p2[j] + a3*p3[j],
//     and store the accumulator back into the float32 output.
// Invariants: inputs are read only through (offset, strides), so any layout works without a
// pre-copy; A is read with scalar loads (O(M*K*N/NC) of them), so its layout barely matters;
// accumulation is in float64 and each output element is rounded to float32 once per depth
// block; the panel (KC*NC doubles = 512 KiB) stays in L2, the two accumulator rows in L1.
import { HeedError, coalesceDims, type DataId, type StridedView } from '@heed/core';
import { arrayOf, wrap, type NumArray } from './storage.js';

/**
 * A rank-3 `[B1 * B2, rows, cols]` view of a rank-4 matmul operand `[B1, B2, rows, cols]`: the
 * same buffer when its two batch strides merge into one (`copied` null), else a contiguous
 * `copy` of it (`copied`, which the caller frees after use).
 *
 * @example
 * ```ts
 * const a3 = mergeBatchDims(a, (v) => backend.copy(v));
 * backend.matmul(a3.view, b3.view);
 * if (a3.copied !== null) backend.free(a3.copied);
 * ```
 */
export function mergeBatchDims(x: StridedView, copy: (v: StridedView) => DataId): { view: StridedView; copied: DataId | null } {
  const [b1, b2, rows, cols] = x.shape;
  const shape = [b1 * b2, rows, cols];
  const merged = coalesceDims([b1, b2], [x.strides.slice(0, 2)]);
  if (merged.shape.length <= 1) {
    const batchStride = merged.shape.length === 1 ? merged.strides[0][0] : 0;
    return { view: { ...x, shape, strides: [batchStride, x.strides[2], x.strides[3]] }, copied: null };
  }
  const data = copy(x);
  return { view: { data, dtype: x.dtype, shape, strides: [rows * cols, cols, 1], offset: 0 }, copied: data };
}

/** Depth (rows of B) per packed panel. */
const KC = 256;
/** Columns of B per packed panel. */
const NC = 256;

/**
 * Batched matrix product of `a: [B, M, K]` and `b: [B, K, N]` (any strides: 0 batch stride
 * broadcasts, swapped strides transpose). Returns a contiguous float32 `[B, M, N]` buffer.
 *
 * @example
 * ```ts
 * const a = { data: aId, dtype: 'float32', shape: [1, 2, 3], strides: [6, 3, 1], offset: 0 };
 * const b = { data: bId, dtype: 'float32', shape: [1, 3, 4], strides: [12, 4, 1], offset: 0 };
 * const c = matmulKernel(a, b); // float32 [1, 2, 4]
 * ```
 */
export function matmulKernel(a: StridedView, b: StridedView): DataId {
  if (a.shape.length !== 3 || b.shape.length !== 3) {
    throw new HeedError('matmul', `the cpu kernel expects rank-3 views [B, M, K] and [B, K, N], got [${a.shape.join(', ')}] and [${b.shape.join(', ')}].`);
  }
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  if (b.shape[0] !== batch || b.shape[1] !== k) {
    throw new HeedError('matmul', `shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not match as [B, M, K] @ [B, K, N].`);
  }
  const av = arrayOf(a.data, 'matmul');
  const bv = arrayOf(b.data, 'matmul');
  const out = new Float32Array(batch * m * n);
  if (out.length === 0 || k === 0) return wrap(out, 'float32');

  const panel = new Float64Array(Math.min(KC, k) * Math.min(NC, n));
  const acc = new Float64Array(2 * Math.min(NC, n));
  for (let bi = 0; bi < batch; bi++) {
    gemm(
      m, n, k,
      av, a.offset + bi * a.strides[0], a.strides[1], a.strides[2],
      bv, b.offset + bi * b.strides[0], b.strides[1], b.strides[2],
      out, bi * m * n, panel, acc,
    );
  }
  return wrap(out, 'float32');
}

/**
 * One product C = A @ B into `c` at `co` (row-major, ldc = n), using `panel` and `acc` scratch.
 * A element (i, p) is at `ao + i*am + p*ak`; B element (p, j) at `bo + p*bk + j*bn`.
 * The row-pair micro-kernel is written inline on purpose: as a separate function V8 does not
 * inline it and the loop runs about 25% slower.
 */
function gemm(
  m: number, n: number, k: number,
  a: NumArray, ao: number, am: number, ak: number,
  b: NumArray, bo: number, bk: number, bn: number,
  c: Float32Array, co: number, panel: Float64Array, acc: Float64Array,
): void {
  for (let jc = 0; jc < n; jc += NC) {
    const nc = Math.min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      packPanel(panel, b, bo + pc * bk + jc * bn, bk, bn, kc, nc);
      const first = pc === 0;
      let i = 0;
      for (; i + 1 < m; i += 2) {
        // Two rows of A (at ar, as) against the panel; acc holds C rows i and i+1 (at 0, nc).
        const ar = ao + i * am + pc * ak;
        const as = ar + am;
        const cr = co + i * n + jc;
        const c1 = cr + n;
        if (first) acc.fill(0, 0, 2 * nc);
        else for (let j = 0; j < nc; j++) { acc[j] = c[cr + j]; acc[nc + j] = c[c1 + j]; }
        let p = 0;
        for (; p + 3 < kc; p += 4) {
          const q = p * ak;
          const x0 = a[ar + q], x1 = a[ar + q + ak], x2 = a[ar + q + 2 * ak], x3 = a[ar + q + 3 * ak];
          const y0 = a[as + q], y1 = a[as + q + ak], y2 = a[as + q + 2 * ak], y3 = a[as + q + 3 * ak];
          const b0 = p * nc, b1 = b0 + nc, b2 = b1 + nc, b3 = b2 + nc;
          for (let j = 0; j < nc; j++) {
            const v0 = panel[b0 + j], v1 = panel[b1 + j], v2 = panel[b2 + j], v3 = panel[b3 + j];
            acc[j] += x0 * v0 + x1 * v1 + x2 * v2 + x3 * v3;
            acc[nc + j] += y0 * v0 + y1 * v1 + y2 * v2 + y3 * v3;
          }
        }
        for (; p < kc; p++) {
          const x0 = a[ar + p * ak];
          const y0 = a[as + p * ak];
          const b0 = p * nc;
          for (let j = 0; j < nc; j++) {
            const v = panel[b0 + j];
            acc[j] += x0 * v;
            acc[nc + j] += y0 * v;
          }
        }
        for (let j = 0; j < nc; j++) { c[cr + j] = acc[j]; c[c1 + j] = acc[nc + j]; }
      }
      if (i < m) singleRow(a, ao + i * am + pc * ak, ak, panel, kc, nc, acc, c, co + i * n + jc, first);
    }
  }
}

/** panel[p*nc + j] = B(p, j) for the block starting at `bo`. */
function packPanel(panel: Float64Array, b: NumArray, bo: number, bk: number, bn: number, kc: number, nc: number): void {
  for (let p = 0; p < kc; p++) {
    const dst = p * nc;
    let src = bo + p * bk;
    if (bn === 1) {
      for (let j = 0; j < nc; j++) panel[dst + j] = b[src + j];
    } else {
      for (let j = 0; j < nc; j++, src += bn) panel[dst + j] = b[src];
    }
  }
}

/** The last row when M is odd. */
function singleRow(
  a: NumArray, ar: number, ak: number, panel: Float64Array, kc: number, nc: number,
  acc: Float64Array, c: Float32Array, cr: number, first: boolean,
): void {
  if (first) acc.fill(0, 0, nc);
  else for (let j = 0; j < nc; j++) acc[j] = c[cr + j];
  let p = 0;
  for (; p + 3 < kc; p += 4) {
    const q = ar + p * ak;
    const x0 = a[q], x1 = a[q + ak], x2 = a[q + 2 * ak], x3 = a[q + 3 * ak];
    const b0 = p * nc, b1 = b0 + nc, b2 = b1 + nc, b3 = b2 + nc;
    for (let j = 0; j < nc; j++) acc[j] += x0 * panel[b0 + j] + x1 * panel[b1 + j] + x2 * panel[b2 + j] + x3 * panel[b3 + j];
  }
  for (; p < kc; p++) {
    const x0 = a[ar + p * ak];
    const b0 = p * nc;
    for (let j = 0; j < nc; j++) acc[j] += x0 * panel[b0 + j];
  }
  for (let j = 0; j < nc; j++) c[cr + j] = acc[j];
}
