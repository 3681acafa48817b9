// SPDX-License-Identifier: MIT
// Fused attention for training on TypedArrays (core's FusedKernels.attentionForward /
// attentionBackward): one query row at a time against all keys, so the only scratch is one
// row of S scores (never the [L, S] matrix of a head). The forward keeps each row's
// log-sum-exp; the backward (FlashAttention-2's) recomputes P = exp(s - lse) from it and
// accumulates dq, dk, dv with D = rowsum(dOut * out), dS = P * (dOut . v - D). Fully masked
// rows (lse = -Infinity) give zeros and add nothing to dk, dv. Declines (null) for anything
// but float32 [B, H, *, *] with contiguous q, k, v (offset allowed).
import { isContiguous, type DataId, type StridedView, type TypedArray } from '@heed/core';
import { arrayOf } from './storage.js';

/** Turns a finished Float32Array into a backend buffer (the fast path copies it into its heap). */
export type Emit = (values: Float32Array) => DataId;

interface Geometry {
  B: number; H: number; L: number; S: number; D: number; Dv: number;
  q: TypedArray; k: TypedArray; v: TypedArray; qo: number; ko: number; vo: number;
  /** Additive mask values and the element index of (b, h, l, s) = mo + b*ms[0] + h*ms[1] + l*ms[2] + s*ms[3]. */
  m: TypedArray | null; mo: number; ms: readonly number[];
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
  return {
    B, H, L, S, D, Dv: v.shape[3],
    q: arrayOf(q.data, op), k: arrayOf(k.data, op), v: arrayOf(v.data, op), qo: q.offset, ko: k.offset, vo: v.offset,
    m: mask === null ? null : arrayOf(mask.data, op), mo: mask?.offset ?? 0, ms: mask?.strides ?? [0, 0, 0, 0],
  };
}

/**
 * Scores of query row (b, h, l) against keys 0..n-1 into `row` (scaled, masked; -Infinity where
 * hidden); returns n, the number of keys the causal flag leaves visible.
 */
function scoreRow(g: Geometry, b: number, h: number, l: number, scale: number, causal: boolean, row: Float64Array): number {
  const { S, D, q, k, m, ms } = g;
  const n = causal ? Math.min(S, l + 1) : S;
  const qBase = g.qo + ((b * g.H + h) * g.L + l) * D;
  const kHead = g.ko + (b * g.H + h) * S * D;
  const mBase = g.mo + b * ms[0] + h * ms[1] + l * ms[2];
  for (let s = 0; s < n; s++) {
    const kBase = kHead + s * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += q[qBase + d] * k[kBase + d];
    row[s] = m === null ? dot * scale : dot * scale + m[mBase + s * ms[3]];
  }
  return n;
}

/**
 * `[out, lse]` of attention, or null to decline (see the file comment).
 *
 * @example
 * ```ts
 * const res = attentionForwardKernel(q, k, v, null, 0.125, true, (a) => wrap(a, 'float32'));
 * ```
 */
export function attentionForwardKernel(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean, emit: Emit): [DataId, DataId] | null {
  const g = geometry(q, k, v, mask, 'attentionForward');
  if (g === null) return null;
  const { B, H, L, S, Dv } = g;
  const out = new Float32Array(B * H * L * Dv);
  const lse = new Float32Array(B * H * L);
  const row = new Float64Array(S);
  const acc = new Float64Array(Dv);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const vHead = g.vo + (b * H + h) * S * Dv;
    for (let l = 0; l < L; l++) {
      const r = (b * H + h) * L + l;
      const n = scoreRow(g, b, h, l, scale, causal, row);
      let max = -Infinity;
      for (let s = 0; s < n; s++) if (row[s] > max) max = row[s];
      if (max === -Infinity || Number.isNaN(max)) { lse[r] = max; continue; } // fully masked: zeros
      acc.fill(0);
      let sum = 0;
      for (let s = 0; s < n; s++) {
        const p = Math.exp(row[s] - max);
        if (p === 0) continue;
        sum += p;
        const vBase = vHead + s * Dv;
        for (let d = 0; d < Dv; d++) acc[d] += p * g.v[vBase + d];
      }
      const oBase = r * Dv;
      for (let d = 0; d < Dv; d++) out[oBase + d] = acc[d] / sum;
      lse[r] = max + Math.log(sum);
    }
  }
  return [emit(out), emit(lse)];
}

/**
 * `[dq, dk, dv]` of attention from the forward's `out` and `lse` and the upstream `dOut`, or
 * null to decline (see the file comment).
 *
 * @example
 * ```ts
 * const grads = attentionBackwardKernel(q, k, v, null, 0.125, true, out, dOut, lse, emit);
 * ```
 */
export function attentionBackwardKernel(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean,
  out: StridedView, dOut: StridedView, lse: StridedView, emit: Emit): [DataId, DataId, DataId] | null {
  const g = geometry(q, k, v, mask, 'attentionBackward');
  if (g === null || !plain(out, 4) || !plain(dOut, 4) || !plain(lse, 3)) return null;
  const { B, H, L, S, D, Dv } = g;
  const o = arrayOf(out.data, 'attentionBackward');
  const dy = arrayOf(dOut.data, 'attentionBackward');
  const ls = arrayOf(lse.data, 'attentionBackward');
  const dq = new Float32Array(B * H * L * D);
  const dk = new Float64Array(B * H * S * D);
  const dv = new Float64Array(B * H * S * Dv);
  const row = new Float64Array(S);
  const dqRow = new Float64Array(D);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) {
    const head = b * H + h;
    for (let l = 0; l < L; l++) {
      const r = head * L + l;
      const rowLse = ls[lse.offset + r];
      if (rowLse === -Infinity || Number.isNaN(rowLse)) continue;
      const yBase = dOut.offset + r * Dv;
      const oBase = out.offset + r * Dv;
      let delta = 0;
      for (let d = 0; d < Dv; d++) delta += dy[yBase + d] * o[oBase + d];
      const n = scoreRow(g, b, h, l, scale, causal, row);
      const qBase = g.qo + r * D;
      dqRow.fill(0);
      for (let s = 0; s < n; s++) {
        const p = Math.exp(row[s] - rowLse);
        if (p === 0) continue;
        const vBase = g.vo + (head * S + s) * Dv;
        const dvBase = (head * S + s) * Dv;
        let dp = 0;
        for (let d = 0; d < Dv; d++) {
          dp += dy[yBase + d] * g.v[vBase + d];
          dv[dvBase + d] += p * dy[yBase + d];
        }
        const ds = p * (dp - delta) * scale;
        const kBase = g.ko + (head * S + s) * D;
        const dkBase = (head * S + s) * D;
        for (let d = 0; d < D; d++) {
          dqRow[d] += ds * g.k[kBase + d];
          dk[dkBase + d] += ds * g.q[qBase + d];
        }
      }
      for (let d = 0; d < D; d++) dq[r * D + d] = dqRow[d];
    }
  }
  return [emit(dq), emit(Float32Array.from(dk)), emit(Float32Array.from(dv))];
}
