// SPDX-License-Identifier: MIT
// Batched matmul on a native provider (native.ts): operands are read in place with their own
// strides from the heap (copied in first when they live elsewhere), the output is a new
// contiguous HeapBuffer. Returns null whenever the provider declines or cannot run (non-float32,
// a layout BLAS cannot express, a full heap), so the backend runs the WASM kernel instead.
import type { DataId, StridedView } from '@heed/core';
import { HeapBuffer, heapSource, type HeapSource } from './buffer.js';
import { bindHeap, type NativeProvider } from './native.js';
import type { FastRuntime } from './runtime.js';

/**
 * Epilogue codes of {@link NativeKernels.matmul}: what is added to the product before the activation.
 *
 * @example
 * ```ts
 * kernels.matmul(1, m, n, k, a, 0, k, 1, b, 0, n, 1, c, MATMUL_EPILOGUE.bias, biasAddr, MATMUL_ACTIVATION.none, 1, 0, 0);
 * ```
 */
export const MATMUL_EPILOGUE = { none: 0, bias: 1, matrix: 2 } as const;
/**
 * Activation codes of {@link NativeKernels.matmul}, applied after the epilogue.
 *
 * @example
 * ```ts
 * kernels.matmul(1, m, n, k, a, 0, k, 1, b, 0, n, 1, c, MATMUL_EPILOGUE.none, 0, MATMUL_ACTIVATION.relu, 1, 0, 0);
 * ```
 */
export const MATMUL_ACTIVATION = { none: 0, relu: 1, gelu: 2, geluTanh: 3 } as const;

/**
 * `[B, M, K] @ [B, K, N]` on the native provider, or null to fall back. Also takes rank-4
 * `[B1, B2, M, K]` x `[B1, B2, K, N]` views (two batch strides each, attention heads permuted out
 * of `[B, T, H, D]`: see `capabilities.matmulBatchDims`) as one native call of B1 * B2 products,
 * into a contiguous `[B1 * B2, M, N]`.
 *
 * @example
 * ```ts
 * const id = nativeMatmul(rt, provider, a, b) ?? fastMatmul(rt, a, b);
 * ```
 */
export function nativeMatmul(rt: FastRuntime, native: NativeProvider, a: StridedView, b: StridedView): DataId | null {
  const rank = a.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || (rank !== 3 && rank !== 4) || b.shape.length !== rank) return null;
  const d = rank - 3; // the inner batch dim; rank 4 has an outer one before it
  const outer = d === 1 ? a.shape[0] : 1;
  const batch = a.shape[d], m = a.shape[d + 1], k = a.shape[d + 2], n = b.shape[d + 2];
  if ((d === 1 && b.shape[0] !== outer) || b.shape[d] !== batch || b.shape[d + 1] !== k || outer * batch * m * n === 0) return null;
  const out = HeapBuffer.alloc(rt.heap, outer * batch * m * n);
  if (out === null) return null;
  let sa: HeapSource | null = null;
  let sb: HeapSource | null = null;
  let ran = false;
  try {
    sa = heapSource(rt.heap, a, 'matmul');
    sb = heapSource(rt.heap, b, 'matmul');
    if (sa === null || sb === null) return null;
    bindHeap(rt, native.kernels);
    ran = native.kernels.matmul(
      batch, m, n, k,
      sa.ptr + 4 * a.offset, a.strides[d], a.strides[d + 1], a.strides[d + 2],
      sb.ptr + 4 * b.offset, b.strides[d], b.strides[d + 1], b.strides[d + 2],
      out.ptr, MATMUL_EPILOGUE.none, 0, MATMUL_ACTIVATION.none,
      outer, d === 1 ? a.strides[0] : 0, d === 1 ? b.strides[0] : 0,
    );
    return ran ? out : null;
  } finally {
    if (!ran) out.release();
    sa?.release();
    sb?.release();
  }
}

/**
 * `x @ weight^T + bias` ([M, K], [N, K], bias [N] contiguous or null) as one native GEMM with
 * the bias in its epilogue, or null to fall back (core then runs matmul + add).
 *
 * @example
 * ```ts
 * nativeLinear(rt, provider, x, w, b); // [M, N]
 * ```
 */
export function nativeLinear(rt: FastRuntime, native: NativeProvider, x: StridedView, weight: StridedView, bias: StridedView | null): DataId | null {
  if (x.dtype !== 'float32' || weight.dtype !== 'float32' || x.shape.length !== 2 || weight.shape.length !== 2) return null;
  const [m, k] = x.shape;
  const n = weight.shape[0];
  if (weight.shape[1] !== k || m * n === 0) return null;
  if (bias !== null && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== n || (n > 1 && bias.strides[0] !== 1))) return null;
  const out = HeapBuffer.alloc(rt.heap, m * n);
  if (out === null) return null;
  const sources: (HeapSource | null)[] = [];
  let ran = false;
  try {
    const sx = heapSource(rt.heap, x, 'linear');
    const sw = heapSource(rt.heap, weight, 'linear');
    const sb = bias === null ? null : heapSource(rt.heap, bias, 'linear');
    sources.push(sx, sw, sb);
    if (sx === null || sw === null || (bias !== null && sb === null)) return null;
    bindHeap(rt, native.kernels);
    ran = native.kernels.matmul(
      1, m, n, k,
      sx.ptr + 4 * x.offset, 0, x.strides[0], x.strides[1],
      sw.ptr + 4 * weight.offset, 0, weight.strides[1], weight.strides[0], // weight^T: [K, N]
      out.ptr, bias === null ? MATMUL_EPILOGUE.none : MATMUL_EPILOGUE.bias, sb === null || bias === null ? 0 : sb.ptr + 4 * bias.offset, MATMUL_ACTIVATION.none,
      1, 0, 0,
    );
    return ran ? out : null;
  } finally {
    if (!ran) out.release();
    for (const s of sources) s?.release();
  }
}
