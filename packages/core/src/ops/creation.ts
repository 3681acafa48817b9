// SPDX-License-Identifier: MIT
// Creating tensors: from JS data (nested arrays or typed arrays), constant fills, ranges,
// identity matrices. Random creation lives in random.ts. Every argument is validated here
// (validate.ts) before a backend allocates anything.
import { checkBufferLimit, type Backend } from '../backend.js';
import { DTYPE_INFO, allocArray, isFloatDType, type DType, type TypedArray } from '../dtype.js';
import { bigintToInt32, isInt64Array, positionOf, storageDType, type DTypeLike, type Int64Array } from '../int64.js';
import { HeedError, fmtShape } from '../errors.js';
import { sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { findBackend, getBackend } from '../registry.js';
import {
  checkBackendDType, checkBackendName, checkBoolean, checkInt, checkNumber, checkNumel, checkOptions, checkShape,
  checkStorable, describeValue, type OptionKeys,
} from '../validate.js';
import { commonBackend, fromData } from './operands.js';
import { runKernel } from '../kernel-dispatch.js';

/**
 * Options for creation ops.
 *
 * @example
 * ```ts
 * zeros([2, 2], { dtype: 'int32', backend: 'cpu' });
 * ```
 */
export interface CreateOptions {
  /**
   * Element type (default float32; bool for boolean data; int32 for Int32Array, BigInt64Array
   * or bigint data). `'int64'` is accepted and stored as checked int32 (see {@link DTypeLike}).
   */
  dtype?: DTypeLike;
  /** Name of a registered backend (default: the current backend). */
  backend?: string;
  /** Make the new tensor a leaf that requires gradients. */
  requiresGrad?: boolean;
}

/**
 * Nested arrays (or a typed array) accepted by {@link tensor}.
 *
 * @example
 * ```ts
 * const d: TensorData = [[1, 2], [3, 4]];
 * ```
 */
export type TensorData = number | boolean | bigint | TypedArray | Int64Array | readonly TensorData[];

/**
 * Options of {@link tensor}: the creation options plus the shape of flat data.
 *
 * @example
 * ```ts
 * tensor([1, 2, 3, 4], { shape: [2, 2], dtype: 'int32' });
 * ```
 */
export interface TensorOptions extends CreateOptions {
  /** Shape of flat `data` (a typed array or a flat list); inferred from nested arrays otherwise. */
  shape?: readonly number[];
}

/** The keys of {@link CreateOptions}. */
const CREATE_KEYS: OptionKeys<CreateOptions> = { dtype: true, backend: true, requiresGrad: true };
const TENSOR_KEYS: OptionKeys<TensorOptions> = { ...CREATE_KEYS, shape: true };

/**
 * @internal Validates creation options (only the keys of `keys`; a dtype, a registered
 * backend that stores it, a boolean requiresGrad that only float dtypes may set) and resolves
 * the backend and dtype.
 */
export function resolveCreate<T extends CreateOptions>(op: string, options: T | undefined, fallback: DType = 'float32',
  keys: OptionKeys<T> = CREATE_KEYS as OptionKeys<T>): { backend: Backend; dtype: DType } {
  const o = checkOptions(op, options, keys);
  const dtype = o.dtype === undefined ? fallback : storageDType(op, o.dtype);
  if (checkBoolean(op, 'requiresGrad', o.requiresGrad) && !isFloatDType(dtype)) {
    throw new HeedError(op, `requiresGrad: true needs a float dtype, got ${dtype}; only float tensors can require gradients.`);
  }
  const backend = o.backend === undefined ? getBackend() : findBackend(checkBackendName(op, o.backend));
  checkBackendDType(op, backend, dtype);
  return { backend, dtype };
}

/** @internal Applies requiresGrad after creation. */
export function finish(t: Tensor, options: CreateOptions | undefined): Tensor {
  return options?.requiresGrad ? t.requiresGrad_() : t;
}

function isTypedArray(v: unknown): v is ArrayLike<number | bigint> {
  return ArrayBuffer.isView(v) && !(v instanceof DataView);
}

function inferShape(data: TensorData): number[] {
  const shape: number[] = [];
  let cur: unknown = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  if (isTypedArray(cur)) shape.push(cur.length);
  else if (ArrayBuffer.isView(cur)) throw badValue(cur, shape.length);
  return shape;
}

function badValue(v: unknown, depth: number): HeedError {
  return new HeedError('tensor', `values must be numbers or booleans (nested arrays, or a typed array), got ${describeValue(v)} ` +
    `at depth ${depth}.`);
}

/** Writes `data` into `out` row-major, checking raggedness, value types and (int32) range. */
function flattenInto(data: unknown, shape: Shape, depth: number, out: TypedArray, pos: { i: number }, dtype: DType): void {
  if (depth === shape.length) {
    if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') {
      out[pos.i] = storable(data, pos.i, shape, dtype);
      pos.i++;
      return;
    }
    if (Array.isArray(data) || ArrayBuffer.isView(data)) {
      throw new HeedError('tensor', `ragged nested array: expected a number at depth ${depth} (inferred shape ${fmtShape(shape)}).`);
    }
    throw badValue(data, depth);
  }
  if (!Array.isArray(data) && !isTypedArray(data)) {
    if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') {
      throw new HeedError('tensor', `ragged nested array: every list at depth ${depth} must have length ${shape[depth]} (inferred shape ${fmtShape(shape)}).`);
    }
    throw badValue(data, depth);
  }
  const items = data as ArrayLike<unknown>;
  if (items.length !== shape[depth]) {
    throw new HeedError('tensor', `ragged nested array: every list at depth ${depth} must have length ${shape[depth]} (inferred shape ${fmtShape(shape)}).`);
  }
  if (isTypedArray(data)) {
    if (depth !== shape.length - 1) throw new HeedError('tensor', `ragged nested array: a typed array at depth ${depth} (inferred shape ${fmtShape(shape)}).`);
    copyFlat(items, out, pos.i, dtype, shape);
    pos.i += items.length;
    return;
  }
  for (let k = 0; k < items.length; k++) flattenInto(items[k], shape, depth + 1, out, pos, dtype);
}

/**
 * The value stored for element `at` (flat position in `shape`) of a `dtype` tensor. int32
 * refuses values outside its range (and NaN) instead of wrapping them; bigints (BigInt64Array,
 * arrays of bigint) are narrowed with an exact range check; bool is `value != 0` (NaN is true,
 * as in PyTorch), decided before the Uint8Array store could wrap 256 to 0.
 */
function storable(x: unknown, at: number, shape: Shape, dtype: DType): number {
  if (typeof x === 'bigint') {
    if (dtype === 'int32') return bigintToInt32('tensor', x, at, shape);
    return dtype === 'bool' ? (x !== 0n ? 1 : 0) : Number(x);
  }
  const v = Number(x);
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  if (dtype === 'int32') checkStorable('tensor', 'value', v, 'int32', ` at index ${positionOf(at, shape)}`);
  return v;
}

/**
 * Copies flat values into `out` at `start` (one loop per case, so the plain float copy and
 * int32 from Int32Array stay fast); everything else goes through {@link storable}.
 */
function copyFlat(flat: ArrayLike<unknown>, out: TypedArray, start: number, dtype: DType, shape: Shape): void {
  const checked = dtype === 'bool' || (dtype === 'int32' && !(flat instanceof Int32Array || flat instanceof Uint8Array));
  if (checked) {
    for (let k = 0; k < flat.length; k++) out[start + k] = storable(flat[k], start + k, shape, dtype);
  } else {
    for (let k = 0; k < flat.length; k++) out[start + k] = Number(flat[k]);
  }
}

function defaultDType(data: TensorData): DType {
  let cur: TensorData = data;
  while (Array.isArray(cur) && cur.length > 0) cur = cur[0] as TensorData;
  if (cur instanceof Int32Array || isInt64Array(cur) || typeof cur === 'bigint') return 'int32';
  if (cur instanceof Uint8Array) return 'bool';
  return typeof cur === 'boolean' ? 'bool' : 'float32';
}

/**
 * Creates a tensor from a number, nested arrays, or flat values (typed or plain array) with `shape`.
 *
 * @example
 * ```ts
 * tensor([[1, 2], [3, 4]]);                       // float32 [2, 2]
 * tensor([true, false]);                          // bool [2]
 * tensor(new Float32Array(6), { shape: [2, 3] }); // float32 [2, 3]
 * ```
 */
export function tensor(data: TensorData, options?: TensorOptions): Tensor {
  const { backend, dtype } = resolveCreate('tensor', options, defaultDType(data), TENSOR_KEYS);
  if (ArrayBuffer.isView(data) && !isTypedArray(data)) throw badValue(data, 0);
  const shape = options?.shape !== undefined ? checkShape('tensor', options.shape) : inferShape(data);
  const size = sizeOf(shape);
  checkBufferLimit(backend, 'tensor', shape, dtype);
  const values = allocArray(dtype, size);
  const flatWithShape = options?.shape !== undefined && (isTypedArray(data) ||
    (Array.isArray(data) && data.every((v) => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')));
  if (flatWithShape) {
    const flat = data as ArrayLike<number | boolean | bigint>;
    if (flat.length !== size) {
      throw new HeedError('tensor', `got ${flat.length} values but shape ${fmtShape(shape)} needs ${size}.`);
    }
    copyFlat(flat, values, 0, dtype, shape);
  } else {
    flattenInto(data, shape, 0, values, { i: 0 }, dtype);
  }
  return finish(fromData(backend, runKernel(backend, 'upload', values, dtype), shape, dtype), options);
}

/**
 * A 0-d tensor holding one number.
 *
 * @example
 * ```ts
 * scalar(3).shape; // []
 * ```
 */
export function scalar(value: number | boolean, options?: CreateOptions): Tensor {
  return tensor(value, options);
}

/** A constant fill of `shape`, validated on behalf of `op`. */
function fill(op: string, shape: unknown, value: unknown, options: CreateOptions | undefined): Tensor {
  const s = checkShape(op, shape);
  const { backend, dtype } = resolveCreate(op, options);
  const v = typeof value === 'boolean' ? Number(value) : value;
  if (typeof v !== 'number') throw new HeedError(op, `value must be a number or a boolean, got ${describeValue(value)}.`);
  checkStorable(op, 'value', v, dtype);
  checkBufferLimit(backend, op, s, dtype);
  return finish(fromData(backend, runKernel(backend, 'fill', sizeOf(s), v, dtype), s, dtype), options);
}

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * ```ts
 * full([2, 2], 7);
 * ```
 */
export function full(shape: readonly number[], value: number, options?: CreateOptions): Tensor {
  return fill('full', shape, value, options);
}

/**
 * A tensor of zeros.
 *
 * @example
 * ```ts
 * zeros([2, 3]);
 * ```
 */
export function zeros(shape: readonly number[], options?: CreateOptions): Tensor {
  return fill('zeros', shape, 0, options);
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * ones([3]);
 * ```
 */
export function ones(shape: readonly number[], options?: CreateOptions): Tensor {
  return fill('ones', shape, 1, options);
}

/** `op` like `x`: x's shape, with x's dtype and backend unless the options say otherwise. */
function fillLike(op: string, x: Tensor, value: unknown, options: CreateOptions | undefined): Tensor {
  commonBackend(op, [x]);
  const o = checkOptions(op, options, CREATE_KEYS);
  return fill(op, x.shape, value, { dtype: o.dtype ?? x.dtype, backend: o.backend ?? x.backend.name, requiresGrad: o.requiresGrad });
}

/**
 * Zeros with the shape, dtype and backend of `x`.
 *
 * @example
 * ```ts
 * zerosLike(x);
 * ```
 */
export function zerosLike(x: Tensor, options?: CreateOptions): Tensor {
  return fillLike('zerosLike', x, 0, options);
}

/**
 * Ones with the shape, dtype and backend of `x`.
 *
 * @example
 * ```ts
 * onesLike(x);
 * ```
 */
export function onesLike(x: Tensor, options?: CreateOptions): Tensor {
  return fillLike('onesLike', x, 1, options);
}

/**
 * `value` everywhere, with the shape, dtype and backend of `x`.
 *
 * @example
 * ```ts
 * fullLike(x, 0.5);
 * ```
 */
export function fullLike(x: Tensor, value: number, options?: CreateOptions): Tensor {
  return fillLike('fullLike', x, value, options);
}

/**
 * Values from `start` (inclusive) to `stop` (exclusive) by `step`; with one argument,
 * `0..start`. Int32 when all arguments are integers, unless `dtype` says otherwise. The
 * bounds must be finite and the result at most {@link MAX_NUMEL} long.
 *
 * @example
 * ```ts
 * arange(5);          // int32 [0, 1, 2, 3, 4]
 * arange(0, 1, 0.25); // float32 [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(start: number, stop?: number, step = 1, options?: CreateOptions): Tensor {
  checkNumber('arange', stop === undefined ? 'stop' : 'start', start);
  if (stop !== undefined) checkNumber('arange', 'stop', stop);
  if (checkNumber('arange', 'step', step) === 0) throw new HeedError('arange', 'step must be non-zero, got 0.');
  const [lo, hi] = stop === undefined ? [0, start] : [start, stop];
  const ints = [lo, hi, step].every(Number.isInteger);
  const { backend, dtype } = resolveCreate('arange', options, ints ? 'int32' : 'float32');
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  checkNumel('arange', [n]);
  checkBufferLimit(backend, 'arange', [n], dtype);
  if (n > 0) {
    checkStorable('arange', 'start', lo, dtype);
    checkStorable('arange', 'last value', lo + (n - 1) * step, dtype);
  }
  const values = DTYPE_INFO[dtype].create(n);
  for (let i = 0; i < n; i++) values[i] = lo + i * step;
  return finish(fromData(backend, runKernel(backend, 'upload', values, dtype), [n], dtype), options);
}

/**
 * `num` evenly spaced values from `start` to `stop`, both inclusive (float32).
 *
 * @example
 * ```ts
 * linspace(0, 1, 5); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(start: number, stop: number, num: number, options?: CreateOptions): Tensor {
  checkNumber('linspace', 'start', start);
  checkNumber('linspace', 'stop', stop);
  checkInt('linspace', 'num', num, { min: 0 });
  checkNumel('linspace', [num]);
  const { backend, dtype } = resolveCreate('linspace', options);
  checkBufferLimit(backend, 'linspace', [num], dtype);
  if (num > 0) for (const v of [start, stop]) checkStorable('linspace', 'bound', v, dtype);
  const values = DTYPE_INFO[dtype].create(num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) values[i] = i === num - 1 && num > 1 ? stop : start + i * step;
  return finish(fromData(backend, runKernel(backend, 'upload', values, dtype), [num], dtype), options);
}

/**
 * An `n x m` identity matrix (m defaults to n).
 *
 * @example
 * ```ts
 * eye(3);
 * ```
 */
export function eye(n: number, m = n, options?: CreateOptions): Tensor {
  checkInt('eye', 'n', n, { min: 0 });
  checkInt('eye', 'm', m, { min: 0 });
  const shape = checkShape('eye', [n, m]);
  const { backend, dtype } = resolveCreate('eye', options);
  checkBufferLimit(backend, 'eye', shape, dtype);
  const values = DTYPE_INFO[dtype].create(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return finish(fromData(backend, runKernel(backend, 'upload', values, dtype), shape, dtype), options);
}
