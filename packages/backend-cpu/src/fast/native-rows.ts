// SPDX-License-Identifier: MIT
// Row kernels (softmax, log-softmax, layerNorm, GELU, reductions) on a native provider
// (native.ts). Each returns null when the provider lacks the kernel or declines, so the backend
// runs its WASM kernel instead.
import type { DataId, DType, ReduceOp, StridedView } from '@heed/core';
import type { NativeProvider } from './native.js';
import type { FastRuntime } from './runtime.js';

/**
 * Softmax / log-softmax over the last axis, or null to fall back.
 *
 * @example
 * ```ts
 * nativeSoftmax(rt, provider, x, false) ?? fastSoftmax(rt, x, false);
 * ```
 */
export function nativeSoftmax(rt: FastRuntime, native: NativeProvider, x: StridedView, log: boolean): DataId | null {
  void rt; void native; void x; void log;
  return null;
}

/**
 * LayerNorm over the last axis, or null to fall back.
 *
 * @example
 * ```ts
 * nativeLayerNorm(rt, provider, x, w, b, 1e-5) ?? fastLayerNorm(rt, x, w, b, 1e-5);
 * ```
 */
export function nativeLayerNorm(rt: FastRuntime, native: NativeProvider, x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number): DataId | null {
  void rt; void native; void x; void weight; void bias; void eps;
  return null;
}

/**
 * GELU, or null to fall back.
 *
 * @example
 * ```ts
 * nativeGelu(rt, provider, x, 'none') ?? fastGelu(rt, x, 'none');
 * ```
 */
export function nativeGelu(rt: FastRuntime, native: NativeProvider, x: StridedView, approximate: 'none' | 'tanh'): DataId | null {
  void rt; void native; void x; void approximate;
  return null;
}

/**
 * A reduction, or null to fall back.
 *
 * @example
 * ```ts
 * nativeReduce(rt, provider, 'sum', x, [1], 'float32') ?? fastReduce(rt, 'sum', x, [1], 'float32');
 * ```
 */
export function nativeReduce(rt: FastRuntime, native: NativeProvider, op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId | null {
  void rt; void native; void op; void x; void axes; void outDtype;
  return null;
}
