// SPDX-License-Identifier: MIT
// Fast float32 elementwise kernels: binary ops whose operands are contiguous, scalars, row
// vectors or column vectors (see layout.ts), unary math on contiguous inputs, fused GELU,
// plus fast strided copy / upload / fill into heap buffers. Every function returns null when
// it does not apply, and the caller uses the reference kernel.
import { contiguousStrides, sizeOf, type BinaryOp, type DataId, type DType, type StridedView, type TypedArray, type UnaryOp } from '@heed/core';
import { arrayOf } from '../storage.js';
import { copyStrided } from '../strided.js';
import { HeapBuffer, heapSource, type HeapSource } from './buffer.js';
import { MODE, blockSize, isDenseF32, operandMode } from './layout.js';
import { FAST_BINARY, FAST_UNARY, GELU_ERF, GELU_TANH, KIND, PARALLEL_ELEMENTS } from './ops.js';
import type { FastRuntime } from './runtime.js';

function release(...sources: (HeapSource | null)[]): void {
  for (const s of sources) s?.release();
}

/**
 * `a op b` for float32 operands already broadcast to one shape, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastBinary(rt, 'add', a, b, 'float32') ?? binaryKernel('add', a, b, 'float32');
 * ```
 */
export function fastBinary(rt: FastRuntime, op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId | null {
  const id = FAST_BINARY[op];
  if (id === undefined || outDtype !== 'float32' || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const shape = a.shape;
  const size = sizeOf(shape);
  if (size === 0) return null;
  const ma = operandMode(shape, a.strides);
  const mb = operandMode(shape, b.strides);
  if (ma === MODE.NONE || mb === MODE.NONE) return null;
  const n = shape.length === 0 ? 1 : shape[shape.length - 1];
  const out = HeapBuffer.alloc(rt.heap, size);
  if (out === null) return null;
  let sa: HeapSource | null = null;
  let sb: HeapSource | null = null;
  try {
    sa = heapSource(rt.heap, a, op);
    sb = heapSource(rt.heap, b, op);
    if (sa === null || sb === null) throw new RangeError('heap full');
    const threads = size >= PARALLEL_ELEMENTS ? rt.threads : 1;
    const chunk = blockSize(size, threads, 64, 8192);
    rt.begin();
    const slots = [id, ma, mb, sa.ptr + 4 * a.offset, sb.ptr + 4 * b.offset, out.ptr, size / n, n, chunk];
    for (let i = 0; i < slots.length; i++) rt.setI(i, slots[i]);
    rt.run(KIND.BINARY, Math.ceil(size / chunk), threads > 1);
    return out;
  } catch {
    out.release();
    return null;
  } finally {
    release(sa, sb);
  }
}

/** Runs unary op `id` over a dense float32 view. */
function unaryById(rt: FastRuntime, id: number, x: StridedView, op: string): DataId | null {
  if (!isDenseF32(x)) return null;
  const size = sizeOf(x.shape);
  if (size === 0) return null;
  const out = HeapBuffer.alloc(rt.heap, size);
  if (out === null) return null;
  let sx: HeapSource | null = null;
  try {
    sx = heapSource(rt.heap, x, op);
    if (sx === null) throw new RangeError('heap full');
    const threads = size >= PARALLEL_ELEMENTS ? rt.threads : 1;
    const chunk = blockSize(size, threads, 64, 8192);
    rt.begin();
    const slots = [id, sx.ptr + 4 * x.offset, out.ptr, size, chunk];
    for (let i = 0; i < slots.length; i++) rt.setI(i, slots[i]);
    rt.run(KIND.UNARY, Math.ceil(size / chunk), threads > 1);
    return out;
  } catch {
    out.release();
    return null;
  } finally {
    release(sx);
  }
}

/**
 * Unary `op` over a contiguous float32 view, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastUnary(rt, 'exp', x, 'float32') ?? unaryKernel('exp', x, 'float32');
 * ```
 */
export function fastUnary(rt: FastRuntime, op: UnaryOp, x: StridedView, outDtype: DType): DataId | null {
  const id = FAST_UNARY[op];
  if (id === undefined || outDtype !== 'float32') return null;
  return unaryById(rt, id, x, op);
}

/**
 * Fused GELU (exact or tanh form) over a contiguous float32 view, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastGelu(rt, x, 'tanh');
 * ```
 */
export function fastGelu(rt: FastRuntime, x: StridedView, approximate: 'none' | 'tanh'): DataId | null {
  return unaryById(rt, approximate === 'tanh' ? GELU_TANH : GELU_ERF, x, 'gelu');
}

/**
 * Drops size-1 dims and merges dims that are contiguous in the source, so a copy walks as
 * few, as long runs as possible.
 *
 * @example
 * ```ts
 * collapseDims([2, 3, 4], [12, 4, 1]); // { shape: [24], strides: [1] }
 * ```
 */
export function collapseDims(shape: readonly number[], strides: readonly number[]): { shape: number[]; strides: number[] } {
  const dims: number[] = [];
  const st: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const k = dims.length - 1;
    if (k >= 0 && st[k] === strides[d] * shape[d]) {
      dims[k] *= shape[d];
      st[k] = strides[d];
    } else {
      dims.push(shape[d]);
      st.push(strides[d]);
    }
  }
  return { shape: dims, strides: st };
}

/**
 * A contiguous heap copy of a float32 view (any strides), or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastCopy(rt, transposedView);
 * ```
 */
export function fastCopy(rt: FastRuntime, x: StridedView): DataId | null {
  if (x.dtype !== 'float32') return null;
  const size = sizeOf(x.shape);
  const out = HeapBuffer.alloc(rt.heap, size);
  if (out === null) return null;
  const c = collapseDims(x.shape, x.strides);
  if (size === 0 || c.shape.length > 4) {
    copyStrided(out.array('copy'), contiguousStrides(x.shape), 0, arrayOf(x.data, 'copy'), x.strides, x.offset, x.shape);
    return out;
  }
  let sx: HeapSource | null = null;
  try {
    sx = heapSource(rt.heap, x, 'copy');
    if (sx === null) throw new RangeError('heap full');
    while (c.shape.length < 4) {
      c.shape.unshift(1);
      c.strides.unshift(0);
    }
    const threads = size >= PARALLEL_ELEMENTS && c.shape[0] > 1 ? rt.threads : 1;
    const chunk = blockSize(c.shape[0], threads, 1, 1);
    rt.begin();
    const slots = [sx.ptr + 4 * x.offset, out.ptr, ...c.shape, ...c.strides, chunk];
    for (let i = 0; i < slots.length; i++) rt.setI(i, slots[i]);
    rt.run(KIND.COPY, Math.ceil(c.shape[0] / chunk), threads > 1);
    return out;
  } catch {
    out.release();
    return null;
  } finally {
    release(sx);
  }
}

/**
 * A heap buffer holding a copy of float32 `values`, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastUpload(rt, new Float32Array([1, 2]), 'float32');
 * ```
 */
export function fastUpload(rt: FastRuntime, values: TypedArray, dtype: DType): DataId | null {
  if (dtype !== 'float32' || !(values instanceof Float32Array)) return null;
  const out = HeapBuffer.alloc(rt.heap, values.length);
  if (out === null) return null;
  out.array('upload').set(values);
  return out;
}

/**
 * A heap buffer of `size` copies of `value`, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastFill(rt, 16, 0, 'float32');
 * ```
 */
export function fastFill(rt: FastRuntime, size: number, value: number, dtype: DType): DataId | null {
  if (dtype !== 'float32' || !Number.isInteger(size) || size < 0) return null;
  const out = HeapBuffer.alloc(rt.heap, size);
  if (out === null) return null;
  out.array('fill').fill(value);
  return out;
}
