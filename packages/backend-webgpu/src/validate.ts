// SPDX-License-Identifier: MIT
// Argument checks at the WebGPU backend's boundary. Core validates ops before dispatching, but
// the primitives are a public contract (third-party code, tests, future core paths call them
// directly), and a bad argument that reached a kernel generator used to produce invalid WGSL
// whose compile error poisoned the whole runtime. So every primitive checks its dtypes, op
// names, axes, shapes and views here, before anything is allocated or recorded, and throws a
// HeedError naming the op. Also the exhaustive per-dtype host codec (upload/read conversions).
// Invariant: the checks are O(rank) per view, so they cost nothing next to a dispatch.
import { BINARY_OPS, HeedError, REDUCE_OPS, fmtShape, UNARY_OPS, type DType, type RandomKind, type StridedView, type TypedArray } from '@heed/core';

/** How one dtype travels between host arrays and GPU words (one 32-bit word per element). */
interface HostCodec {
  /** Host values to the words uploaded (bool: `value != 0`, so NaN is true, like the CPU backend). */
  readonly toWords: (values: TypedArray) => Float32Array | Int32Array | Uint32Array;
  /** Read-back words to the dtype's host array. */
  readonly fromWords: (bytes: ArrayBuffer) => TypedArray;
  /** The word a fill with `value` writes. */
  readonly fillBits: (value: number) => number;
}

const f32Bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];

/**
 * The dtypes the WebGPU backend stores and how: exhaustive over core's DType, so a new dtype
 * does not compile until it has a codec here.
 *
 * @example
 * ```ts
 * HOST.bool.toWords(new Float32Array([NaN, 0])); // Uint32Array [1, 0]
 * ```
 */
export const HOST: { readonly [D in DType]: HostCodec } = {
  float32: {
    toWords: (v) => (v instanceof Float32Array ? v : Float32Array.from(v)),
    fromWords: (b) => new Float32Array(b),
    fillBits: (x) => f32Bits(x),
  },
  int32: {
    toWords: (v) => (v instanceof Int32Array ? v : Int32Array.from(v)),
    fromWords: (b) => new Int32Array(b),
    fillBits: (x) => (x | 0) >>> 0,
  },
  bool: {
    toWords: (v) => Uint32Array.from(v, (x) => (x !== 0 ? 1 : 0)),
    fromWords: (b) => Uint8Array.from(new Uint32Array(b), (x) => (x !== 0 ? 1 : 0)),
    fillBits: (x) => (x !== 0 ? 1 : 0),
  },
};

/**
 * The dtypes in {@link HOST}, in its order.
 *
 * @example
 * ```ts
 * STORED_DTYPES; // ['float32', 'int32', 'bool']
 * ```
 */
export const STORED_DTYPES = Object.keys(HOST) as DType[];

const RANDOM_KINDS: { readonly [K in RandomKind]: true } = { uniform: true, normal: true };

/**
 * Throws a HeedError for `op` unless `dtype` is one the backend stores.
 *
 * @example
 * ```ts
 * checkDType('cast', 'float16'); // throws "cast: unknown dtype 'float16'; ..."
 * ```
 */
export function checkDType(op: string, dtype: unknown): asserts dtype is DType {
  if (typeof dtype !== 'string' || !Object.hasOwn(HOST, dtype)) {
    throw new HeedError(op, `unknown dtype '${String(dtype)}'; the WebGPU backend stores ${STORED_DTYPES.join(', ')}.`);
  }
}

/**
 * Throws a HeedError unless `op` is one of core's ops of that kind (UNARY_OPS, BINARY_OPS, REDUCE_OPS).
 *
 * @example
 * ```ts
 * checkOp('unary', 'exp'); // ok
 * ```
 */
export function checkOp(kind: 'unary' | 'binary' | 'reduce', op: unknown): void {
  const known: readonly string[] = kind === 'unary' ? UNARY_OPS : kind === 'binary' ? BINARY_OPS : REDUCE_OPS;
  if (typeof op !== 'string' || !known.includes(op)) {
    throw new HeedError(kind, `unknown op '${String(op)}'; the WebGPU backend implements ${known.join(', ')}.`);
  }
}

/**
 * Throws unless `kind` is a distribution of the `random` primitive.
 *
 * @example
 * ```ts
 * checkRandomKind('normal'); // ok
 * ```
 */
export function checkRandomKind(kind: unknown): void {
  if (typeof kind !== 'string' || !Object.hasOwn(RANDOM_KINDS, kind)) {
    throw new HeedError('random', `unknown kind '${String(kind)}'; use ${Object.keys(RANDOM_KINDS).join(' or ')}.`);
  }
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;

/**
 * Throws unless `n` is a non-negative integer (sizes and counts).
 *
 * @example
 * ```ts
 * checkSize('fill', 4); // ok
 * ```
 */
export function checkSize(op: string, n: unknown, what = 'size'): asserts n is number {
  if (!isCount(n)) throw new HeedError(op, `${what} must be a non-negative integer, got ${String(n)}.`);
}

/**
 * Throws unless `shape` is an array of non-negative integers.
 *
 * @example
 * ```ts
 * checkShape('scatterAdd', [3, 2]); // ok
 * ```
 */
export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || !shape.every(isCount)) throw new HeedError(op, `shape [${String(shape)}] must be non-negative integers.`);
}

/**
 * Throws unless `v` is a well-formed view of a buffer of `capacity` elements: known dtype,
 * integer shape/strides/offset (non-negative), one stride per dimension, and every element it
 * names inside the buffer (a kernel would otherwise read neighbouring memory or zeros).
 *
 * @example
 * ```ts
 * checkView('copy', view, 6);
 * ```
 */
export function checkView(op: string, v: StridedView, capacity: number): void {
  checkDType(op, v.dtype);
  checkShape(op, v.shape);
  if (!Array.isArray(v.strides) || v.strides.length !== v.shape.length) {
    throw new HeedError(op, `a view of shape ${fmtShape(v.shape)} has ${Array.isArray(v.strides) ? v.strides.length : 'no'} strides; it needs one per dimension.`);
  }
  if (!v.strides.every(isCount) || !isCount(v.offset)) {
    throw new HeedError(op, `a view's strides ${fmtShape(v.strides)} and offset ${v.offset} must be non-negative integers.`);
  }
  let last = v.offset;
  for (let d = 0; d < v.shape.length; d++) {
    if (v.shape[d] === 0) return;
    last += (v.shape[d] - 1) * v.strides[d];
  }
  if (last >= capacity) {
    throw new HeedError(op, `a view of shape ${fmtShape(v.shape)} (strides ${fmtShape(v.strides)}, offset ${v.offset}) ` +
      `reaches element ${last} of a buffer of ${capacity} elements.`);
  }
}

/**
 * Throws unless every view has the shape of the first (elementwise operands are already broadcast).
 *
 * @example
 * ```ts
 * checkSameShape('add', [a, b]);
 * ```
 */
export function checkSameShape(op: string, views: readonly StridedView[]): void {
  const s = views[0].shape;
  for (const v of views) {
    if (v.shape.length !== s.length || v.shape.some((d, i) => d !== s[i])) {
      throw new HeedError(op, `operand shapes ${fmtShape(s)} and ${fmtShape(v.shape)} differ; broadcast them (stride 0) before the call.`);
    }
  }
}

/**
 * Throws unless `axis` is an integer axis of a rank-`rank` tensor.
 *
 * @example
 * ```ts
 * checkAxis('gather', 1, 2); // ok
 * ```
 */
export function checkAxis(op: string, axis: number, rank: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
    throw new HeedError(op, `axis ${axis} is out of range for a rank-${rank} tensor; it must be in 0..${rank - 1}.`);
  }
}

/**
 * Throws unless `axes` are sorted unique axes of a rank-`rank` tensor (exactly one for arg ops).
 *
 * @example
 * ```ts
 * checkAxes('sum', [0, 2], 3, false); // ok
 * ```
 */
export function checkAxes(op: string, axes: readonly number[], rank: number, single: boolean): void {
  const ok = Array.isArray(axes) && axes.every((a, i) => Number.isInteger(a) && a >= 0 && a < rank && (i === 0 || a > axes[i - 1]));
  if (!ok) throw new HeedError(op, `axes [${String(axes)}] are not sorted unique axes of a rank-${rank} tensor.`);
  if (single && axes.length !== 1) throw new HeedError(op, `reduces exactly one axis, got ${fmtShape(axes)}.`);
}

/**
 * Throws unless `dtype` is `want` (the role names the operand in the message).
 *
 * @example
 * ```ts
 * checkIs('gather', 'the index', index.dtype, 'int32');
 * ```
 */
export function checkIs(op: string, role: string, dtype: DType, want: DType): void {
  if (dtype !== want) throw new HeedError(op, `${role} must be ${want}, got ${dtype}.`);
}

/**
 * Throws unless `index` has the rank of `shape` and no larger size outside `axis` (gather,
 * scatterAdd), so every position the kernel walks exists in the other tensor.
 *
 * @example
 * ```ts
 * checkIndexDims('gather', [2, 3], 1, [2, 5]); // ok
 * ```
 */
export function checkIndexDims(op: string, shape: readonly number[], axis: number, index: readonly number[]): void {
  if (index.length !== shape.length || index.some((d, i) => i !== axis && d > shape[i])) {
    throw new HeedError(op, `index shape ${fmtShape(index)} must have the rank of ${fmtShape(shape)} and no larger size outside axis ${axis}.`);
  }
}

/**
 * Throws unless every view is float32 (matmul, fused kernels).
 *
 * @example
 * ```ts
 * checkFloat('softmax', [x]);
 * ```
 */
export function checkFloat(op: string, views: readonly (StridedView | null)[]): void {
  const bad = views.filter((v): v is StridedView => v !== null && v.dtype !== 'float32');
  if (bad.length > 0) throw new HeedError(op, `needs float32, got ${bad.map((v) => v.dtype).join(' and ')}.`);
}
