// SPDX-License-Identifier: MIT
// The fast path's memory: one WebAssembly.Memory (shared when the platform allows threads)
// holding every float32 buffer the fast kernels produce, so kernels read their inputs in
// place. A small JS allocator hands out blocks: sizes round up to classes (64-byte steps up to
// 4 KiB, then four classes per power of two, i.e. at most 25% slack), freed blocks go to a
// per-class free list and are reused, new blocks come from a bump pointer that grows the
// memory. Invariants:
// - addresses below RESERVED_BYTES are never handed out (the module's static data lives there);
// - every block is 64-byte aligned and exclusively owned until freed;
// - growing the memory bumps `generation`; views must be re-derived after that (a non-shared
//   memory detaches its old ArrayBuffer on growth; a shared one keeps old views valid).

/**
 * Bytes at the start of memory kept for the WASM module's static data.
 *
 * @example
 * ```ts
 * heap.alloc(16) >= RESERVED_BYTES; // true
 * ```
 */
export const RESERVED_BYTES = 65536;
const PAGE = 65536;
/** WebAssembly page limit for 32-bit memories (4 GiB). */
export const MAX_PAGES = 65536;

/**
 * Rounds a byte count up to its allocation class.
 *
 * @example
 * ```ts
 * sizeClass(100); // 128
 * sizeClass(5000); // 5120
 * ```
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 4096) return Math.max(64, Math.ceil(bytes / 64) * 64);
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return Math.ceil(bytes / step) * step;
}

/**
 * Memory statistics of the fast path's heap (its WebAssembly memory).
 *
 * @example
 * ```ts
 * const { bytesInUse, bytesMapped } = heap.stats();
 * ```
 */
export interface FastHeapStats {
  /** Bytes in live blocks (rounded to their classes). */
  readonly bytesInUse: number;
  /** Bytes in freed blocks kept for reuse. */
  readonly bytesCached: number;
  /** Current size of the WebAssembly memory. */
  readonly bytesMapped: number;
}

/**
 * Allocator over one WebAssembly.Memory (see the file comment).
 *
 * @example
 * ```ts
 * const heap = FastHeap.create(true);
 * const p = heap.alloc(1024);
 * heap.f32(p, 256).fill(1);
 * heap.free(p, 1024);
 * ```
 */
export class FastHeap {
  /** The memory the WASM module imports. */
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is shared (threads possible). */
  readonly shared: boolean;
  /** Bumped whenever the memory grows. */
  generation = 0;
  #buffer: ArrayBufferLike;
  #top = RESERVED_BYTES;
  #inUse = 0;
  #cached = 0;
  readonly #free = new Map<number, number[]>();

  private constructor(memory: WebAssembly.Memory, shared: boolean) {
    this.memory = memory;
    this.shared = shared;
    this.#buffer = memory.buffer;
  }

  /**
   * A heap on a new memory of `initialBytes`; shared when asked and supported, else plain.
   *
   * @example
   * ```ts
   * const heap = FastHeap.create(typeof SharedArrayBuffer !== 'undefined');
   * ```
   */
  static create(shared: boolean, initialBytes = 16 * 2 ** 20): FastHeap {
    const initial = Math.ceil(initialBytes / PAGE);
    if (shared) {
      for (const maximum of [MAX_PAGES, 16384]) {
        try {
          return new FastHeap(new WebAssembly.Memory({ initial, maximum, shared: true }), true);
        } catch {
          // the engine refused a shared memory of this size: try smaller, then unshared
        }
      }
    }
    return new FastHeap(new WebAssembly.Memory({ initial, maximum: MAX_PAGES }), false);
  }

  /** The current ArrayBuffer (or SharedArrayBuffer) of the memory. */
  get buffer(): ArrayBufferLike {
    return this.#buffer;
  }

  /**
   * A new 64-byte aligned block of at least `bytes` bytes, or 0 when memory is exhausted.
   *
   * @example
   * ```ts
   * const p = heap.alloc(4 * 1000);
   * ```
   */
  alloc(bytes: number): number {
    const size = sizeClass(bytes);
    const list = this.#free.get(size);
    if (list !== undefined && list.length > 0) {
      this.#cached -= size;
      this.#inUse += size;
      return list.pop() as number;
    }
    const ptr = this.#top;
    if (ptr + size > this.#buffer.byteLength && !this.#grow(ptr + size)) return 0;
    this.#top = ptr + size;
    this.#inUse += size;
    return ptr;
  }

  /**
   * Returns a block from {@link FastHeap.alloc} (with the same `bytes`) for reuse.
   *
   * @example
   * ```ts
   * heap.free(p, 4 * 1000);
   * ```
   */
  free(ptr: number, bytes: number): void {
    const size = sizeClass(bytes);
    let list = this.#free.get(size);
    if (list === undefined) this.#free.set(size, (list = []));
    list.push(ptr);
    this.#inUse -= size;
    this.#cached += size;
  }

  /**
   * A Float32Array view of `length` floats at byte address `ptr` (valid until the memory grows).
   *
   * @example
   * ```ts
   * heap.f32(p, 4).set([1, 2, 3, 4]);
   * ```
   */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.#buffer, ptr, length);
  }

  /**
   * An Int32Array over the whole memory (valid until the memory grows).
   *
   * @example
   * ```ts
   * heap.i32()[ctrl >> 2] = 0;
   * ```
   */
  i32(): Int32Array {
    return new Int32Array(this.#buffer);
  }

  /**
   * Current memory statistics.
   *
   * @example
   * ```ts
   * heap.stats().bytesInUse;
   * ```
   */
  stats(): FastHeapStats {
    return { bytesInUse: this.#inUse, bytesCached: this.#cached, bytesMapped: this.#buffer.byteLength };
  }

  #grow(needed: number): boolean {
    const have = this.#buffer.byteLength;
    const want = Math.max(needed, have + Math.floor(have / 4));
    let pages = Math.ceil((want - have) / PAGE);
    const minPages = Math.ceil((needed - have) / PAGE);
    while (pages >= minPages) {
      try {
        this.memory.grow(pages);
        this.#buffer = this.memory.buffer;
        this.generation++;
        return true;
      } catch {
        if (pages === minPages) break;
        pages = Math.max(minPages, Math.floor(pages / 2));
      }
    }
    return false;
  }
}
