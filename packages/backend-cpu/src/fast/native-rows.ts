// SPDX-License-Identifier: MIT
// Row kernels (softmax, log-softmax, layerNorm, GELU, reductions) on a native provider
// (native.ts). Inputs are read in place from the heap (copied in first when they live
// elsewhere), the output is a new contiguous HeapBuffer. Each returns null when the provider
// lacks the kernel or declines (non-float32, non-contiguous layouts, empty tensors, reduced
// axes that are not one run), so the backend runs its WASM kernel instead.
// Invariants: bindHeap runs after the last heap allocation of a call, right before the native
// call; on a decline every block this call allocated is released again.
import { isContiguous, sizeOf, type DataId, type DType, type ReduceOp, type StridedView } from '@heed/core';
import { HeapBuffer, heapSource, type HeapSource } from './buffer.js';
import { isDenseF32 } from './layout.js';
import { bindHeap, type NativeKernels, type NativeProvider } from './native.js';
import type { FastRuntime } from './runtime.js';

/**
 * Op codes of {@link NativeKernels.reduceRows} / {@link NativeKernels.reduceCols} (rows.c's enum).
 *
 * @example
 * ```ts
 * kernels.reduceRows(NATIVE_REDUCE.sum, x, out, rows, n);
 * ```
 */
export const NATIVE_REDUCE = { sum: 0, max: 1, min: 2, prod: 3 } as const satisfies Partial<Record<ReduceOp, number>>;

/**
 * Allocates `outSize` floats, places `inputs` in the heap, binds it and runs `call` with the
 * output's and the inputs' byte addresses (-1 for a null input). Returns the output, or null
 * (everything released) when an allocation fails or the kernel declines.
 */
function runNative(rt: FastRuntime, kernels: NativeKernels, op: string, outSize: number, inputs: readonly (StridedView | null)[],
  call: (out: number, addrs: readonly number[]) => boolean): DataId | null {
  const out = HeapBuffer.alloc(rt.heap, outSize);
  if (out === null) return null;
  const held: HeapSource[] = [];
  let ran = false;
  try {
    const addrs: number[] = [];
    for (const v of inputs) {
      if (v === null) {
        addrs.push(-1);
        continue;
      }
      const source = heapSource(rt.heap, v, op);
      if (source === null) return null;
      held.push(source);
      addrs.push(source.ptr + 4 * v.offset);
    }
    bindHeap(rt, kernels);
    ran = call(out.ptr, addrs);
    return ran ? out : null;
  } finally {
    if (!ran) out.release();
    for (const h of held) h.release();
  }
}

/** Rows and row length of a dense float32 view over its last axis, or null (empty, or not dense). */
function lastAxisRows(x: StridedView): { rows: number; n: number } | null {
  if (!isDenseF32(x)) return null;
  const size = sizeOf(x.shape);
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  if (size === 0 || n === 0) return null;
  return { rows: size / n, n };
}

/**
 * Softmax / log-softmax over the last axis, or null to fall back.
 *
 * @example
 * ```ts
 * nativeSoftmax(rt, provider, x, false) ?? fastSoftmax(rt, x, false);
 * ```
 */
export function nativeSoftmax(rt: FastRuntime, native: NativeProvider, x: StridedView, log: boolean): DataId | null {
  const k = native.kernels;
  const dims = lastAxisRows(x);
  if (k.softmax === undefined || dims === null) return null;
  const { rows, n } = dims;
  return runNative(rt, k, log ? 'logSoftmax' : 'softmax', rows * n, [x], (out, [px]) => k.softmax!(px, out, rows, n, log ? 1 : 0));
}

/** Whether an optional weight/bias view is a contiguous float32 vector of n elements. */
function vectorOk(v: StridedView | null, n: number): boolean {
  return v === null || (v.dtype === 'float32' && sizeOf(v.shape) === n && isContiguous(v.shape, v.strides));
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
  const k = native.kernels;
  const dims = lastAxisRows(x);
  if (k.layerNorm === undefined || dims === null || !Number.isFinite(eps)) return null;
  const { rows, n } = dims;
  if (!vectorOk(weight, n) || !vectorOk(bias, n)) return null;
  return runNative(rt, k, 'layerNorm', rows * n, [x, weight, bias], (out, [px, pw, pb]) => k.layerNorm!(px, pw, pb, out, rows, n, eps));
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
  const k = native.kernels;
  if (k.gelu === undefined || !isDenseF32(x)) return null;
  const size = sizeOf(x.shape);
  if (size === 0) return null;
  return runNative(rt, k, 'gelu', size, [x], (out, [px]) => k.gelu!(px, out, size, approximate === 'tanh' ? 1 : 0));
}

/**
 * Splits a dense shape reduced over `axes` into [outer, reduced, inner] sizes when the reduced
 * axes form one run (size-1 axes do not break it), or null.
 *
 * @example
 * ```ts
 * reductionSplit([4, 5, 6], [1]); // { outer: 4, reduced: 5, inner: 6 }
 * ```
 */
export function reductionSplit(shape: readonly number[], axes: readonly number[]): { outer: number; reduced: number; inner: number } | null {
  let first = -1;
  let last = -1;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1 || !axes.includes(d)) continue;
    if (first < 0) first = d;
    last = d;
  }
  if (first < 0) return null; // nothing of size > 1 is reduced: a copy, not a reduction
  for (let d = first; d <= last; d++) if (shape[d] !== 1 && !axes.includes(d)) return null;
  return { outer: sizeOf(shape.slice(0, first)), reduced: sizeOf(shape.slice(first, last + 1)), inner: sizeOf(shape.slice(last + 1)) };
}

/**
 * A reduction (sum, max, min, prod of float32 into float32 over one run of axes), or null to
 * fall back. Trailing runs are row reductions; leading and middle runs column reductions (one
 * native call per outer index).
 *
 * @example
 * ```ts
 * nativeReduce(rt, provider, 'sum', x, [1], 'float32') ?? fastReduce(rt, 'sum', x, [1], 'float32');
 * ```
 */
export function nativeReduce(rt: FastRuntime, native: NativeProvider, op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId | null {
  const k = native.kernels;
  if (op !== 'sum' && op !== 'max' && op !== 'min' && op !== 'prod') return null;
  if (outDtype !== 'float32' || !isDenseF32(x) || axes.length === 0 || k.reduceRows === undefined || k.reduceCols === undefined) return null;
  const split = reductionSplit(x.shape, axes);
  if (split === null) return null;
  const { outer, reduced, inner } = split;
  if (outer * reduced * inner === 0) return null;
  const code = NATIVE_REDUCE[op];
  return runNative(rt, k, op, outer * inner, [x], (out, [px]) => {
    if (inner === 1) return k.reduceRows!(code, px, out, outer, reduced);
    for (let i = 0; i < outer; i++) {
      if (!k.reduceCols!(code, px + 4 * i * reduced * inner, out + 4 * i * inner, reduced, inner)) return false;
    }
    return true;
  });
}
