// SPDX-License-Identifier: MIT
// CpuBackend: the reference implementation of core's Backend contract on TypedArrays. The
// class only validates what core does not and delegates to one kernel module per family.
// With the fast path on (the default where WASM SIMD exists), float32 work goes first to the
// WASM SIMD + worker-thread kernels in src/fast/ (which return null when they do not apply)
// and the instance also offers fused softmax/logSoftmax/gelu/layerNorm/adam, which decline
// (return null, so core runs its fallback) wherever the WASM kernel does not apply; there is
// no private JS copy of core's math. `{ fast: false }` or HEED_CPU_FAST=0 keeps the pure
// reference kernels (no fused kernels but the tiled training attention of attention-train.ts).
// Invariants: every kernel returns a new contiguous buffer and never modifies its inputs;
// reads are synchronous (readSync exists) and always return copies; a freed buffer throws on
// any later use; `dispose` makes every later call fail loudly.
import {
  BACKEND_API_VERSION, HeedError, isContiguous, runMatmulThenProgram, sizeOf, type AdamScalars, type Conv2dParams,
  type Backend, type BackendCapabilities, type BinaryOp, type DataId, type DType, type RandomKind,
  type ElementwiseProgram, type ReduceOp, type StridedView, type TypedArray, type UnaryOp,
} from '@heed/core';
import { binaryKernel, castKernel, unaryKernel, whereKernel } from './elementwise.js';
import { canGenerateJs, fusedElementwise } from './fused-elementwise.js';
import { concatKernel, copyKernel, gatherKernel, indexSelectKernel, scatterAddKernel } from './indexing.js';
import { matmulKernel, mergeBatchDims } from './matmul.js';
import { randomKernel } from './random.js';
import { reduceKernel } from './reduce.js';
import { argsortKernel, topkKernel } from './sorting.js';
import { attentionBackwardKernel, attentionForwardKernel } from './attention-train.js';
import { bufferOf, fillBuffer, readBuffer, uploadBuffer, wrap } from './storage.js';
import {
  acquireFastRuntime, envFlag, fastAdam, fastBinary, fastConv2d, fastCopy, fastFill, fastGelu, fastLayerNorm, fastMatmul,
  fastReduce, fastSoftmax, fastUnary, fastUpload, HeapBuffer, type FastRuntime,
} from './fast/index.js';
import type { FastHeapStats } from './fast/heap.js';
import type { NativeProvider } from './fast/native.js';
import { nativeLinear, nativeMatmul } from './fast/native-matmul.js';
import { nativeGelu, nativeLayerNorm, nativeReduce, nativeSoftmax } from './fast/native-rows.js';
import { nativeAdam, nativeAttentionBackward, nativeAttentionForward } from './fast/native-train.js';

const CAPABILITIES: BackendCapabilities = Object.freeze({
  syncRead: true,
  dtypes: Object.freeze(['float32', 'int32', 'bool'] as const),
});
/** With native kernels: rank-4 matmul views (attention heads), which BLAS reads in place; the WASM GEMM takes rank 3, so core's lazy copies (which fuse into programs) stay. */
const NATIVE_CAPABILITIES: BackendCapabilities = Object.freeze({ ...CAPABILITIES, matmulBatchDims: 2 });

/**
 * Options of {@link CpuBackend}.
 *
 * @example
 * ```ts
 * const reference = new CpuBackend({ fast: false }); // debug: plain JS kernels only
 * const twoThreads = new CpuBackend({ threads: 2 });
 * ```
 */
export interface CpuBackendOptions {
  /**
   * Use the WASM SIMD + worker-thread fast path where the platform supports it (default
   * true; the environment variable HEED_CPU_FAST=0 changes the default to false).
   */
  readonly fast?: boolean;
  /** Threads for the fast path, including the caller's (default: all hardware threads, max 8). */
  readonly threads?: number;
  /** Which WASM build: 'relaxed' (fused multiply-add, where supported), 'simd', or 'auto'. */
  readonly simd?: 'auto' | 'simd' | 'relaxed';
  /**
   * Native kernels working on the fast path's heap in place (see `@heed/backend-native`, whose
   * `nativeCpuBackend()` passes them): float32 matmul, row kernels and the Adam update go there
   * first, and to the WASM kernels wherever they decline. Needs the fast path.
   */
  readonly native?: NativeProvider;
  /**
   * The fused training attention (`attentionForward`/`attentionBackward`) runs when a head has
   * at least this many scores (L x S); below it the kernels decline and core's decomposition,
   * which is faster on short sequences, runs (default 2^17, about L = S = 362, or 0 with `native` kernels, whose fused pair wins from L = 64; 0 = always fuse).
   */
  readonly fuseTrainingAttentionFrom?: number;
}

/** See {@link CpuBackendOptions.fuseTrainingAttentionFrom}: measured crossover of fused vs decomposed attention training. */
const FUSE_TRAINING_ATTENTION_FROM = 2 ** 17;

/**
 * What the fast path of a backend is doing, for debugging and benchmarks.
 *
 * @example
 * ```ts
 * new CpuBackend().fastInfo(); // { flavor: 'simd', threads: 2, heap: { ... }, native: null, matmuls: { native: 0, wasm: 3 } } or null
 * ```
 */
export interface CpuFastInfo {
  /** 'relaxed' (fused multiply-add) or 'simd' (mul + add). */
  readonly flavor: 'relaxed' | 'simd';
  /** Threads that take part in parallel kernels right now (workers start asynchronously). */
  readonly threads: number;
  /** Whether the memory is shared (threads possible). */
  readonly shared: boolean;
  readonly heap: FastHeapStats;
  /** The native kernel provider in use (e.g. 'OpenBLAS 0.3.21 Zen, openmp, 2 threads'), or null. */
  readonly native: string | null;
  /**
   * Where this backend's float32 `matmul` calls ran so far (also those inside `matmulElementwise`):
   * on the native provider, or on the WASM GEMM (no provider, or the provider declined the
   * layout). Lets a benchmark or test check that no operand layout silently falls off native.
   */
  readonly matmuls: { readonly native: number; readonly wasm: number };
}

/**
 * The CPU backend: every primitive, computed with plain TypedArray loops, plus (by default)
 * WASM SIMD + worker-thread kernels for float32 matmul, elementwise ops, reductions and fused
 * softmax/logSoftmax/gelu/layerNorm/adam. Buffers are `Float32Array` (float32), `Int32Array`
 * (int32) and `Uint8Array` (bool, 0/1); fast-path float32 buffers live in WASM memory.
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
  /** Synchronous reads; float32, int32 and bool storage; with native kernels also rank-4 (two batch dims) matmul views. */
  readonly capabilities: BackendCapabilities;
  /** Fused `x @ weight^T + bias`, the bias in the GEMM's epilogue (native path only); null (core's matmul + add) where it does not apply. */
  linear?: (x: StridedView, weight: StridedView, bias: StridedView | null) => DataId | null;
  /** Fused softmax over the last axis (fast path only); null (core's fallback) where the WASM kernel does not apply. */
  softmax?: (x: StridedView) => DataId | null;
  /** Fused log-softmax over the last axis (fast path only); null where the WASM kernel does not apply. */
  logSoftmax?: (x: StridedView) => DataId | null;
  /** Fused GELU (fast path only); null where the WASM kernel does not apply. */
  gelu?: (x: StridedView, approximate: 'none' | 'tanh') => DataId | null;
  /** Fused LayerNorm over the last axis (fast path only); null where the WASM kernel does not apply. */
  layerNorm?: (x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number) => DataId | null;
  /**
   * Fused Adam step into new buffers, one WASM pass (fast path only); null where it does not
   * apply (a buffer outside the fast heap, a view with an offset, a full heap).
   */
  adam?: (param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars) => [DataId, DataId, DataId] | null;
  /** Fused conv2d: im2col in the WASM heap + one WASM GEMM (fast path only); null (core's fallback) where it does not apply. */
  conv2d?: (x: StridedView, weight: StridedView, bias: StridedView | null, params: Conv2dParams) => DataId | null;
  /** Fused stable argsort of the last axis (fast path only; JS typed-array sort); null for other layouts/dtypes. */
  argsort?: (x: StridedView, descending: boolean) => DataId | null;
  /** Fused top-k indices of the last axis (fast path only; one pass with a k-buffer); null for other layouts/dtypes. */
  topk?: (x: StridedView, k: number, largest: boolean) => DataId | null;
  /** Fused attention forward for training, `[out, lse]`, in query tiles over this backend's matmul (attention-train.ts; also without the fast path); null for other layouts. */
  attentionForward: (q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean) => [DataId, DataId] | null;
  /** Fused attention backward, `[dq, dk, dv]` from out, dOut and lse, in query tiles (attention-train.ts; also without the fast path); null for other layouts. */
  attentionBackward: (q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean,
    out: StridedView, dOut: StridedView, lse: StridedView) => [DataId, DataId, DataId] | null;
  #disposed = false;
  readonly #fast: FastRuntime | null;
  readonly #native: NativeProvider | null;
  readonly #matmuls = { native: 0, wasm: 0 };

  constructor(options: CpuBackendOptions = {}) {
    const fast = options.fast ?? envFlag('HEED_CPU_FAST') !== '0';
    this.#fast = fast ? acquireFastRuntime({ threads: options.threads, simd: options.simd }) : null;
    const rt = this.#fast;
    this.#native = options.native ?? null;
    this.capabilities = this.#native === null ? CAPABILITIES : NATIVE_CAPABILITIES;
    if (this.#native !== null && rt === null) {
      throw new HeedError('CpuBackend', `native kernels (${this.#native.name}) need the WASM fast path, which is off or unavailable here; drop { fast: false } / HEED_CPU_FAST=0, or leave out \`native\`.`);
    }
    const nat = this.#native;
    const tileOps = {
      matmul: (a: StridedView, b: StridedView) => this.matmul(a, b),
      free: (id: DataId) => this.free(id),
      emit: (a: Float32Array): DataId => (rt !== null && fastUpload(rt, a, 'float32')) || wrap(a, 'float32'),
    };
    // The native pair beats the decomposition from L = 64 up (bench/native_train.mjs --crossover); the JS pair only from 2^17.
    const fuseFrom = options.fuseTrainingAttentionFrom ?? (options.native ? 0 : FUSE_TRAINING_ATTENTION_FROM);
    this.attentionForward = (q, k, v, mask, scale, causal) => {
      this.#live('attentionForward');
      if (q.shape[q.shape.length - 2] * k.shape[k.shape.length - 2] < fuseFrom) return null; // short: the decomposition is faster
      return (rt && nat && nativeAttentionForward(rt, nat, q, k, v, mask, scale, causal)) || attentionForwardKernel(q, k, v, mask, scale, causal, tileOps);
    };
    this.attentionBackward = (q, k, v, mask, scale, causal, out, dOut, lse) => {
      this.#live('attentionBackward');
      return (rt && nat && nativeAttentionBackward(rt, nat, q, k, v, mask, scale, causal, out, dOut, lse)) ||
        attentionBackwardKernel(q, k, v, mask, scale, causal, out, dOut, lse, tileOps);
    };
    if (rt !== null && nat !== null) {
      this.linear = (x, w, b) => { this.#live('linear'); return nativeLinear(rt, nat, x, w, b); };
    }
    if (rt !== null) {
      this.softmax = (x) => { this.#live('softmax'); return (nat && nativeSoftmax(rt, nat, x, false)) || fastSoftmax(rt, x, false); };
      this.logSoftmax = (x) => { this.#live('logSoftmax'); return (nat && nativeSoftmax(rt, nat, x, true)) || fastSoftmax(rt, x, true); };
      this.gelu = (x, approximate) => { this.#live('gelu'); return (nat && nativeGelu(rt, nat, x, approximate)) || fastGelu(rt, x, approximate); };
      this.layerNorm = (x, w, b, eps) => { this.#live('layerNorm'); return (nat && nativeLayerNorm(rt, nat, x, w, b, eps)) || fastLayerNorm(rt, x, w, b, eps); };
      this.adam = (param, grad, expAvg, expAvgSq, step) => (nat && (this.#live('adam'), nativeAdam(rt, nat, param, grad, expAvg, expAvgSq, step))) || this.#adam(rt, param, grad, expAvg, expAvgSq, step);
      this.conv2d = (x, w, b, params) => { this.#live('conv2d'); return fastConv2d(rt, x, w, b, params); };
      this.argsort = (x, descending) => { this.#live('argsort'); return argsortKernel(x, descending); };
      this.topk = (x, k, largest) => { this.#live('topk'); return topkKernel(x, k, largest); };
    }
  }

  /** The fast path's state, or null when this backend runs the reference kernels only. */
  fastInfo(): CpuFastInfo | null {
    const rt = this.#fast;
    if (rt === null) return null;
    return { flavor: rt.flavor, threads: rt.threads, shared: rt.heap.shared, heap: rt.heap.stats(), native: this.#native?.name ?? null, matmuls: { ...this.#matmuls } };
  }

  /** New buffers [param, m, v] from the one-pass WASM kernel (inputs unchanged), or null to decline. */
  #adam(rt: FastRuntime, param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars): [DataId, DataId, DataId] | null {
    this.#live('adam');
    const plain = (v: StridedView) => v.dtype === 'float32' && v.offset === 0 && isContiguous(v.shape, v.strides);
    if (!plain(param) || !plain(grad) || !plain(expAvg) || !plain(expAvgSq)) return null;
    const size = sizeOf(param.shape);
    const out = [HeapBuffer.alloc(rt.heap, size), HeapBuffer.alloc(rt.heap, size), HeapBuffer.alloc(rt.heap, size)];
    let done = false;
    try {
      const outs = out.every((b) => b !== null) ? out as [HeapBuffer, HeapBuffer, HeapBuffer] : null;
      done = outs !== null && fastAdam(rt, param.data, grad.data, expAvg.data, expAvgSq.data, size, step, outs);
      return done ? outs : null;
    } finally {
      if (!done) for (const b of out) b?.release();
    }
  }

  #live(op: string): void {
    if (this.#disposed) {
      throw new HeedError(op, 'the cpu backend was disposed; register it again (registerBackend(cpuBackend)) to keep computing.');
    }
  }

  /** Copies `values` into a new buffer of `dtype`. */
  upload(values: TypedArray, dtype: DType): DataId {
    this.#live('upload');
    return (this.#fast && fastUpload(this.#fast, values, dtype)) || uploadBuffer(values, dtype);
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
    return (this.#fast && fastFill(this.#fast, size, value, dtype)) || fillBuffer(size, value, dtype);
  }

  /** A contiguous copy of a strided view. */
  copy(x: StridedView): DataId {
    this.#live('copy');
    return (this.#fast && fastCopy(this.#fast, x)) || copyKernel(x);
  }

  /** Elementwise unary op. */
  unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
    this.#live(op);
    return (this.#fast && fastUnary(this.#fast, op, x, outDtype)) || unaryKernel(op, x, outDtype);
  }

  /** Elementwise binary op over same-shape (broadcast) views. */
  binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
    this.#live(op);
    return (this.#fast && fastBinary(this.#fast, op, a, b, outDtype)) || binaryKernel(op, a, b, outDtype);
  }

  /** `cond ? a : b` elementwise. */
  where(cond: StridedView, a: StridedView, b: StridedView): DataId {
    this.#live('where');
    return whereKernel(cond, a, b);
  }

  /** sum/prod/max/min over axes, argmax/argmin over one axis. */
  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    this.#live(op);
    const rt = this.#fast;
    return (rt && ((this.#native && nativeReduce(rt, this.#native, op, x, axes, outDtype)) || fastReduce(rt, op, x, axes, outDtype))) || reduceKernel(op, x, axes, outDtype);
  }

  /**
   * Batched `[B, M, K] @ [B, K, N]` into float32 `[B, M, N]`; also `[B1, B2, M, K] @ [B1, B2, K, N]`
   * into `[B1 * B2, M, N]` (capabilities.matmulBatchDims is 2 with native kernels), which the
   * native path reads in place; where it declines, an operand whose batch dims do not merge is
   * copied first.
   */
  matmul(a: StridedView, b: StridedView): DataId {
    this.#live('matmul');
    const rt = this.#fast;
    const nat = rt && this.#native && nativeMatmul(rt, this.#native, a, b);
    if (nat) {
      this.#matmuls.native++;
      return nat;
    }
    if (a.shape.length === 4) {
      const copy = (v: StridedView): DataId => this.copy(v);
      const a3 = mergeBatchDims(a, copy), b3 = mergeBatchDims(b, copy);
      try {
        return this.matmul(a3.view, b3.view);
      } finally {
        for (const d of [a3.copied, b3.copied]) if (d !== null) this.free(d);
      }
    }
    if (rt === null) return matmulKernel(a, b);
    const wasm = fastMatmul(rt, a, b);
    if (wasm) this.#matmuls.wasm++;
    return wasm || matmulKernel(a, b);
  }

  /** A fused elementwise program from lazy execution, as one generated loop (null without eval). */
  elementwise(program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] | null {
    this.#live('elementwise');
    return fusedElementwise(program, inputs, this.#fast, this.#native?.kernels ?? null);
  }

  /**
   * A matmul and the elementwise program reading its product (lazy execution's matmul epilogue):
   * this backend's own matmul into a new buffer, then the program's generated kernel over it, so
   * the values are bitwise matmul-then-program's; null without eval (as `elementwise`), decided
   * before the matmul runs, so the lazy layer's fallback does not compute the product twice.
   */
  matmulElementwise(a: StridedView, b: StridedView, program: ElementwiseProgram, inputs: readonly (StridedView | null)[]): DataId[] | null {
    this.#live('matmulElementwise');
    if (!canGenerateJs()) return null;
    return runMatmulThenProgram({
      matmul: (x, y) => this.matmul(x, y),
      elementwise: (p, vs) => fusedElementwise(p, vs, this.#fast, this.#native?.kernels ?? null),
      copy: (v) => this.copy(v),
      free: (d) => this.free(d),
    }, a, b, program, inputs);
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
