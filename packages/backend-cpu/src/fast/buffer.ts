// SPDX-License-Identifier: MIT
// HeapBuffer: a float32 CpuBuffer whose elements live in the fast path's WebAssembly memory,
// so WASM kernels read and write it in place while the reference kernels see an ordinary
// Float32Array. Invariants: the block belongs to this buffer until `release`, which returns
// it to the heap exactly once; `array()` re-derives the view after the memory grew.
import type { DataId, StridedView } from '@heed/core';
import { CpuBuffer, bufferOf } from '../storage.js';
import type { FastHeap } from './heap.js';

/**
 * A float32 buffer in the fast heap.
 *
 * @example
 * ```ts
 * const buf = HeapBuffer.alloc(heap, 16); // 16 floats, or null when the heap is full
 * buf?.array('example').fill(0);
 * ```
 */
export class HeapBuffer extends CpuBuffer {
  /** Byte address of element 0 in the heap's memory. */
  readonly ptr: number;
  /** The heap (memory) the block belongs to. */
  readonly heap: FastHeap;
  readonly #heap: FastHeap;
  #view: Float32Array;
  #generation: number;

  private constructor(heap: FastHeap, ptr: number, size: number) {
    const view = heap.f32(ptr, size);
    super(view, 'float32');
    this.ptr = ptr;
    this.heap = heap;
    this.#heap = heap;
    this.#view = view;
    this.#generation = heap.generation;
  }

  /**
   * A new buffer of `size` floats (contents unspecified), or null when the heap is full.
   *
   * @example
   * ```ts
   * const out = HeapBuffer.alloc(heap, m * n);
   * ```
   */
  static alloc(heap: FastHeap, size: number): HeapBuffer | null {
    const ptr = heap.alloc(Math.max(4, size * 4));
    return ptr === 0 ? null : new HeapBuffer(heap, ptr, size);
  }

  /** The elements (throws a HeedError naming `op` once freed). */
  override array(op: string): Float32Array {
    super.array(op);
    if (this.#generation !== this.#heap.generation) {
      this.#view = this.#heap.f32(this.ptr, this.size);
      this.#generation = this.#heap.generation;
    }
    return this.#view;
  }

  /** Frees the block (throws when called twice). */
  override release(): void {
    super.release();
    this.#heap.free(this.ptr, Math.max(4, this.size * 4));
  }
}

/**
 * Where a float32 view's data sits in the heap: `ptr` is the byte address of the view's
 * element at offset 0 (so element (i, j, ..) is at ptr + 4 * (offset + i*s0 + ...)).
 * `release` frees a temporary copy when the data was not in the heap.
 *
 * @example
 * ```ts
 * const src = heapSource(heap, view, 'matmul');
 * if (src) { run(src.ptr + 4 * view.offset); src.release(); }
 * ```
 */
export interface HeapSource {
  readonly ptr: number;
  release(): void;
}

const NOTHING = (): void => undefined;

/**
 * The heap address of a view's buffer, copying a buffer from elsewhere (a plain array, or
 * another runtime's heap) into a temporary block.
 * Returns null when the heap cannot hold the copy.
 *
 * @example
 * ```ts
 * const src = heapSource(heap, x, 'exp');
 * ```
 */
export function heapSource(heap: FastHeap, view: StridedView, op: string): HeapSource | null {
  return heapSourceOf(heap, view.data, op);
}

/**
 * {@link heapSource} for a DataId.
 *
 * @example
 * ```ts
 * const src = heapSourceOf(heap, id, 'adam');
 * ```
 */
export function heapSourceOf(heap: FastHeap, data: DataId, op: string): HeapSource | null {
  const buf = bufferOf(data, op);
  if (buf instanceof HeapBuffer && buf.heap === heap) {
    buf.array(op); // throws if freed
    return { ptr: buf.ptr, release: NOTHING };
  }
  const src = buf.array(op);
  const bytes = Math.max(4, src.length * 4);
  const ptr = heap.alloc(bytes);
  if (ptr === 0) return null;
  heap.f32(ptr, src.length).set(src);
  return { ptr, release: () => heap.free(ptr, bytes) };
}
