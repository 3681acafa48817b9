// SPDX-License-Identifier: MIT
// Buffers of the CPU backend. A DataId is a CpuBuffer: an object wrapping one TypedArray
// (Float32Array for float32, Int32Array for int32, Uint8Array for bool). Invariants:
// - a buffer's array is never shared with the caller: upload copies in, read copies out;
// - bool buffers hold only 0 or 1;
// - once freed, every access throws a HeedError naming the op (use-after-free is loud).
import { DTYPE_INFO, HeedError, allocArray, type DataId, type DType, type TypedArray } from '@heed/core';

/**
 * Any array a kernel reads or writes: the storage arrays plus Float64Array scratch space.
 *
 * @example
 * ```ts
 * const scratch: NumArray = new Float64Array(4);
 * ```
 */
export type NumArray = Float32Array | Int32Array | Uint8Array | Float64Array;

/**
 * The CPU backend's buffer handle (its `DataId`): one TypedArray and its dtype.
 *
 * @example
 * ```ts
 * const buf = new CpuBuffer(new Float32Array([1, 2]), 'float32');
 * buf.size; // 2
 * ```
 */
export class CpuBuffer {
  #array: TypedArray | null;
  /** The dtype of the elements. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;

  constructor(array: TypedArray, dtype: DType) {
    this.#array = array;
    this.dtype = dtype;
    this.size = array.length;
  }

  /** Whether {@link CpuBuffer.release} was called. */
  get freed(): boolean {
    return this.#array === null;
  }

  /** The array, or a HeedError naming `op` when the buffer was freed. */
  array(op: string): TypedArray {
    const a = this.#array;
    if (a === null) {
      throw new HeedError(op, `the cpu buffer (${this.dtype}, ${this.size} elements) was used after it was freed. ` +
        'A tensor was disposed while something still used it; keep() it or clone() it before disposing.');
    }
    return a;
  }

  /** Drops the array so its memory can be collected. Throws when called twice. */
  release(): void {
    if (this.#array === null) {
      throw new HeedError('free', `the cpu buffer (${this.dtype}, ${this.size} elements) was freed twice; ` +
        'every buffer is freed exactly once, when its last tensor is gone.');
    }
    this.#array = null;
  }
}

/**
 * The CpuBuffer behind a DataId, or a HeedError naming `op` when the id came from another
 * backend.
 *
 * @example
 * ```ts
 * const buf = bufferOf(view.data, 'add');
 * ```
 */
export function bufferOf(id: DataId, op: string): CpuBuffer {
  if (!(id instanceof CpuBuffer)) {
    throw new HeedError(op, 'the buffer does not belong to the cpu backend. Move the tensor with .to("cpu") first.');
  }
  return id;
}

/**
 * The live TypedArray behind a DataId (throws a HeedError when freed or foreign).
 *
 * @example
 * ```ts
 * const values = arrayOf(view.data, 'exp'); // Float32Array for a float32 buffer
 * ```
 */
export function arrayOf(id: DataId, op: string): TypedArray {
  return bufferOf(id, op).array(op);
}

/**
 * Wraps a freshly computed array (which the caller must not keep) as a DataId.
 *
 * @example
 * ```ts
 * const id = wrap(new Int32Array([1, 2]), 'int32');
 * ```
 */
export function wrap(array: TypedArray, dtype: DType): DataId {
  return new CpuBuffer(array, dtype);
}

/**
 * A new array of `dtype` holding `values` converted with the backend's store rules: float32
 * rounds, int32 truncates toward zero (wrapping like Int32Array), bool is `value != 0`.
 *
 * @example
 * ```ts
 * convertArray(new Float32Array([0, 2.5, NaN]), 'bool'); // Uint8Array [0, 1, 1]
 * ```
 */
export function convertArray(values: NumArray, dtype: DType): TypedArray {
  const n = values.length;
  const out = allocArray(dtype, n);
  if (dtype === 'bool') {
    for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0;
  } else {
    out.set(values);
  }
  return out;
}

/**
 * Rewrites `scratch` (any numbers) into the bool array `out` as `value != 0` (NaN counts as
 * true, as in PyTorch).
 *
 * @example
 * ```ts
 * const out = new Uint8Array(2);
 * toBool(new Float64Array([0, 256]), out); // out = [0, 1]
 * ```
 */
export function toBool(scratch: NumArray, out: Uint8Array): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = scratch[i] !== 0 ? 1 : 0;
}

/**
 * A new buffer of `size` elements equal to `value` (converted with the store rules above).
 *
 * @example
 * ```ts
 * fillBuffer(3, 1.5, 'int32'); // Int32Array [1, 1, 1]
 * ```
 */
export function fillBuffer(size: number, value: number, dtype: DType): DataId {
  checkSize('fill', size);
  const out = allocArray(dtype, size);
  const stored = dtype === 'bool' ? (value !== 0 ? 1 : 0) : value;
  if (!Object.is(stored, 0)) out.fill(stored); // -0 too: a new array holds +0
  return wrap(out, dtype);
}

/**
 * A new buffer holding a copy of `values` in `dtype`.
 *
 * @example
 * ```ts
 * const id = uploadBuffer(new Float32Array([1, 2]), 'float32');
 * ```
 */
export function uploadBuffer(values: TypedArray, dtype: DType): DataId {
  if (!(dtype in DTYPE_INFO)) throw new HeedError('upload', `unknown dtype '${String(dtype)}'; use float32, int32 or bool.`);
  const same = (dtype === 'float32' && values instanceof Float32Array) || (dtype === 'int32' && values instanceof Int32Array);
  return wrap(same ? values.slice() : convertArray(values, dtype), dtype);
}

/**
 * A copy of the first `size` elements of a buffer, checked against its dtype and length.
 *
 * @example
 * ```ts
 * readBuffer(id, 'float32', 2); // Float32Array [1, 2]
 * ```
 */
export function readBuffer(id: DataId, dtype: DType, size: number): TypedArray {
  const buf = bufferOf(id, 'read');
  const array = buf.array('read');
  if (buf.dtype !== dtype) {
    throw new HeedError('read', `asked for ${dtype} values from a ${buf.dtype} buffer; read it with its own dtype.`);
  }
  if (!Number.isInteger(size) || size < 0 || size > array.length) {
    throw new HeedError('read', `cannot read ${size} elements from a buffer of ${array.length}; size must be 0..${array.length}.`);
  }
  return array.slice(0, size);
}

/**
 * Throws a HeedError for `op` unless `size` is a valid element count.
 *
 * @example
 * ```ts
 * checkSize('random', 10); // ok
 * ```
 */
export function checkSize(op: string, size: number): void {
  if (!Number.isInteger(size) || size < 0) {
    throw new HeedError(op, `size must be a non-negative integer, got ${size}.`);
  }
}
