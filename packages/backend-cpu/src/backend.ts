// SPDX-License-Identifier: MIT
// CpuBackend: the reference implementation of core's Backend contract on TypedArrays. The
// class only validates what core does not and delegates to one kernel module per family.
// Invariants: every kernel returns a new contiguous buffer and never modifies its inputs;
// reads are synchronous (readSync exists) and always return copies; a freed buffer throws on
// any later use; `dispose` makes every later call fail loudly.
import {
  BACKEND_API_VERSION, HeedError,
  type Backend, type BackendCapabilities, type BinaryOp, type DataId, type DType, type RandomKind,
  type ReduceOp, type StridedView, type TypedArray, type UnaryOp,
} from '@heed/core';
import { binaryKernel, castKernel, unaryKernel, whereKernel } from './elementwise.js';
import { concatKernel, copyKernel, gatherKernel, indexSelectKernel, scatterAddKernel } from './indexing.js';
import { matmulKernel } from './matmul.js';
import { randomKernel } from './random.js';
import { reduceKernel } from './reduce.js';
import { bufferOf, fillBuffer, readBuffer, uploadBuffer } from './storage.js';

const CAPABILITIES: BackendCapabilities = Object.freeze({
  syncRead: true,
  dtypes: Object.freeze(['float32', 'int32', 'bool'] as const),
});

/**
 * The CPU backend: every primitive, computed with plain TypedArray loops. Buffers are
 * `Float32Array` (float32), `Int32Array` (int32) and `Uint8Array` (bool, 0/1).
 *
 * @example
 * ```ts
 * import { registerBackend } from '@heed/core';
 * import { CpuBackend } from '@heed/backend-cpu';
 * registerBackend({ name: 'cpu', priority: 1, create: () => new CpuBackend() });
 * ```
 */
export class CpuBackend implements Backend {
  /** Always `'cpu'`. */
  readonly name = 'cpu';
  /** The contract version this backend implements. */
  readonly apiVersion = BACKEND_API_VERSION;
  /** Synchronous reads; float32, int32 and bool storage. */
  readonly capabilities: BackendCapabilities = CAPABILITIES;
  #disposed = false;

  #live(op: string): void {
    if (this.#disposed) {
      throw new HeedError(op, 'the cpu backend was disposed; register it again (registerBackend(cpuBackend)) to keep computing.');
    }
  }

  /** Copies `values` into a new buffer of `dtype`. */
  upload(values: TypedArray, dtype: DType): DataId {
    this.#live('upload');
    return uploadBuffer(values, dtype);
  }

  /** A copy of the first `size` elements, as a resolved promise. */
  read(data: DataId, dtype: DType, size: number): Promise<TypedArray> {
    try {
      this.#live('read');
      return Promise.resolve(readBuffer(data, dtype, size));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** A copy of the first `size` elements. */
  readSync(data: DataId, dtype: DType, size: number): TypedArray {
    this.#live('readSync');
    return readBuffer(data, dtype, size);
  }

  /** Drops the buffer's array; any later use of `data` throws. */
  free(data: DataId): void {
    bufferOf(data, 'free').release();
  }

  /** A new buffer of `size` copies of `value`. */
  fill(size: number, value: number, dtype: DType): DataId {
    this.#live('fill');
    return fillBuffer(size, value, dtype);
  }

  /** A contiguous copy of a strided view. */
  copy(x: StridedView): DataId {
    this.#live('copy');
    return copyKernel(x);
  }

  /** Elementwise unary op. */
  unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
    this.#live(op);
    return unaryKernel(op, x, outDtype);
  }

  /** Elementwise binary op over same-shape (broadcast) views. */
  binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
    this.#live(op);
    return binaryKernel(op, a, b, outDtype);
  }

  /** `cond ? a : b` elementwise. */
  where(cond: StridedView, a: StridedView, b: StridedView): DataId {
    this.#live('where');
    return whereKernel(cond, a, b);
  }

  /** sum/prod/max/min over axes, argmax/argmin over one axis. */
  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    this.#live(op);
    return reduceKernel(op, x, axes, outDtype);
  }

  /** Batched `[B, M, K] @ [B, K, N]` into float32 `[B, M, N]`. */
  matmul(a: StridedView, b: StridedView): DataId {
    this.#live('matmul');
    return matmulKernel(a, b);
  }

  /** Dtype conversion. */
  cast(x: StridedView, dtype: DType): DataId {
    this.#live('cast');
    return castKernel(x, dtype);
  }

  /** PyTorch `gather` along `axis`. */
  gather(x: StridedView, axis: number, index: StridedView): DataId {
    this.#live('gather');
    return gatherKernel(x, axis, index);
  }

  /** Entries along `axis` picked by a 1-D int32 index. */
  indexSelect(x: StridedView, axis: number, index: StridedView): DataId {
    this.#live('indexSelect');
    return indexSelectKernel(x, axis, index);
  }

  /** Zeros of `shape` with `src` added at `index` along `axis`. */
  scatterAdd(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId {
    this.#live('scatterAdd');
    return scatterAddKernel(shape, axis, index, src);
  }

  /** Joins views along `axis`. */
  concat(inputs: readonly StridedView[], axis: number): DataId {
    this.#live('concat');
    return concatKernel(inputs, axis);
  }

  /** Counter-based float32 random draws. */
  random(kind: RandomKind, size: number, seed: number, offset: number): DataId {
    this.#live('random');
    return randomKernel(kind, size, seed, offset);
  }

  /** Marks the backend disposed; buffers already handed out are left to the garbage collector. */
  dispose(): void {
    this.#disposed = true;
  }
}
