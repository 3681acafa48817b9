// SPDX-License-Identifier: MIT
// Data types: the closed list of dtypes, their storage arrays, and the promotion rules.
// Invariant: every dtype maps to exactly one TypedArray kind; promotion is total over DType pairs.
// The helpers that take a dtype reject anything else with a HeedError (JavaScript callers).
import { HeedError } from './errors.js';

/**
 * The element types a tensor can hold.
 *
 * `float16` is planned (see {@link PLANNED_DTYPES}); backends declare what they support in
 * their capabilities.
 *
 * @example
 * ```ts
 * const t = tensor([1, 2, 3], { dtype: 'int32' });
 * t.dtype; // 'int32'
 * ```
 */
export type DType = 'float32' | 'int32' | 'bool';

/**
 * Dtypes on the roadmap but not implemented yet. Using one raises an error naming the plan.
 *
 * @example
 * ```ts
 * PLANNED_DTYPES.includes('float16'); // true
 * ```
 */
export const PLANNED_DTYPES = ['float16'] as const;

/**
 * Storage array for each dtype.
 *
 * @example
 * ```ts
 * const a: DTypeArrayMap['bool'] = new Uint8Array(2);
 * ```
 */
export interface DTypeArrayMap {
  float32: Float32Array;
  int32: Int32Array;
  bool: Uint8Array;
}

/**
 * The TypedArray that stores elements of dtype `D`.
 *
 * @example
 * ```ts
 * const a: TypedArrayFor<'int32'> = new Int32Array(3);
 * ```
 */
export type TypedArrayFor<D extends DType> = DTypeArrayMap[D];

/**
 * Any storage array used by a tensor.
 *
 * @example
 * ```ts
 * const data: TypedArray = await t.data();
 * ```
 */
export type TypedArray = Float32Array | Int32Array | Uint8Array;

/**
 * Facts about one dtype (see {@link DTYPE_INFO}).
 *
 * @example
 * ```ts
 * const info: DTypeInfo = DTYPE_INFO.int32;
 * ```
 */
export interface DTypeInfo {
  readonly bytesPerElement: number;
  readonly rank: number; // promotion rank: bool < int32 < float32
  readonly isFloat: boolean;
  readonly create: (n: number) => TypedArray;
}

/**
 * Facts about each dtype: bytes per element, promotion rank, and an array constructor.
 *
 * @example
 * ```ts
 * DTYPE_INFO.float32.bytesPerElement; // 4
 * ```
 */
export const DTYPE_INFO: { readonly [D in DType]: DTypeInfo } = {
  bool: { bytesPerElement: 1, rank: 0, isFloat: false, create: (n) => new Uint8Array(n) },
  int32: { bytesPerElement: 4, rank: 1, isFloat: false, create: (n) => new Int32Array(n) },
  float32: { bytesPerElement: 4, rank: 2, isFloat: true, create: (n) => new Float32Array(n) },
};

/**
 * All supported dtypes, in promotion order.
 *
 * @example
 * ```ts
 * DTYPES; // ['bool', 'int32', 'float32']
 * ```
 */
export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32'];

/**
 * Whether `value` names a supported dtype.
 *
 * @example
 * ```ts
 * isDType('int32'); // true
 * isDType('float64'); // false
 * ```
 */
export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/**
 * The dtype two operands of an arithmetic op are computed in (PyTorch's rules, restricted to
 * Heed's dtypes): bool < int32 < float32.
 *
 * @example
 * ```ts
 * promoteTypes('int32', 'float32'); // 'float32'
 * promoteTypes('bool', 'bool'); // 'bool'
 * ```
 */
export function promoteTypes(a: DType, b: DType): DType {
  checkDType('promoteTypes', a);
  checkDType('promoteTypes', b);
  return DTYPE_INFO[a].rank >= DTYPE_INFO[b].rank ? a : b;
}

/**
 * Whether the dtype holds floating-point values (and can carry gradients).
 *
 * @example
 * ```ts
 * isFloatDType('float32'); // true
 * ```
 */
export function isFloatDType(dtype: DType): boolean {
  checkDType('isFloatDType', dtype);
  return DTYPE_INFO[dtype].isFloat;
}

/**
 * Allocates a zeroed storage array for `n` elements of `dtype`.
 *
 * @example
 * ```ts
 * allocArray('float32', 4); // Float32Array(4) [0, 0, 0, 0]
 * ```
 */
export function allocArray<D extends DType>(dtype: D, n: number): TypedArrayFor<D> {
  checkDType('allocArray', dtype);
  if (!Number.isSafeInteger(n) || n < 0) throw new HeedError('allocArray', `the element count must be a non-negative integer, got ${String(n)}.`);
  return DTYPE_INFO[dtype].create(n) as TypedArrayFor<D>;
}

/**
 * Returns `value` as a supported dtype, or throws a HeedError naming the op (planned dtypes
 * such as `float16` get their own message). Every public entry that takes a dtype uses it.
 *
 * @example
 * ```ts
 * checkDType('cast', 'int32'); // 'int32'
 * checkDType('cast', 'float16'); // HeedError: cast: dtype 'float16' is planned but not implemented yet ...
 * ```
 */
export function checkDType(op: string, value: unknown, what = 'dtype'): DType {
  if (isDType(value)) return value;
  const list = DTYPES.join(', ');
  if (typeof value === 'string' && (PLANNED_DTYPES as readonly string[]).includes(value)) {
    throw new HeedError(op, `${what} '${value}' is planned but not implemented yet; use one of ${list}.`);
  }
  if (value === 'int64') {
    throw new HeedError(op, `${what} 'int64' is accepted where tensors are created (tensor(), zeros(), ...; stored as int32, since WGSL ` +
      "has no 64-bit integers); here use 'int32'.");
  }
  const shown = typeof value === 'string' ? `'${value}' (a string)` : typeof value === 'object' && value !== null ? 'an object' : String(value);
  throw new HeedError(op, `unknown ${what} ${shown}; use one of ${list}.`);
}
