// SPDX-License-Identifier: MIT
// int64 at the boundary: token ids and indices arriving as BigInt64Array, arrays of bigint or
// with `dtype: 'int64'` (what PyTorch/NumPy datasets hand over) are stored as int32, because
// WGSL has no 64-bit integers. Invariant: every value is range-checked before it is narrowed;
// a value outside int32 is a HeedError naming the op, the exact value and its position, never
// a silent wrap-around. Tensors made this way report `dtype: 'int32'` and read back as Int32Array.
import { checkDType, type DType } from './dtype.js';
import { HeedError } from './errors.js';

/**
 * A dtype accepted where tensors are created: a storage {@link DType}, or `'int64'`, which is
 * stored as int32 (WGSL has no 64-bit integers; every value is checked to fit). A tensor
 * created with `dtype: 'int64'` reports `t.dtype === 'int32'` and `data()` gives an Int32Array.
 *
 * @example
 * ```ts
 * const ids = tensor([3, 1, 4], { dtype: 'int64' });
 * ids.dtype; // 'int32'
 * ```
 */
export type DTypeLike = DType | 'int64';

/**
 * Typed arrays of 64-bit integers accepted by {@link tensor} (stored as checked int32).
 *
 * @example
 * ```ts
 * const ids: Int64Array = new BigInt64Array([5n, 7n]);
 * tensor(ids).dtype; // 'int32'
 * ```
 */
export type Int64Array = BigInt64Array | BigUint64Array;

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

/**
 * The storage dtype for a dtype given at the boundary: `'int64'` becomes `'int32'`; anything
 * else must be a supported {@link DType} (see `checkDType` for the errors).
 *
 * @example
 * ```ts
 * storageDType('tensor', 'int64'); // 'int32'
 * storageDType('tensor', 'float32'); // 'float32'
 * ```
 */
export function storageDType(op: string, value: unknown): DType {
  return value === 'int64' ? 'int32' : checkDType(op, value);
}

/**
 * Whether `v` is a BigInt64Array or BigUint64Array.
 *
 * @example
 * ```ts
 * isInt64Array(new BigInt64Array(2)); // true
 * isInt64Array(new Int32Array(2)); // false
 * ```
 */
export function isInt64Array(v: unknown): v is Int64Array {
  return v instanceof BigInt64Array || v instanceof BigUint64Array;
}

/**
 * @internal `flat` position `i` in a tensor of `shape`, as an index list `[i0, i1, ...]` for messages.
 *
 * @example
 * ```ts
 * positionOf(5, [2, 3]); // '[1, 2]'
 * ```
 */
export function positionOf(i: number, shape: readonly number[] | undefined): string {
  if (shape === undefined || shape.length === 0) return `[${i}]`;
  const idx = new Array<number>(shape.length);
  let rest = i;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = Math.max(shape[d], 1);
    idx[d] = rest % n;
    rest = Math.floor(rest / n);
  }
  return `[${idx.join(', ')}]`;
}

function overflow(op: string, value: bigint | number, at: number, shape: readonly number[] | undefined): never {
  throw new HeedError(op, `int64 value ${value} at index ${positionOf(at, shape)} (flat position ${at}) does not fit in int32 ` +
    `(range ${INT32_MIN}..${INT32_MAX}). Heed stores int64 ids and indices as int32 because WebGPU (WGSL) has no 64-bit ` +
    "integers; remap the ids (e.g. a smaller vocabulary) or store the values as dtype 'float32'.");
}

/**
 * A bigint as an int32 number, or a HeedError naming `op`, the value and its position `at`
 * (flat, shown as an index into `shape`) when it does not fit.
 *
 * @example
 * ```ts
 * bigintToInt32('tensor', -7n, 0); // -7
 * bigintToInt32('tensor', 2n ** 40n, 3, [2, 2]); // HeedError: tensor: int64 value 1099511627776 at index [1, 1] ...
 * ```
 */
export function bigintToInt32(op: string, value: bigint, at: number, shape?: readonly number[]): number {
  if (value < INT32_MIN || value > INT32_MAX) overflow(op, value, at, shape);
  return Number(value);
}

/**
 * Narrows 64-bit integers (a BigInt64Array, BigUint64Array or array of bigint) to a new
 * Int32Array, checking every value (see {@link bigintToInt32}).
 *
 * @example
 * ```ts
 * int64ToInt32('loadIds', new BigInt64Array([1n, -2n])); // Int32Array [1, -2]
 * ```
 */
export function int64ToInt32(op: string, values: Int64Array | readonly bigint[], shape?: readonly number[]): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = bigintToInt32(op, values[i], i, shape);
  return out;
}
