// SPDX-License-Identifier: MIT
// The contract between the CPU backend and a native kernel provider (@heed/backend-native's
// heed_native.node, or any object with the same functions): the provider works on the fast
// path's heap memory in place, so tensors never cross a copy. Every address is a byte offset
// into that memory and every stride is in elements; a kernel returns false to decline a case
// (the backend then runs its WASM kernel). `bindHeap` re-binds the memory whenever the heap grew.
// Invariants: the provider never keeps an address after a call returns; it only writes the
// output block it was given.
import type { FastRuntime } from './runtime.js';

/**
 * The raw native kernels (see the file comment for the conventions). Only `bind` and `matmul`
 * are required; each other kernel is used when present.
 *
 * @example
 * ```ts
 * const kernels: NativeKernels = loadNative().kernels; // from @heed/backend-native
 * ```
 */
export interface NativeKernels {
  /** Binds a Float32Array over the whole heap memory (called again after the heap grows). */
  bind(heap: Float32Array): void;
  /**
   * `c[i] = epilogue(a[i] @ b[i])` for i < outer * batch (two batch dims): a is [m, k] with
   * strides (as1, as2), inner batch stride as0 and outer batch stride ao, b likewise [k, n] (bs0,
   * bo); c is contiguous [outer * batch, m, n]; epi 0 none, 1 + bias row vector of n floats at e,
   * 2 + matrix [outer * batch, m, n] at e; act 0 none, 1 relu, 2 gelu, 3 gelu-tanh.
   */
  matmul(batch: number, m: number, n: number, k: number, a: number, as0: number, as1: number, as2: number,
    b: number, bs0: number, bs1: number, bs2: number, c: number, epi: number, e: number, act: number,
    outer: number, ao: number, bo: number): boolean;
  /** Softmax (log = 1: log-softmax) of `rows` contiguous rows of `cols` floats from x into out. */
  softmax?(x: number, out: number, rows: number, cols: number, log: number): boolean;
  /** LayerNorm of contiguous rows; w/b are addresses of `cols` floats or -1 for none. */
  layerNorm?(x: number, w: number, b: number, out: number, rows: number, cols: number, eps: number): boolean;
  /** GELU of `size` contiguous floats (tanh = 1: the tanh approximation). */
  gelu?(x: number, out: number, size: number, tanh: number): boolean;
  /** Reduction over the inner `inner` floats of `outer` contiguous rows; op 0 sum, 1 max, 2 min, 3 prod. */
  reduceRows?(op: number, x: number, out: number, outer: number, inner: number): boolean;
  /** Column reduction: x is [outer, inner] contiguous, out[j] = op over i of x[i, j]; op as reduceRows. */
  reduceCols?(op: number, x: number, out: number, outer: number, inner: number): boolean;
  /**
   * One Adam/AdamW step of `size` floats into outParam/outM/outV (fastAdam's arithmetic; c1, c2 as
   * AdamScalars). weightDecay != 0 first applies decoupled (AdamW, decoupled = 1:
   * `p *= 1 - lr wd`) or L2 (`g += wd p`) decay; an output is disjoint from the inputs or equal to one.
   */
  adam?(param: number, grad: number, m: number, v: number, outParam: number, outM: number, outV: number, size: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: number, c1: number, c2: number): boolean;
  /**
   * A fused elementwise program of lazy execution (float32, no reductions) on the native
   * interpreter: `code` its bytecode (native-program.ts's encodeProgram), `args` the generated
   * WASM program's arguments (n, rows, output addresses, input address + row stride in bytes
   * pairs, constants). False: the interpreter refuses the bytecode (nothing written).
   */
  program?(code: Int32Array, args: Float64Array): boolean;
  /**
   * Fused attention forward (attention-train.ts's semantics): q [B, H, L, D], k [B, H, S, D],
   * v [B, H, S, Dv] contiguous; the additive float mask at element `mask + 4 * (b ms0 + h ms1 +
   * l ms2 + s ms3)` bytes, or mask = -1 for none; causal 1 hides keys s > l. Writes out
   * [B, H, L, Dv] and lse [B, H, L] (-Infinity for fully masked rows).
   */
  attentionForward?(B: number, H: number, L: number, S: number, D: number, Dv: number, q: number, k: number, v: number,
    mask: number, ms0: number, ms1: number, ms2: number, ms3: number, scale: number, causal: number, out: number, lse: number): boolean;
  /**
   * Fused attention backward: the arguments of attentionForward with its out and lse plus dOut
   * [B, H, L, Dv]; writes dq, dk, dv (the shapes of q, k, v; zeros from fully masked rows).
   */
  attentionBackward?(B: number, H: number, L: number, S: number, D: number, Dv: number, q: number, k: number, v: number,
    mask: number, ms0: number, ms1: number, ms2: number, ms3: number, scale: number, causal: number,
    out: number, dOut: number, lse: number, dq: number, dk: number, dv: number): boolean;
}

/**
 * A native provider as the CPU backend sees it: its kernels plus a description for logs.
 *
 * @example
 * ```ts
 * new CpuBackend({ native: { name: 'OpenBLAS 0.3.21 (openmp)', kernels } });
 * ```
 */
export interface NativeProvider {
  /** What runs, e.g. 'OpenBLAS 0.3.21 Zen (openmp, 2 threads)'. */
  readonly name: string;
  readonly kernels: NativeKernels;
}

const bound = new WeakMap<NativeKernels, { buffer: ArrayBufferLike; generation: number }>();

/**
 * Makes sure `kernels` is bound to the runtime's current heap memory (cheap when it is).
 *
 * @example
 * ```ts
 * bindHeap(rt, provider.kernels);
 * provider.kernels.matmul(...);
 * ```
 */
export function bindHeap(rt: FastRuntime, kernels: NativeKernels): void {
  const last = bound.get(kernels);
  const heap = rt.heap;
  if (last !== undefined && last.buffer === heap.buffer && last.generation === heap.generation) return;
  kernels.bind(new Float32Array(heap.buffer));
  bound.set(kernels, { buffer: heap.buffer, generation: heap.generation });
}
