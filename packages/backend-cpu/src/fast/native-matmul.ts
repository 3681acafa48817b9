// SPDX-License-Identifier: MIT
// Batched matmul on a native provider (native.ts): operands are read in place with their own
// strides from the heap (copied in first when they live elsewhere), the output is a new
// contiguous HeapBuffer. Returns null whenever the provider declines or cannot run (non-float32,
// a layout BLAS cannot express, a full heap), so the backend runs the WASM kernel instead.
import type { DataId, StridedView } from '@heed/core';
import { HeapBuffer, heapSource, type HeapSource } from './buffer.js';
import { bindHeap, type NativeProvider } from './native.js';
import type { FastRuntime } from './runtime.js';

/** Epilogue codes of {@link NativeKernels.matmul}: what is added to the product, then the activation. */
export const MATMUL_EPILOGUE = { none: 0, bias: 1, matrix: 2 } as const;
/** Activation codes of {@link NativeKernels.matmul}. */
export const MATMUL_ACTIVATION = { none: 0, relu: 1, gelu: 2, geluTanh: 3 } as const;

/**
 * `[B, M, K] @ [B, K, N]` on the native provider, or null to fall back.
 *
 * @example
 * ```ts
 * const id = nativeMatmul(rt, provider, a, b) ?? fastMatmul(rt, a, b);
 * ```
 */
export function nativeMatmul(rt: FastRuntime, native: NativeProvider, a: StridedView, b: StridedView): DataId | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== 3 || b.shape.length !== 3) return null;
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  if (b.shape[0] !== batch || b.shape[1] !== k || batch * m * n === 0) return null;
  const out = HeapBuffer.alloc(rt.heap, batch * m * n);
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
      sa.ptr + 4 * a.offset, a.strides[0], a.strides[1], a.strides[2],
      sb.ptr + 4 * b.offset, b.strides[0], b.strides[1], b.strides[2],
      out.ptr, MATMUL_EPILOGUE.none, 0, MATMUL_ACTIVATION.none,
    );
    return ran ? out : null;
  } finally {
    if (!ran) out.release();
    sa?.release();
    sb?.release();
  }
}
