// SPDX-License-Identifier: MIT
// Creating tensors: from JS data (nested arrays or typed arrays), constant fills, ranges,
// identity matrices. Random creation lives in random.ts.
import type { Backend } from '../backend.js';
import { DTYPE_INFO, PLANNED_DTYPES, allocArray, isDType, type DType, type TypedArray } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { checkShape, sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { findBackend, getBackend } from '../registry.js';
import { fromData } from './dispatch.js';

/**
 * Options for creation ops.
 *
 * @example
 * ```ts
 * zeros([2, 2], { dtype: 'int32', backend: 'cpu' });
 * ```
 */
export interface CreateOptions {
  /** Element type (default float32; bool for boolean data; int32 for Int32Array data). */
  dtype?: DType;
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
export type TensorData = number | boolean | TypedArray | readonly TensorData[];

/** @internal Resolves and validates the creation options. */
export function resolveCreate(op: string, options: CreateOptions | undefined, fallback: DType = 'float32'): { backend: Backend; dtype: DType } {
  const dtype = options?.dtype ?? fallback;
  if (!isDType(dtype)) {
    const planned = (PLANNED_DTYPES as readonly string[]).includes(dtype as string);
    throw new HeedError(op, planned ? `dtype '${String(dtype)}' is planned but not implemented yet; use 'float32'.`
      : `unknown dtype '${String(dtype)}'; use one of float32, int32, bool.`);
  }
  const backend = options?.backend ? findBackend(options.backend) : getBackend();
  if (!backend.capabilities.dtypes.includes(dtype)) {
    throw new HeedError(op, `backend '${backend.name}' does not support ${dtype}.`);
  }
  return { backend, dtype };
}

/** @internal Applies requiresGrad after creation. */
export function finish(t: Tensor, options: CreateOptions | undefined): Tensor {
  return options?.requiresGrad ? t.requiresGrad_() : t;
}

function inferShape(data: TensorData): number[] {
  const shape: number[] = [];
  let cur: TensorData = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0] as TensorData;
  }
  if (ArrayBuffer.isView(cur)) shape.push((cur as TypedArray).length);
  return shape;
}

function flattenInto(data: TensorData, shape: Shape, depth: number, out: TypedArray, pos: { i: number }): void {
  if (depth === shape.length) {
    if (typeof data === 'number' || typeof data === 'boolean') {
      out[pos.i++] = Number(data);
      return;
    }
    throw new HeedError('tensor', `ragged nested array: expected a number at depth ${depth} (inferred shape ${fmtShape(shape)}).`);
  }
  const items = data as ArrayLike<TensorData>;
  if ((!Array.isArray(data) && !ArrayBuffer.isView(data)) || items.length !== shape[depth]) {
    throw new HeedError('tensor', `ragged nested array: every list at depth ${depth} must have length ${shape[depth]} (inferred shape ${fmtShape(shape)}).`);
  }
  if (ArrayBuffer.isView(data)) {
    for (let k = 0; k < items.length; k++) out[pos.i++] = Number(items[k]);
    return;
  }
  for (let k = 0; k < items.length; k++) flattenInto(items[k], shape, depth + 1, out, pos);
}

function defaultDType(data: TensorData): DType {
  let cur: TensorData = data;
  while (Array.isArray(cur) && cur.length > 0) cur = cur[0] as TensorData;
  if (cur instanceof Int32Array) return 'int32';
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
export function tensor(data: TensorData, options?: CreateOptions & { shape?: readonly number[] }): Tensor {
  const { backend, dtype } = resolveCreate('tensor', options, defaultDType(data));
  const shape = options?.shape ? checkShape(options.shape, 'tensor') : inferShape(data);
  const size = sizeOf(shape);
  const values = allocArray(dtype, size);
  const flatWithShape = options?.shape && (ArrayBuffer.isView(data) || (Array.isArray(data) && data.every((v) => typeof v === 'number' || typeof v === 'boolean')));
  if (flatWithShape) {
    const flat = data as ArrayLike<number | boolean>;
    if (flat.length !== size) {
      throw new HeedError('tensor', `got ${flat.length} values but shape ${fmtShape(shape)} needs ${size}.`);
    }
    for (let i = 0; i < size; i++) values[i] = Number(flat[i]);
  } else {
    flattenInto(data, shape, 0, values, { i: 0 });
  }
  if (dtype === 'bool') for (let i = 0; i < size; i++) values[i] = values[i] !== 0 ? 1 : 0;
  return finish(fromData(backend, backend.upload(values, dtype), shape, dtype), options);
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

/**
 * A tensor of `shape` filled with `value`.
 *
 * @example
 * ```ts
 * full([2, 2], 7);
 * ```
 */
export function full(shape: readonly number[], value: number, options?: CreateOptions): Tensor {
  const { backend, dtype } = resolveCreate('full', options);
  const s = checkShape(shape, 'full');
  return finish(fromData(backend, backend.fill(sizeOf(s), value, dtype), s, dtype), options);
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
  return full(shape, 0, options);
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
  return full(shape, 1, options);
}

function likeOptions(x: Tensor, options?: CreateOptions): CreateOptions {
  return { dtype: x.dtype, backend: x.backend.name, ...options };
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
  return full(x.shape, 0, likeOptions(x, options));
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
  return full(x.shape, 1, likeOptions(x, options));
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
  return full(x.shape, value, likeOptions(x, options));
}

/**
 * Values from `start` (inclusive) to `stop` (exclusive) by `step`; with one argument,
 * `0..start`. Int32 when all arguments are integers, unless `dtype` says otherwise.
 *
 * @example
 * ```ts
 * arange(5);          // int32 [0, 1, 2, 3, 4]
 * arange(0, 1, 0.25); // float32 [0, 0.25, 0.5, 0.75]
 * ```
 */
export function arange(start: number, stop?: number, step = 1, options?: CreateOptions): Tensor {
  const [lo, hi] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0 || !Number.isFinite(step)) throw new HeedError('arange', `step must be a non-zero finite number, got ${step}.`);
  const ints = [lo, hi, step].every(Number.isInteger);
  const { backend, dtype } = resolveCreate('arange', options, ints ? 'int32' : 'float32');
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const values = DTYPE_INFO[dtype].create(n);
  for (let i = 0; i < n; i++) values[i] = lo + i * step;
  return finish(fromData(backend, backend.upload(values, dtype), [n], dtype), options);
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
  if (!Number.isInteger(num) || num < 0) throw new HeedError('linspace', `num must be a non-negative integer, got ${num}.`);
  const { backend, dtype } = resolveCreate('linspace', options);
  const values = DTYPE_INFO[dtype].create(num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) values[i] = i === num - 1 && num > 1 ? stop : start + i * step;
  return finish(fromData(backend, backend.upload(values, dtype), [num], dtype), options);
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
  const shape = checkShape([n, m], 'eye');
  const { backend, dtype } = resolveCreate('eye', options);
  const values = DTYPE_INFO[dtype].create(n * m);
  for (let i = 0; i < Math.min(n, m); i++) values[i * m + i] = 1;
  return finish(fromData(backend, backend.upload(values, dtype), shape, dtype), options);
}
