// SPDX-License-Identifier: MIT
// Fused attention for training on the CPU backend (core's FusedKernels.attentionForward /
// attentionBackward), flash-attention style: each head is processed in tiles of TILE query
// rows, so the only score-sized scratch is two [TILE, S] blocks (never the [L, S] matrix of a
// head). The products inside a tile (Q K^T, P V, dOut V^T, dS K, dS^T Q, P^T dOut) go through
// the backend's own matmul (the WASM SIMD GEMM on the fast path, the JS kernel otherwise) on
// strided views of the inputs; the softmax and its gradient run in JS on the tile. The forward
// keeps each row's log-sum-exp; the backward (FlashAttention-2's) recomputes P = exp(s - lse)
// from it with D = rowsum(dOut * out) and dS = P * (dP - D). Fully masked rows
// (lse = -Infinity) give zeros and add nothing to dk, dv. Declines (null) for anything but
// float32 [B, H, *, *] with contiguous q, k, v (offset allowed).
import { isContiguous, type DataId, type StridedView } from '@heed/core';
import { arrayOf } from './storage.js';

/** Query rows per tile. */
const TILE = 64;

/** What the kernels need from the backend: its matmul and free, and a way to turn a result array into a buffer. */
export interface TileOps {
  /** The backend's batched matmul of rank-3 views (a new contiguous buffer). */
  matmul(a: StridedView, b: StridedView): DataId;
  free(id: DataId): void;
  /** Turns a finished Float32Array into a backend buffer (the fast path copies it into its heap). */
  emit(values: Float32Array): DataId;
}

interface Geometry {
  B: number; H: number; L: number; S: number; D: number; Dv: number;
  q: StridedView; k: StridedView; v: StridedView;
  /** Additive mask values and the element index of (b, h, l, s) = mo + b*ms[0] + h*ms[1] + l*ms[2] + s*ms[3]. */
  m: Float32Array | null; mo: number; ms: readonly number[];
}

/** The float32 array of a buffer (read again after every allocation: the fast heap may grow). */
function f32(data: DataId, op: string): Float32Array {
  return arrayOf(data, op) as Float32Array;
}

function plain(x: StridedView, rank: number): boolean {
  return x.dtype === 'float32' && x.shape.length === rank && isContiguous(x.shape, x.strides);
}

function geometry(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, op: string): Geometry | null {
  if (!plain(q, 4) || !plain(k, 4) || !plain(v, 4)) return null;
  if (mask !== null && (mask.dtype !== 'float32' || mask.shape.length !== 4)) return null;
  const [B, H, L, D] = q.shape;
  const S = k.shape[2];
  if (k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D || v.shape[0] !== B || v.shape[1] !== H || v.shape[2] !== S) return null;
  return { B, H, L, S, D, Dv: v.shape[3], q, k, v, m: mask === null ? null : f32(mask.data, op), mo: mask?.offset ?? 0, ms: mask?.strides ?? [0, 0, 0, 0] };
}

/** A [1, rows, cols] view of `x`'s buffer starting at element `offset` (row stride `rowStride`, column stride `colStride`). */
function mat(x: { data: DataId }, offset: number, rows: number, cols: number, rowStride: number, colStride = 1): StridedView {
  return { data: x.data, dtype: 'float32', shape: [1, rows, cols], strides: [0, rowStride, colStride], offset };
}

/** One tile of query rows [l0, l0 + rows) of head (b, h), seeing keys [0, n). */
interface Tile { b: number; h: number; head: number; l0: number; rows: number; n: number }

function* tiles(g: Geometry, causal: boolean): Generator<Tile> {
  for (let b = 0; b < g.B; b++) for (let h = 0; h < g.H; h++) {
    for (let l0 = 0; l0 < g.L; l0 += TILE) {
      const rows = Math.min(TILE, g.L - l0);
      yield { b, h, head: b * g.H + h, l0, rows, n: causal ? Math.min(g.S, l0 + rows) : g.S };
    }
  }
}

/** Scores of a tile: Q_t K^T (a new [rows, n] buffer). */
function scores(g: Geometry, t: Tile, ops: TileOps): DataId {
  const { D, S, L } = g;
  return ops.matmul(mat(g.q, g.q.offset + (t.head * L + t.l0) * D, t.rows, D, D), mat(g.k, g.k.offset + t.head * S * D, D, t.n, 1, D));
}

/**
 * Row `i` of a score tile `a` (length n, at a[base..]) scaled and masked in place: -Infinity
 * where the causal flag or the mask hides the key. Returns the row maximum.
 */
function maskRow(g: Geometry, t: Tile, i: number, a: Float32Array, base: number, scale: number, causal: boolean): number {
  const l = t.l0 + i;
  const visible = causal ? Math.min(t.n, l + 1) : t.n;
  const m = g.m;
  const ms = g.ms;
  const mBase = g.mo + t.b * ms[0] + t.h * ms[1] + l * ms[2];
  const ms3 = ms[3];
  let max = -Infinity;
  for (let s = 0; s < visible; s++) {
    const x = m === null ? a[base + s] * scale : a[base + s] * scale + m[mBase + s * ms3];
    a[base + s] = x;
    if (x > max) max = x;
  }
  for (let s = visible; s < t.n; s++) a[base + s] = -Infinity;
  return max;
}

/**
 * `[out, lse]` of attention, or null to decline (see the file comment).
 *
 * @example
 * ```ts
 * const res = attentionForwardKernel(q, k, v, null, 0.125, true, ops);
 * ```
 */
export function attentionForwardKernel(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean, ops: TileOps): [DataId, DataId] | null {
  const g = geometry(q, k, v, mask, 'attentionForward');
  if (g === null) return null;
  const { B, H, L, S, Dv } = g;
  const out = new Float32Array(B * H * L * Dv);
  const lse = new Float32Array(B * H * L);
  for (const t of tiles(g, causal)) {
    if (t.n === 0) { lse.fill(-Infinity, t.head * L + t.l0, t.head * L + t.l0 + t.rows); continue; }
    const st = scores(g, t, ops);
    let ot: DataId | null = null;
    try {
      const a = f32(st, 'attentionForward');
      for (let i = 0; i < t.rows; i++) {
        const base = i * t.n;
        const r = t.head * L + t.l0 + i;
        const max = maskRow(g, t, i, a, base, scale, causal);
        if (max === -Infinity || Number.isNaN(max)) { a.fill(0, base, base + t.n); lse[r] = max; continue; } // fully masked: zeros
        let sum = 0;
        for (let s = 0; s < t.n; s++) { const p = Math.exp(a[base + s] - max); a[base + s] = p; sum += p; }
        const inv = 1 / sum;
        for (let s = 0; s < t.n; s++) a[base + s] *= inv;
        lse[r] = max + Math.log(sum);
      }
      ot = ops.matmul(mat({ data: st }, 0, t.rows, t.n, t.n), mat(g.v, g.v.offset + t.head * S * Dv, t.n, Dv, Dv));
      out.set(f32(ot, 'attentionForward').subarray(0, t.rows * Dv), (t.head * L + t.l0) * Dv);
    } finally {
      ops.free(st);
      if (ot !== null) ops.free(ot);
    }
  }
  return [ops.emit(out), ops.emit(lse)];
}

/**
 * `[dq, dk, dv]` of attention from the forward's `out` and `lse` and the upstream `dOut`, or
 * null to decline (see the file comment).
 *
 * @example
 * ```ts
 * const grads = attentionBackwardKernel(q, k, v, null, 0.125, true, out, dOut, lse, ops);
 * ```
 */
export function attentionBackwardKernel(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean,
  out: StridedView, dOut: StridedView, lse: StridedView, ops: TileOps): [DataId, DataId, DataId] | null {
  const op = 'attentionBackward';
  const g = geometry(q, k, v, mask, op);
  if (g === null || !plain(out, 4) || !plain(dOut, 4) || !plain(lse, 3)) return null;
  const { B, H, L, S, D, Dv } = g;
  const dq = new Float32Array(B * H * L * D);
  const dk = new Float32Array(B * H * S * D);
  const dv = new Float32Array(B * H * S * Dv);
  const made: DataId[] = [];
  const keep = (id: DataId): DataId => { made.push(id); return id; };
  for (const t of tiles(g, causal)) {
    if (t.n === 0) continue;
    try {
      const yOff = dOut.offset + (t.head * L + t.l0) * Dv;
      const st = keep(scores(g, t, ops));
      const gt = keep(ops.matmul(mat(dOut, yOff, t.rows, Dv, Dv), mat(g.v, g.v.offset + t.head * S * Dv, Dv, t.n, 1, Dv)));
      const a = f32(st, op);
      const dp = f32(gt, op);
      const o = f32(out.data, op);
      const y = f32(dOut.data, op);
      const ls = f32(lse.data, op);
      for (let i = 0; i < t.rows; i++) {
        const base = i * t.n;
        const r = t.head * L + t.l0 + i;
        const rowLse = ls[lse.offset + r];
        maskRow(g, t, i, a, base, scale, causal);
        if (rowLse === -Infinity || Number.isNaN(rowLse)) { a.fill(0, base, base + t.n); dp.fill(0, base, base + t.n); continue; }
        let dl = 0;
        for (let d = 0; d < Dv; d++) dl += y[yOff + i * Dv + d] * o[out.offset + r * Dv + d];
        for (let s = 0; s < t.n; s++) {
          const p = Math.exp(a[base + s] - rowLse);
          a[base + s] = p;
          dp[base + s] = p * (dp[base + s] - dl) * scale;
        }
      }
      // dq_t = dS K; dk += dS^T Q_t; dv += P^T dOut_t
      const dqt = keep(ops.matmul(mat({ data: gt }, 0, t.rows, t.n, t.n), mat(g.k, g.k.offset + t.head * S * D, t.n, D, D)));
      dq.set(f32(dqt, op).subarray(0, t.rows * D), (t.head * L + t.l0) * D);
      const dkt = keep(ops.matmul(mat({ data: gt }, 0, t.n, t.rows, 1, t.n), mat(g.q, g.q.offset + (t.head * L + t.l0) * D, t.rows, D, D)));
      addInto(dk, t.head * S * D, f32(dkt, op), t.n * D);
      const dvt = keep(ops.matmul(mat({ data: st }, 0, t.n, t.rows, 1, t.n), mat(dOut, yOff, t.rows, Dv, Dv)));
      addInto(dv, t.head * S * Dv, f32(dvt, op), t.n * Dv);
    } finally {
      for (const id of made.splice(0)) ops.free(id);
    }
  }
  return [ops.emit(dq), ops.emit(dk), ops.emit(dv)];
}

function addInto(target: Float32Array, offset: number, src: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) target[offset + i] += src[i];
}
