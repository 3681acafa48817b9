// SPDX-License-Identifier: MIT
// The Adam update and fused training attention on a native provider (native.ts). Operands are
// read in place from the heap (copied in first when they live elsewhere); outputs are new
// contiguous HeapBuffers. Each function returns null when the provider lacks the kernel, the
// layout is not one it takes (non-float32, non-contiguous, empty), the heap is full, or the
// kernel declines, so the backend runs its WASM / JS kernel instead; nothing leaks on decline.
// Attention takes exactly what attention-train.ts takes: float32 [B, H, *, *] contiguous q, k,
// v (offset allowed) and an additive float32 rank-4 mask view of any strides (core passes a
// broadcast view with stride 0 on broadcast axes).
import { isContiguous, sizeOf, type AdamScalars, type DataId, type StridedView } from '@heed/core';
import { HeapBuffer, heapSource, type HeapSource } from './buffer.js';
import { bindHeap, type NativeProvider } from './native.js';
import type { FastRuntime } from './runtime.js';

function plain(x: StridedView, rank: number): boolean {
  return x.dtype === 'float32' && x.shape.length === rank && isContiguous(x.shape, x.strides);
}

/** Allocates every size as a HeapBuffer, or releases what it got and returns null. */
function allocAll(rt: FastRuntime, sizes: readonly number[]): HeapBuffer[] | null {
  const out: HeapBuffer[] = [];
  for (const n of sizes) {
    const b = HeapBuffer.alloc(rt.heap, n);
    if (b === null) { for (const x of out) x.release(); return null; }
    out.push(b);
  }
  return out;
}

/**
 * Runs `call` with heap addresses (bytes, view offsets included) of `views` (null: -1) after
 * allocating `sizes` outputs; returns the outputs when the kernel ran, else releases them and
 * returns null. Every temporary heap copy of an input is released either way.
 */
function withHeap(rt: FastRuntime, native: NativeProvider, views: readonly (StridedView | null)[], sizes: readonly number[], op: string,
  call: (inputs: number[], outputs: number[]) => boolean): HeapBuffer[] | null {
  const out = allocAll(rt, sizes);
  if (out === null) return null;
  const held: HeapSource[] = [];
  let ran = false;
  try {
    const inputs: number[] = [];
    for (const v of views) {
      if (v === null) { inputs.push(-1); continue; }
      const s = heapSource(rt.heap, v, op);
      if (s === null) return null;
      held.push(s);
      inputs.push(s.ptr + 4 * v.offset);
    }
    bindHeap(rt, native.kernels);
    ran = call(inputs, out.map((b) => b.ptr));
    return ran ? out : null;
  } finally {
    if (!ran) for (const b of out) b.release();
    for (const s of held) s.release();
  }
}

/**
 * One Adam step into new buffers `[param, m, v]` (inputs unchanged; fastAdam's arithmetic), or
 * null to fall back.
 *
 * @example
 * ```ts
 * nativeAdam(rt, provider, p, g, m, v, step) ?? fastAdamPath();
 * ```
 */
export function nativeAdam(rt: FastRuntime, native: NativeProvider, param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars): [DataId, DataId, DataId] | null {
  const adam = native.kernels.adam;
  if (adam === undefined) return null;
  const views = [param, grad, expAvg, expAvgSq];
  const size = sizeOf(param.shape);
  if (size === 0 || views.some((v) => !plain(v, param.shape.length) || sizeOf(v.shape) !== size)) return null;
  const out = withHeap(rt, native, views, [size, size, size], 'adam', ([p, g, m, v], [po, mo, vo]) =>
    adam.call(native.kernels, p, g, m, v, po, mo, vo, size, step.lr, step.beta1, step.beta2, step.eps, 0, 0, step.c1, step.c2));
  return out === null ? null : [out[0], out[1], out[2]];
}

/** Attention sizes [B, H, L, S, D, Dv]. */
type Dims = [number, number, number, number, number, number];

/** The sizes of consistent, non-empty q, k, v, or null. */
function dims(q: StridedView, k: StridedView, v: StridedView): Dims | null {
  if (!plain(q, 4) || !plain(k, 4) || !plain(v, 4)) return null;
  const [B, H, L, D] = q.shape;
  const S = k.shape[2];
  const Dv = v.shape[3];
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D || v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== S) return null;
  return B * H * L * S * D * Dv === 0 ? null : [B, H, L, S, D, Dv];
}

/** The mask's element strides over [B, H, L, S] (0 on size-1 axes), or null when its shape does not fit. */
function maskStrides(mask: StridedView | null, d: Dims): number[] | null {
  if (mask === null) return [0, 0, 0, 0];
  if (mask.dtype !== 'float32' || mask.shape.length !== 4) return null;
  const target = [d[0], d[1], d[2], d[3]];
  const st: number[] = [];
  for (let i = 0; i < 4; i++) {
    if (mask.shape[i] === 1) st.push(0);
    else if (mask.shape[i] === target[i] && mask.strides[i] >= 0) st.push(mask.strides[i]);
    else return null;
  }
  return st;
}

/**
 * `[out, lse]` of fused attention (attentionForwardKernel's arguments and results) on the
 * native provider, or null to fall back.
 *
 * @example
 * ```ts
 * nativeAttentionForward(rt, provider, q, k, v, null, 0.125, true) ?? attentionForwardKernel(q, k, v, null, 0.125, true, ops);
 * ```
 */
export function nativeAttentionForward(rt: FastRuntime, native: NativeProvider, q: StridedView, k: StridedView, v: StridedView,
  mask: StridedView | null, scale: number, causal: boolean): [DataId, DataId] | null {
  const kernel = native.kernels.attentionForward;
  const d = dims(q, k, v);
  const ms = d && maskStrides(mask, d);
  if (kernel === undefined || d === null || ms === null) return null;
  const [B, H, L, , , Dv] = d;
  const out = withHeap(rt, native, [q, k, v, mask], [B * H * L * Dv, B * H * L], 'attentionForward', ([pq, pk, pv, pm], [po, pl]) =>
    kernel.call(native.kernels, ...d, pq, pk, pv, pm, ms[0], ms[1], ms[2], ms[3], scale, causal ? 1 : 0, po, pl));
  return out === null ? null : [out[0], out[1]];
}

/**
 * `[dq, dk, dv]` of fused attention (attentionBackwardKernel's arguments and results) on the
 * native provider, or null to fall back.
 *
 * @example
 * ```ts
 * nativeAttentionBackward(rt, provider, q, k, v, null, 0.125, true, out, dOut, lse) ?? attentionBackwardKernel(...);
 * ```
 */
export function nativeAttentionBackward(rt: FastRuntime, native: NativeProvider, q: StridedView, k: StridedView, v: StridedView,
  mask: StridedView | null, scale: number, causal: boolean, out: StridedView, dOut: StridedView, lse: StridedView): [DataId, DataId, DataId] | null {
  const kernel = native.kernels.attentionBackward;
  const d = dims(q, k, v);
  const ms = d && maskStrides(mask, d);
  if (kernel === undefined || d === null || ms === null || !plain(out, 4) || !plain(dOut, 4) || !plain(lse, 3)) return null;
  const [B, H, L, S, D, Dv] = d;
  const rows = [B, H, L, Dv];
  if (out.shape.some((n, i) => n !== rows[i]) || dOut.shape.some((n, i) => n !== rows[i]) || lse.shape.some((n, i) => n !== rows[i])) return null;
  const grads = withHeap(rt, native, [q, k, v, mask, out, dOut, lse], [B * H * L * D, B * H * S * D, B * H * S * Dv], 'attentionBackward',
    ([pq, pk, pv, pm, po, py, pl], [dq, dk, dv]) =>
      kernel.call(native.kernels, ...d, pq, pk, pv, pm, ms[0], ms[1], ms[2], ms[3], scale, causal ? 1 : 0, po, py, pl, dq, dk, dv));
  return grads === null ? null : [grads[0], grads[1], grads[2]];
}
