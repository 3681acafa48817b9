// SPDX-License-Identifier: MIT
// The backend contract: the closed set of primitives every backend implements, plus optional
// fused kernels. Core owns views, broadcasting decisions, dtype rules, autograd and fallbacks;
// a backend only computes. Invariants for implementers:
// - Every kernel returns a NEW contiguous (row-major) buffer; inputs are never modified.
// - Inputs arrive as StridedView: any strides (0 = broadcast, negative never used), any offset.
// - Binary/where operands arrive already expanded to the output shape (broadcast via 0 strides).
// - Shapes are validated by core; kernels may assume them valid. Zero-size tensors reach kernels.
// - A fused kernel may decline a call by returning null: core then runs its own fallback from
//   primitives, so a backend never needs a private copy of core's math.
// - Layout arithmetic (sizeOf, contiguousStrides, isContiguous, coalesceDims, StridedWalker...)
//   comes from core's shape.ts and layout.ts, exported for backends.
import { DTYPE_INFO, type DType, type TypedArray } from './dtype.js';
import { HeedError, fmtShape } from './errors.js';
import type { ElementwiseProgram } from './lazy/program.js';

/**
 * The backend contract version. Core refuses to register a backend built for another version.
 *
 * @example
 * ```ts
 * const backend = { apiVersion: BACKEND_API_VERSION, ... };
 * ```
 */
export const BACKEND_API_VERSION = 1;

/**
 * An opaque handle to a backend's buffer. Each backend decides what it holds.
 *
 * @example
 * ```ts
 * const id: DataId = backend.upload(new Float32Array([1, 2]), 'float32');
 * ```
 */
export type DataId = object;

/**
 * A strided window onto a buffer: element (i0, i1, ...) lives at
 * `offset + i0*strides[0] + i1*strides[1] + ...` (in elements, not bytes).
 *
 * @example
 * ```ts
 * // the transpose of a contiguous 2x3 buffer
 * const v: StridedView = { data, dtype: 'float32', shape: [3, 2], strides: [1, 3], offset: 0 };
 * ```
 */
export interface StridedView {
  readonly data: DataId;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * Elementwise single-input primitives. `not` is for bool; the rest compute in the output dtype.
 *
 * @example
 * ```ts
 * UNARY_OPS.includes('exp'); // true
 * ```
 */
export const UNARY_OPS = [
  'neg', 'abs', 'sign', 'exp', 'expm1', 'log', 'log1p', 'sqrt', 'rsqrt', 'square', 'reciprocal',
  'sin', 'cos', 'tanh', 'sigmoid', 'relu', 'erf', 'floor', 'ceil', 'round', 'not', 'isnan',
] as const;

/**
 * One of {@link UNARY_OPS}.
 *
 * @example
 * ```ts
 * const op: UnaryOp = 'tanh';
 * ```
 */
export type UnaryOp = (typeof UNARY_OPS)[number];

/**
 * Elementwise two-input primitives. Comparisons and logical ops produce `bool`.
 * `mod` follows Python/PyTorch `remainder` (result has the sign of the divisor);
 * `div` is true division.
 *
 * @example
 * ```ts
 * BINARY_OPS.includes('maximum'); // true
 * ```
 */
export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'mod', 'atan2',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor',
] as const;

/**
 * One of {@link BINARY_OPS}.
 *
 * @example
 * ```ts
 * const op: BinaryOp = 'mul';
 * ```
 */
export type BinaryOp = (typeof BINARY_OPS)[number];

/**
 * Reduction primitives. `argmax`/`argmin` reduce exactly one axis and return int32 indices
 * of the first extreme value.
 *
 * @example
 * ```ts
 * REDUCE_OPS.includes('sum'); // true
 * ```
 */
export const REDUCE_OPS = ['sum', 'prod', 'max', 'min', 'argmax', 'argmin'] as const;

/**
 * One of {@link REDUCE_OPS}.
 *
 * @example
 * ```ts
 * const op: ReduceOp = 'max';
 * ```
 */
export type ReduceOp = (typeof REDUCE_OPS)[number];

/**
 * Distributions the `random` primitive draws from.
 *
 * @example
 * ```ts
 * const kind: RandomKind = 'normal';
 * ```
 */
export type RandomKind = 'uniform' | 'normal';

/**
 * The primitives. Every one is required: a backend that lacks one does not type-check.
 *
 * @example
 * ```ts
 * const kernels: Primitives = { upload, read, free, fill, copy, unary, binary, where, reduce,
 *   matmul, cast, gather, indexSelect, scatterAdd, concat, random };
 * ```
 */
export interface Primitives {
  /** Copies host values into a new buffer of `values.length` elements. */
  upload(values: TypedArray, dtype: DType): DataId;
  /** Reads `size` elements of a buffer back to the host (resolves after pending work). */
  read(data: DataId, dtype: DType, size: number): Promise<TypedArray>;
  /** Releases a buffer. Called exactly once per buffer, when its last tensor is gone. */
  free(data: DataId): void;
  /** A new buffer of `size` elements all equal to `value`. */
  fill(size: number, value: number, dtype: DType): DataId;
  /** Materialises a strided view into a new contiguous buffer (same dtype). */
  copy(x: StridedView): DataId;
  /** `op` applied elementwise; result has `x.shape` and dtype `outDtype`. */
  unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId;
  /** `op` applied elementwise to same-shape views (already broadcast); result dtype `outDtype`. */
  binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId;
  /** `cond ? a : b` elementwise over same-shape views; `cond` is bool; result dtype `a.dtype`. */
  where(cond: StridedView, a: StridedView, b: StridedView): DataId;
  /**
   * Reduces over `axes` (sorted, unique, non-empty for arg ops: exactly one). Output shape is
   * `x.shape` without those axes. `max`/`min` of an empty axis is never requested.
   */
  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId;
  /**
   * Batched matrix product of rank-3 views `a: [B, M, K]` and `b: [B, K, N]` (batch broadcast
   * expressed by stride 0; transposed operands by swapped strides). Result `[B, M, N]`, float32,
   * contiguous. A backend whose `capabilities.matmulBatchDims` is 2 also gets rank-4 views
   * `[B1, B2, M, K]` x `[B1, B2, K, N]` (two batch strides each) and returns `[B1 * B2, M, N]`.
   */
  matmul(a: StridedView, b: StridedView): DataId;
  /** Converts to another dtype (float->int truncates toward zero; to bool: value != 0). */
  cast(x: StridedView, dtype: DType): DataId;
  /** PyTorch `gather`: `out[..i..] = x[..index[..i..]..]` along `axis`; out shape = index shape. */
  gather(x: StridedView, axis: number, index: StridedView): DataId;
  /** Rows of `x` along `axis` picked by 1-D int32 `index`. */
  indexSelect(x: StridedView, axis: number, index: StridedView): DataId;
  /**
   * Zeros of `shape` (dtype `src.dtype`), then `out[..index[..i..]..] += src[..i..]` along `axis`.
   * `index` and `src` have the same shape.
   */
  scatterAdd(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId;
  /** Joins views (same dtype, same shape except along `axis`) along `axis`. */
  concat(inputs: readonly StridedView[], axis: number): DataId;
  /**
   * `size` float32 random values from the counter-based generator in `random-bits.ts`:
   * element i uses counter `offset + i` under `seed` (so every backend draws identical values).
   */
  random(kind: RandomKind, size: number, seed: number, offset: number): DataId;
}

/**
 * Optional fused kernels. Core has a fallback (built from primitives) and the gradient for
 * each; a backend may override any subset for speed. Inputs are contiguous (offset allowed);
 * the reduced axis is the last one.
 *
 * Any fused kernel may **decline** a call by returning `null` (for a layout, size or dtype it
 * does not handle, a full scratch heap, ...): core then runs its fallback from primitives on
 * the same inputs, and the gradient is the same either way. A kernel that declines must not
 * have written or kept anything observable: it frees whatever it allocated for the call.
 *
 * @example
 * ```ts
 * const fused: Partial<FusedKernels> = {
 *   // handles rows up to 1024 wide, leaves the rest to core's decomposition
 *   softmax: (x) => (x.shape.at(-1)! <= 1024 ? mySoftmaxShader(x) : null),
 * };
 * ```
 */
export interface FusedKernels {
  /**
   * `x @ weight^T + bias` (`torch.nn.functional.linear`) on float32 `x` `[M, K]` and `weight`
   * `[N, K]` (any strides: transposed and offset views are fine) with an optional contiguous
   * `bias` `[N]`, added in the GEMM's epilogue. Returns a NEW contiguous `[M, N]`, or null to
   * decline (core then runs matmul + add).
   */
  linear(x: StridedView, weight: StridedView, bias: StridedView | null): DataId | null;
  /** Softmax over the last axis, or null to decline. */
  softmax(x: StridedView): DataId | null;
  /** Log-softmax over the last axis, or null to decline. */
  logSoftmax(x: StridedView): DataId | null;
  /** GELU, exact (erf) or tanh approximation, or null to decline. */
  gelu(x: StridedView, approximate: 'none' | 'tanh'): DataId | null;
  /** LayerNorm over the last axis with optional affine weight/bias of that length, or null to decline. */
  layerNorm(x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number): DataId | null;
  /**
   * Scaled dot-product attention on `[B, H, L, D]` q and `[B, H, S, D]` k/v (float32), with an
   * optional additive float mask broadcastable to `[B, H, L, S]` (already expanded by core) and
   * a causal flag. Returns `[B, H, L, Dv]`, or null to decline. Fully masked rows produce zeros.
   */
  attention(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): DataId | null;
  /**
   * The forward of fused attention for training (flash-attention style: never a whole `[L, S]`
   * score matrix, e.g. keys in tiles with an online softmax): q `[B, H, L, D]`, k `[B, H, S, D]`,
   * v `[B, H, S, Dv]` contiguous float32 (offset allowed); `mask` an additive float32 view of
   * shape `[B, H, L, S]` (any strides, 0 for broadcast axes) or null; `causal` hides key s from
   * query l when s > l. Returns NEW `[out [B, H, L, Dv], lse [B, H, L]]` where lse is the
   * natural log of each row's softmax denominator including the row maximum (`-Infinity` for a
   * fully masked row, whose output is zeros), or null to decline.
   */
  attentionForward(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): [DataId, DataId] | null;
  /**
   * The backward of {@link FusedKernels.attentionForward} (FlashAttention-2's): from the same
   * q, k, v, mask, scale and causal flag plus `out`, its upstream gradient `dOut` (both
   * `[B, H, L, Dv]` contiguous) and `lse` `[B, H, L]`, recomputes the probabilities tile by tile
   * (`P = exp(s - lse)`, `D = rowsum(dOut * out)`, `dS = P * (dOut v^T - D)`) and returns NEW
   * `[dq, dk, dv]` of the shapes of q, k and v (zeros from fully masked rows), or null to decline.
   */
  attentionBackward(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean,
    out: StridedView, dOut: StridedView, lse: StridedView): [DataId, DataId, DataId] | null;
  /**
   * One Adam step on float32 views of equal shape (param, grad and the two moments), returning
   * NEW buffers `[param, expAvg, expAvgSq]` (inputs are never written), or null to decline:
   * `m' = beta1 m + (1 - beta1) g`, `v' = beta2 v + (1 - beta2) g^2`,
   * `param' = param - lr (m' c1) / (sqrt(v' c2) + eps)` with `c1 = 1 / (1 - beta1^t)` and
   * `c2 = 1 / (1 - beta2^t)` (PyTorch's formula).
   */
  adam(param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars): [DataId, DataId, DataId] | null;
  /**
   * Stable argsort of each row (the last axis) of a float32 or int32 view: NEW int32 indices of
   * `x.shape` that order every row ascending (or `descending`), equal values in index order,
   * NaN as the largest value (PyTorch's order). Or null to decline.
   */
  argsort(x: StridedView, descending: boolean): DataId | null;
  /**
   * The first `k` (1 <= k < row length) indices {@link FusedKernels.argsort} would give for each
   * row, `[..., k]` int32: the k largest (`largest`, i.e. a descending sort) or k smallest, in
   * that order. Or null to decline.
   */
  topk(x: StridedView, k: number, largest: boolean): DataId | null;
  /**
   * 2-D convolution (cross-correlation) of float32 `x` `[N, C, H, W]` with `weight`
   * `[O, C/groups, kH, kW]` and an optional `bias` `[O]` (all contiguous, offset allowed), the
   * geometry already checked by core: returns `[N, O, outH, outW]` where output (i, j) reads
   * input rows `i*stride[0] - pad[0] + kh*dilation[0]` (zero outside the input), or null to decline.
   */
  conv2d(x: StridedView, weight: StridedView, bias: StridedView | null, params: Conv2dParams): DataId | null;
  /**
   * Runs a fused elementwise program (what lazy execution makes of a chain of unary / binary /
   * where / cast primitives): NEW contiguous buffers, one per `program.outputs` entry, with the
   * values the primitives would give op by op (see {@link ElementwiseProgram}). Backends cache
   * compiled kernels by {@link programKey}. Or null to decline (the chain then runs op by op).
   */
  elementwise(program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] | null;
  /**
   * A matmul whose product feeds an elementwise program (the epilogue: bias, activation,
   * residual add, scaling, casts...). `a`/`b` follow `matmul`'s contract exactly (float32,
   * [...batch, M, K] and [...batch, K, N], batch already broadcast by core). `program.shape` is
   * the product's shape [...batch, M, N]; `program.reduceAxes` is 0 or absent. `inputs` are the
   * program's inputs as for `elementwise`, except that exactly one entry is `null`: that slot is
   * the product, read element-aligned (identity). The product is written out only where one of
   * `program.outputs` is an `input` expr of that slot. Returns the program's outputs (NEW
   * contiguous buffers, in `program.outputs` order) or null to decline (the lazy layer then runs
   * `matmul` and then `elementwise`). Every value must equal matmul-then-program bit for bit on
   * the same backend, except that a backend may compute the product in a different summation
   * order only if its own `matmul` does the same. The lazy layer calls it itself (it is not a
   * user-visible fused kernel).
   *
   * @example
   * ```ts
   * // relu(a @ b + bias): input 0 is the product (null), input 1 the bias row broadcast over M
   * const program: ElementwiseProgram = {
   *   shape: [1, m, n],
   *   exprs: [
   *     { op: 'input', input: 0, dtype: 'float32' }, { op: 'input', input: 1, dtype: 'float32' },
   *     { op: 'binary', fn: 'add', a: 0, b: 1, dtype: 'float32' }, { op: 'unary', fn: 'relu', x: 2, dtype: 'float32' },
   *   ],
   *   outputs: [3],
   * };
   * const [y] = backend.matmulElementwise?.(a, b, program, [null, biasRows]) ?? fallback();
   * ```
   */
  matmulElementwise(a: StridedView, b: StridedView, program: ElementwiseProgram, inputs: readonly (StridedView | null)[]): DataId[] | null;
}

/**
 * Geometry of one {@link FusedKernels.conv2d} call, per spatial axis `[h, w]`.
 *
 * @example
 * ```ts
 * const p: Conv2dParams = { stride: [1, 1], pad: [1, 1], dilation: [1, 1], groups: 1, out: [8, 8] };
 * ```
 */
export interface Conv2dParams {
  /** Step between output positions. */
  readonly stride: readonly [number, number];
  /** Zero padding before the first input element (the padding after is implied by `out`). */
  readonly pad: readonly [number, number];
  /** Spacing between kernel taps. */
  readonly dilation: readonly [number, number];
  /** Channel groups (C and O are multiples of it). */
  readonly groups: number;
  /** Output size. */
  readonly out: readonly [number, number];
}

/**
 * The scalars of one Adam step (see {@link FusedKernels.adam}).
 *
 * @example
 * ```ts
 * const s: AdamScalars = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 1 / (1 - 0.9), c2: 1 / (1 - 0.999) };
 * ```
 */
export interface AdamScalars {
  /** Learning rate. */
  readonly lr: number;
  /** Decay of the first moment. */
  readonly beta1: number;
  /** Decay of the second moment. */
  readonly beta2: number;
  /** Added to the denominator. */
  readonly eps: number;
  /** First-moment bias correction, 1 / (1 - beta1^t). */
  readonly c1: number;
  /** Second-moment bias correction, 1 / (1 - beta2^t). */
  readonly c2: number;
}

/**
 * What a backend can do, declared once at creation.
 *
 * @example
 * ```ts
 * const caps: BackendCapabilities = { syncRead: true, dtypes: ['float32', 'int32', 'bool'] };
 * ```
 */
export interface BackendCapabilities {
  /** Whether `readSync` exists (so `dataSync()` works). */
  readonly syncRead: boolean;
  /** Dtypes the backend stores. */
  readonly dtypes: readonly DType[];
  /**
   * Largest buffer in bytes, if limited (e.g. WebGPU's maxStorageBufferBindingSize). Core
   * checks the result of every op that can grow (creation, broadcasting, matmul, concat,
   * gather, ...) against it before dispatch ({@link checkBufferLimit}), counting
   * `DTYPE_INFO[dtype].bytesPerElement` per element.
   */
  readonly maxBufferBytes?: number;
  /**
   * Batch dims `matmul` views may have: 1 (default) or 2. With 2, core passes operands whose
   * batch dims do not flatten into one stride (attention heads permuted out of `[B, T, H, D]`)
   * as `[B1, B2, rows, cols]` views instead of copying them first.
   */
  readonly matmulBatchDims?: 1 | 2;
}

/**
 * Throws a HeedError naming `op`, the result shape and dtype, its size in bytes and the limit
 * when a result of `shape` and `dtype` would not fit in one buffer of `backend`
 * (`capabilities.maxBufferBytes`); does nothing for backends without a limit. Core calls it
 * before dispatching an op whose result can be larger than its inputs, so the backend never
 * sees the request.
 *
 * @example
 * ```ts
 * checkBufferLimit(webgpu, 'matmul', [65536, 65536], 'float32');
 * // HeedError: matmul: the result [65536, 65536] float32 needs 17179869184 bytes, but one buffer of backend 'webgpu' holds at most 134217728 (capabilities.maxBufferBytes); ...
 * ```
 */
export function checkBufferLimit(backend: Backend, op: string, shape: readonly number[], dtype: DType): void {
  const limit = backend.capabilities.maxBufferBytes;
  if (limit === undefined) return;
  let bytes = DTYPE_INFO[dtype]?.bytesPerElement ?? 4;
  for (const d of shape) bytes *= d;
  if (bytes > limit) {
    throw new HeedError(op, `the result ${fmtShape(shape)} ${dtype} needs ${bytes} bytes, but one buffer of backend ` +
      `'${backend.name}' holds at most ${limit} (capabilities.maxBufferBytes); split the work into smaller pieces ` +
      '(e.g. process the batch in chunks) or use a backend without this limit.');
  }
}

/**
 * A backend: identity, capabilities, all primitives and any fused kernels.
 *
 * @example
 * ```ts
 * registerBackend({ name: 'toy', priority: 1, create: () => new ToyBackend() });
 * ```
 */
export interface Backend extends Primitives, Partial<FusedKernels> {
  /** Unique name, e.g. `'cpu'` or `'webgpu'`. */
  readonly name: string;
  /** Must equal {@link BACKEND_API_VERSION}. */
  readonly apiVersion: number;
  readonly capabilities: BackendCapabilities;
  /** Synchronous read; present only when `capabilities.syncRead` is true. */
  readSync?(data: DataId, dtype: DType, size: number): TypedArray;
  /** Submits any batched work (e.g. a WebGPU command encoder). */
  flush?(): void;
  /**
   * Told once, when autograd first keeps buffer `data` in a saved tensor for a backward. A lazy
   * backend may then leave such an intermediate uncomputed and recompute it where the backward
   * reads it. Optional; a hint only, values never depend on it.
   */
  savedForBackward?(data: DataId): void;
  /** Releases everything the backend holds. */
  dispose?(): void;
}

/**
 * Names of the required primitives, for checks at registration time.
 *
 * @example
 * ```ts
 * PRIMITIVE_NAMES.length; // 16
 * ```
 */
export const PRIMITIVE_NAMES = [
  'upload', 'read', 'free', 'fill', 'copy', 'unary', 'binary', 'where', 'reduce', 'matmul', 'cast',
  'gather', 'indexSelect', 'scatterAdd', 'concat', 'random',
] as const satisfies readonly (keyof Primitives)[];

// Compile-time proof that PRIMITIVE_NAMES lists every primitive.
type MissingPrimitive = Exclude<keyof Primitives, (typeof PRIMITIVE_NAMES)[number]>;
const _allPrimitivesListed: MissingPrimitive extends never ? true : never = true;
void _allPrimitivesListed;

/**
 * Names of the optional fused kernels (every key of {@link FusedKernels}).
 *
 * @example
 * ```ts
 * FUSED_KERNEL_NAMES.includes('attention'); // true
 * ```
 */
export const FUSED_KERNEL_NAMES = [
  'linear', 'softmax', 'logSoftmax', 'gelu', 'layerNorm', 'attention', 'attentionForward', 'attentionBackward', 'adam', 'argsort', 'topk',
  'conv2d', 'elementwise', 'matmulElementwise',
] as const satisfies readonly (keyof FusedKernels)[];

// Compile-time proof that FUSED_KERNEL_NAMES lists every fused kernel.
type MissingFused = Exclude<keyof FusedKernels, (typeof FUSED_KERNEL_NAMES)[number]>;
const _allFusedListed: MissingFused extends never ? true : never = true;
void _allFusedListed;
