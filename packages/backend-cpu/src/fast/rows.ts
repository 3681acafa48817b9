// SPDX-License-Identifier: MIT
// Fast row kernels on contiguous float32 data: sum/max over trailing axes (rows) or leading
// axes (columns), softmax / log-softmax and LayerNorm over the last axis, and the fused Adam
// step. Each returns null (or false) when it does not apply: the caller then uses the
// reference kernel (primitives) or declines the fused kernel (core runs its fallback).
import { isContiguous, sizeOf, type AdamScalars, type DataId, type DType, type ReduceOp, type StridedView } from '@heed/core';
import { HeapBuffer, heapSource, heapSourceOf, type HeapSource } from './buffer.js';
import { blockSize, isDenseF32 } from './layout.js';
import { KIND, PARALLEL_ELEMENTS, REDUCE } from './ops.js';
import type { FastRuntime } from './runtime.js';

/** Runs a job over `rows` rows of `n` elements with the given slots (row range per block). */
function rowJob(rt: FastRuntime, kind: number, rows: number, n: number, slots: (chunk: number) => number[]): void {
  const threads = rows * n >= PARALLEL_ELEMENTS ? rt.threads : 1;
  const chunk = blockSize(rows, threads, 1, 1);
  rt.begin();
  const values = slots(chunk);
  for (let i = 0; i < values.length; i++) rt.setI(i, values[i]);
  rt.run(kind, Math.ceil(rows / chunk), threads > 1);
}

/**
 * sum/max of a contiguous float32 view over trailing or leading axes, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastReduce(rt, 'sum', x, [1], 'float32'); // row sums of [rows, n]
 * ```
 */
export function fastReduce(rt: FastRuntime, op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId | null {
  if ((op !== 'sum' && op !== 'max') || outDtype !== 'float32' || !isDenseF32(x) || axes.length === 0) return null;
  const r = x.shape.length;
  const k = axes.length;
  let suffix = true;
  let prefix = true;
  for (let i = 0; i < k; i++) {
    if (axes[i] !== r - k + i) suffix = false;
    if (axes[i] !== i) prefix = false;
  }
  if (!suffix && !prefix) return null;
  const split = suffix ? r - k : k;
  const rows = sizeOf(x.shape.slice(0, split));
  const n = sizeOf(x.shape.slice(split));
  if (rows === 0 || n === 0) return null;
  const outSize = suffix ? rows : n;
  const out = HeapBuffer.alloc(rt.heap, outSize);
  if (out === null) return null;
  let sx: HeapSource | null = null;
  try {
    sx = heapSource(rt.heap, x, op);
    if (sx === null) throw new RangeError('heap full');
    const xp = sx.ptr + 4 * x.offset;
    if (suffix) {
      rowJob(rt, KIND.REDUCE_ROWS, rows, n, (chunk) => [REDUCE[op], xp, out.ptr, rows, n, chunk]);
    } else {
      const threads = rows * n >= PARALLEL_ELEMENTS ? rt.threads : 1;
      const chunk = blockSize(n, threads, 4, 64);
      rt.begin();
      const slots = [REDUCE[op], xp, out.ptr, rows, n, chunk];
      for (let i = 0; i < slots.length; i++) rt.setI(i, slots[i]);
      rt.run(KIND.REDUCE_COLS, Math.ceil(n / chunk), threads > 1);
    }
    return out;
  } catch {
    out.release();
    return null;
  } finally {
    sx?.release();
  }
}

/**
 * Softmax (or log-softmax) over the last axis of a contiguous float32 view, or null.
 *
 * @example
 * ```ts
 * const id = fastSoftmax(rt, x, false);
 * ```
 */
export function fastSoftmax(rt: FastRuntime, x: StridedView, log: boolean): DataId | null {
  if (!isDenseF32(x)) return null;
  const size = sizeOf(x.shape);
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  if (size === 0 || n === 0) return null;
  const rows = size / n;
  const out = HeapBuffer.alloc(rt.heap, size);
  if (out === null) return null;
  let sx: HeapSource | null = null;
  try {
    sx = heapSource(rt.heap, x, 'softmax');
    if (sx === null) throw new RangeError('heap full');
    const xp = sx.ptr + 4 * x.offset;
    rowJob(rt, KIND.SOFTMAX, rows, n, (chunk) => [xp, out.ptr, rows, n, chunk, log ? 1 : 0]);
    return out;
  } catch {
    out.release();
    return null;
  } finally {
    sx?.release();
  }
}

/** A heap address for an optional length-n float32 vector view (0 for null). */
function vectorSource(rt: FastRuntime, v: StridedView | null, n: number): HeapSource | null | 'bad' {
  if (v === null) return null;
  if (v.dtype !== 'float32' || sizeOf(v.shape) !== n || !isContiguous(v.shape, v.strides)) return 'bad';
  const s = heapSource(rt.heap, v, 'layerNorm');
  return s === null ? 'bad' : { ptr: s.ptr + 4 * v.offset, release: () => s.release() };
}

/**
 * LayerNorm over the last axis with optional weight/bias, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastLayerNorm(rt, x, gamma, beta, 1e-5);
 * ```
 */
export function fastLayerNorm(rt: FastRuntime, x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number): DataId | null {
  if (!isDenseF32(x) || !Number.isFinite(eps)) return null;
  const size = sizeOf(x.shape);
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  if (size === 0 || n === 0) return null;
  const rows = size / n;
  const out = HeapBuffer.alloc(rt.heap, size);
  if (out === null) return null;
  const held: HeapSource[] = [];
  try {
    const sx = heapSource(rt.heap, x, 'layerNorm');
    if (sx === null) throw new RangeError('heap full');
    held.push(sx);
    const sw = vectorSource(rt, weight, n);
    const sb = vectorSource(rt, bias, n);
    if (sw === 'bad' || sb === 'bad') throw new RangeError('unsupported weight/bias');
    if (sw) held.push(sw);
    if (sb) held.push(sb);
    const xp = sx.ptr + 4 * x.offset;
    rt.begin();
    const threads = size >= PARALLEL_ELEMENTS ? rt.threads : 1;
    const chunk = blockSize(rows, threads, 1, 1);
    const slots = [xp, sw ? sw.ptr : 0, sb ? sb.ptr : 0, out.ptr, rows, n, chunk];
    for (let i = 0; i < slots.length; i++) rt.setI(i, slots[i]);
    rt.setF(7, eps);
    rt.run(KIND.LAYERNORM, Math.ceil(rows / chunk), threads > 1);
    return out;
  } catch {
    out.release();
    return null;
  } finally {
    for (const s of held) s.release();
  }
}

/**
 * Fused Adam step of heap buffers `param`, `m`, `v` (float32, `size` elements each) given
 * `grad`, written into the heap buffers `out` = [param', m', v'] (inputs unchanged). Returns
 * false (and writes nothing) when a buffer is not in this runtime's heap.
 *
 * @example
 * ```ts
 * fastAdam(rt, p, g, m, v, 1024, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000 }, [p2, m2, v2]);
 * ```
 */
export function fastAdam(rt: FastRuntime, param: DataId, grad: DataId, m: DataId, v: DataId, size: number, h: AdamScalars,
  out: readonly [HeapBuffer, HeapBuffer, HeapBuffer]): boolean {
  if (!(param instanceof HeapBuffer) || !(m instanceof HeapBuffer) || !(v instanceof HeapBuffer)) return false;
  if (param.heap !== rt.heap || m.heap !== rt.heap || v.heap !== rt.heap) return false;
  if (out.some((b) => b.heap !== rt.heap)) return false;
  param.array('adam'); // throws if freed
  m.array('adam');
  v.array('adam');
  if (size === 0) return true;
  const sg = heapSourceOf(rt.heap, grad, 'adam');
  if (sg === null) return false;
  try {
    const threads = size >= PARALLEL_ELEMENTS ? rt.threads : 1;
    const chunk = blockSize(size, threads, 64, 8192);
    rt.begin();
    const ints = [param.ptr, sg.ptr, m.ptr, v.ptr, size, chunk];
    for (let i = 0; i < ints.length; i++) rt.setI(i, ints[i]);
    const floats = [h.lr, h.beta1, h.beta2, h.eps, h.c1, h.c2];
    for (let i = 0; i < floats.length; i++) rt.setF(6 + i, floats[i]);
    for (let i = 0; i < 3; i++) rt.setI(12 + i, out[i].ptr);
    rt.run(KIND.ADAM, Math.ceil(size / chunk), threads > 1);
    return true;
  } finally {
    sg.release();
  }
}
