// SPDX-License-Identifier: MIT
// Fused attention for training on WebGPU (core's FusedKernels.attentionForward /
// attentionBackward), never an [L, S] buffer: the forward runs one invocation per query row
// (scores recomputed in a max pass and a sum pass) and writes out and the row's log-sum-exp;
// the backward (FlashAttention-2's, without atomics) is four dispatches: aux = (lse,
// D = rowsum(dOut * out)) per query row, then dq per query row, dv and dk per key row, each
// recomputing P = exp(s - lse) from q, k and the mask. Every kernel binds at most 8 storage
// buffers. The mask is any strided [B, H, L, S] view (stride 0 on broadcast axes). These
// per-row kernels save memory, not time (on SwiftShader the decomposition's tiled matmuls are
// several times faster), so the forward declines below FUSE_MIN_SCORES scores unless the
// debug switch alwaysFuseTrainingAttention is set; the backward only follows a fused forward.
// Invariants: inputs are validated before anything is allocated; outputs of a call that
// throws are freed; fully masked rows (lse = -Infinity) give zeros.
import { HeedError, fmtShape, isContiguous, sizeOf, type DataId, type StridedView } from '@heed/core';
import { HOST, checkFloat } from './validate.js';
import { MATH_WGSL } from './wgsl.js';
import { memoKernel } from './kernel-cache.js';
import type { GpuData, OpKit } from './fused-ops.js';

const f32Bits = (x: number): number => HOST.float32.fillBits(x);

/** Below this many scores (B*H*L*S: 64 MiB as one float32 tensor) the forward declines. */
export const FUSE_MIN_SCORES = 2 ** 24;

// md = [BH, L, S, D, Dv, scale bits, causal, hasMask, H, qOff, kOff, vOff, mOff, msB, msH, msL, msS, oOff, dyOff, lseOff]
const HEADER = `${MATH_WGSL}
fn maskBase(bh: u32, l: u32) -> u32 { let H = md[8]; return md[12] + (bh / H) * md[13] + (bh % H) * md[14] + l * md[15]; }
fn rowOf(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * 64u; }
`;

/** Binding declarations: md, then `names` in order (the first `writable` read-write). */
function bindings(names: readonly string[], writable: number): string {
  const lines = ['@group(0) @binding(0) var<storage, read> md: array<u32>;'];
  names.forEach((n, i) => lines.push(`@group(0) @binding(${i + 1}) var<storage, ${i < writable ? 'read_write' : 'read'}> ${n}: array<f32>;`));
  return lines.join('\n');
}

/** s(l, s) of query row qb against key row kb, plus the mask at mi (when hasMask). */
const SCORE = `fn score(qb: u32, kb: u32, mi: u32) -> f32 {
  var acc = 0.0;
  for (var d = 0u; d < md[3]; d = d + 1u) { acc = fma(Q[qb + d], K[kb + d], acc); }
  var sc = acc * bitcast<f32>(md[5]);
  if (md[7] != 0u) { sc = sc + Mk[mi]; }
  return sc;
}`;

function forwardKernel(): string {
  return `${bindings(['O', 'LSE', 'Q', 'K', 'V', 'Mk'], 2)}
${HEADER}
${SCORE}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = rowOf(gid, nwg);
  let L = md[1]; let S = md[2]; let D = md[3]; let Dv = md[4];
  if (r >= md[0] * L) { return; }
  let bh = r / L; let l = r % L;
  let qb = md[9] + r * D; let kb = md[10] + bh * S * D; let vb = md[11] + bh * S * Dv; let mb = maskBase(bh, l);
  let end = select(S, min(S, l + 1u), md[6] != 0u);
  var m = -infF();
  for (var s = 0u; s < end; s = s + 1u) { m = max(m, score(qb, kb + s * D, mb + s * md[16])); }
  for (var d = 0u; d < Dv; d = d + 1u) { O[r * Dv + d] = 0.0; }
  if (m == -infF()) { LSE[r] = m; return; }
  var total = 0.0;
  for (var s = 0u; s < end; s = s + 1u) {
    let p = exp32(score(qb, kb + s * D, mb + s * md[16]) - m);
    if (p == 0.0) { continue; }
    total = total + p;
    for (var d = 0u; d < Dv; d = d + 1u) { O[r * Dv + d] = fma(p, V[vb + s * Dv + d], O[r * Dv + d]); }
  }
  let inv = 1.0 / total;
  for (var d = 0u; d < Dv; d = d + 1u) { O[r * Dv + d] = O[r * Dv + d] * inv; }
  LSE[r] = m + log(total);
}\n`;
}

/** Aux[2r] = lse, Aux[2r + 1] = rowsum(dOut * out) for each query row. */
function auxKernel(): string {
  return `${bindings(['Aux', 'DY', 'Ob', 'LSE'], 1)}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  if (r >= md[0] * md[1]) { return; }
  let Dv = md[4];
  var acc = 0.0;
  for (var d = 0u; d < Dv; d = d + 1u) { acc = fma(DY[md[18] + r * Dv + d], Ob[md[17] + r * Dv + d], acc); }
  Aux[2u * r] = LSE[md[19] + r];
  Aux[2u * r + 1u] = acc;
}\n`;
}

/** dq per query row: sum over keys of P * (dOut . v - D) * scale * k. */
function dqKernel(): string {
  return `${bindings(['DQ', 'Q', 'K', 'V', 'Mk', 'DY', 'Aux'], 1)}
${HEADER}
${SCORE}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = rowOf(gid, nwg);
  let L = md[1]; let S = md[2]; let D = md[3]; let Dv = md[4];
  if (r >= md[0] * L) { return; }
  let bh = r / L; let l = r % L;
  let qb = md[9] + r * D; let kb = md[10] + bh * S * D; let vb = md[11] + bh * S * Dv; let mb = maskBase(bh, l);
  let yb = md[18] + r * Dv;
  for (var d = 0u; d < D; d = d + 1u) { DQ[r * D + d] = 0.0; }
  let lse = Aux[2u * r]; let delta = Aux[2u * r + 1u];
  if (lse == -infF()) { return; }
  let end = select(S, min(S, l + 1u), md[6] != 0u);
  let scale = bitcast<f32>(md[5]);
  for (var s = 0u; s < end; s = s + 1u) {
    let p = exp32(score(qb, kb + s * D, mb + s * md[16]) - lse);
    if (p == 0.0) { continue; }
    var dp = 0.0;
    for (var d = 0u; d < Dv; d = d + 1u) { dp = fma(DY[yb + d], V[vb + s * Dv + d], dp); }
    let ds = p * (dp - delta) * scale;
    for (var d = 0u; d < D; d = d + 1u) { DQ[r * D + d] = fma(ds, K[kb + s * D + d], DQ[r * D + d]); }
  }
}\n`;
}

/** dv (wantDk false: sum of P * dOut) or dk (sum of dS * scale * q) per key row. */
function keyKernel(wantDk: boolean): string {
  const names = wantDk ? ['G', 'Q', 'K', 'V', 'Mk', 'DY', 'Aux'] : ['G', 'Q', 'K', 'Mk', 'DY', 'Aux'];
  const width = wantDk ? 'md[3]' : 'md[4]';
  const update = wantDk
    ? `var dp = 0.0;
    for (var d = 0u; d < Dv; d = d + 1u) { dp = fma(DY[yb + d], V[vb + d], dp); }
    let ds = p * (dp - Aux[2u * r + 1u]) * scale;
    for (var d = 0u; d < D; d = d + 1u) { G[j * D + d] = fma(ds, Q[qb + d], G[j * D + d]); }`
    : `for (var d = 0u; d < Dv; d = d + 1u) { G[j * Dv + d] = fma(p, DY[yb + d], G[j * Dv + d]); }`;
  return `${bindings(names, 1)}
${HEADER}
${SCORE}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = rowOf(gid, nwg);
  let L = md[1]; let S = md[2]; let D = md[3]; let Dv = md[4];
  if (j >= md[0] * S) { return; }
  let bh = j / S; let s = j % S;
  let kb = md[10] + j * D; let vb = md[11] + j * Dv;
  let scale = bitcast<f32>(md[5]);
  for (var d = 0u; d < ${width}; d = d + 1u) { G[j * ${width} + d] = 0.0; }
  let start = select(0u, s, md[6] != 0u);
  for (var l = start; l < L; l = l + 1u) {
    let r = bh * L + l;
    let lse = Aux[2u * r];
    if (lse == -infF()) { continue; }
    let qb = md[9] + r * D;
    let p = exp32(score(qb, kb, maskBase(bh, l) + s * md[16]) - lse);
    if (p == 0.0) { continue; }
    let yb = md[18] + r * Dv;
    ${update}
  }
}\n`;
}

const kernels = {
  forward: memoKernel(forwardKernel),
  aux: memoKernel(auxKernel),
  dq: memoKernel(dqKernel),
  key: memoKernel(keyKernel),
};

interface Shapes { B: number; H: number; L: number; S: number; D: number; Dv: number }

function checkShapes(op: string, kit: OpKit, q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, rest: readonly StridedView[] = []): Shapes | null {
  kit.views(op, q, k, v, mask, ...rest);
  checkFloat(op, [q, k, v, mask, ...rest]);
  if (q.shape.length !== 4) throw new HeedError(op, `needs q [B, H, L, D], got ${fmtShape(q.shape)}.`);
  const [B, H, L, D] = q.shape;
  const S = k.shape[2] ?? 0;
  const Dv = v.shape[3] ?? 0;
  const same = (shape: readonly number[], want: readonly number[]) => shape.length === want.length && shape.every((d, i) => d === want[i]);
  if (!same(k.shape, [B, H, S, D]) || !same(v.shape, [B, H, S, Dv]) || (mask && !same(mask.shape, [B, H, L, S]))) {
    throw new HeedError(op, `needs q [B, H, L, D], k [B, H, S, D], v [B, H, S, Dv] and a mask [B, H, L, S]; got ${fmtShape(q.shape)}, ` +
      `${fmtShape(k.shape)}, ${fmtShape(v.shape)}${mask ? ` and ${fmtShape(mask.shape)}` : ''}.`);
  }
  // Only contiguous q, k, v (and out, dOut, lse) are handled; the mask may have any strides >= 0.
  if (![q, k, v, ...rest].every((x) => isContiguous(x.shape, x.strides)) || (mask !== null && mask.strides.some((s) => s < 0))) return null;
  return { B, H, L, S, D, Dv };
}

function meta(g: Shapes, q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean, extra: readonly number[] = [0, 0, 0]): Uint32Array {
  const ms = mask?.strides ?? [0, 0, 0, 0];
  return Uint32Array.from([g.B * g.H, g.L, g.S, g.D, g.Dv, f32Bits(scale), causal ? 1 : 0, mask ? 1 : 0, g.H,
    q.offset, k.offset, v.offset, mask?.offset ?? 0, ms[0], ms[1], ms[2], ms[3], ...extra]);
}

/** Allocates `sizes` float32 outputs, runs `record` with them, frees them all if it throws. */
function outputs<T extends GpuData[]>(kit: OpKit, op: string, sizes: readonly number[], record: (outs: GpuData[]) => void): T {
  const made: GpuData[] = [];
  try {
    for (const n of sizes) made.push(kit.alloc(n, 'float32', op));
    record(made);
    return made as T;
  } catch (e) {
    for (const m of made) kit.free(m);
    throw e;
  }
}

/**
 * `[out, lse]` of attention (see the file comment), or null for non-contiguous q, k, v or
 * fewer than {@link FUSE_MIN_SCORES} scores (without the debug switch).
 *
 * @example
 * ```ts
 * const [out, lse] = attentionForwardOp(backend, q, k, v, null, 0.125, true)!;
 * ```
 */
export function attentionForwardOp(kit: OpKit, q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): [DataId, DataId] | null {
  const op = 'attentionForward';
  const g = checkShapes(op, kit, q, k, v, mask);
  if (g === null) return null;
  if (kit.runtime.debug.alwaysFuseTrainingAttention !== true && g.B * g.H * g.L * g.S < FUSE_MIN_SCORES) return null;
  const rows = g.B * g.H * g.L;
  return outputs<[GpuData, GpuData]>(kit, op, [rows * g.Dv, rows], ([o, lse]) => {
    if (rows === 0) return;
    const qd = kit.data(q.data, op).buffer;
    const buffers = [o.buffer, lse.buffer, qd, kit.data(k.data, op).buffer, kit.data(v.data, op).buffer, mask ? kit.data(mask.data, op).buffer : qd];
    kit.runtime.dispatch(op, kernels.forward(), buffers, meta(g, q, k, v, mask, scale, causal), kit.perOutput(rows, op), undefined, 2);
  });
}

/**
 * `[dq, dk, dv]` of attention from out, dOut and lse (see the file comment), or null for
 * non-contiguous inputs.
 *
 * @example
 * ```ts
 * const [dq, dk, dv] = attentionBackwardOp(backend, q, k, v, null, 0.125, true, out, dOut, lse)!;
 * ```
 */
export function attentionBackwardOp(kit: OpKit, q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean,
  out: StridedView, dOut: StridedView, lse: StridedView): [DataId, DataId, DataId] | null {
  const op = 'attentionBackward';
  const g = checkShapes(op, kit, q, k, v, mask, [out, dOut, lse]);
  if (g === null) return null;
  const rows = g.B * g.H * g.L;
  const keys = g.B * g.H * g.S;
  if (sizeOf(out.shape) !== rows * g.Dv || sizeOf(dOut.shape) !== rows * g.Dv || sizeOf(lse.shape) !== rows) {
    throw new HeedError(op, `needs out and dOut [B, H, L, Dv] and lse [B, H, L]; got ${fmtShape(out.shape)}, ${fmtShape(dOut.shape)} and ${fmtShape(lse.shape)}.`);
  }
  const aux = kit.alloc(2 * rows, 'float32', op);
  try {
    return outputs<[GpuData, GpuData, GpuData]>(kit, op, [rows * g.D, keys * g.D, keys * g.Dv], ([dq, dk, dv]) => {
      const md = meta(g, q, k, v, mask, scale, causal, [out.offset, dOut.offset, lse.offset]);
      const buf = (x: StridedView) => kit.data(x.data, op).buffer;
      const mk = mask ? buf(mask) : buf(q);
      if (rows > 0) {
        kit.runtime.dispatch(op, kernels.aux(), [aux.buffer, buf(dOut), buf(out), buf(lse)], md, kit.perOutput(rows, op));
        kit.runtime.dispatch(op, kernels.dq(), [dq.buffer, buf(q), buf(k), buf(v), mk, buf(dOut), aux.buffer], md, kit.perOutput(rows, op));
      }
      if (keys > 0) {
        const grid = kit.perOutput(keys, op);
        kit.runtime.dispatch(op, kernels.key(false), [dv.buffer, buf(q), buf(k), mk, buf(dOut), aux.buffer], md, grid);
        kit.runtime.dispatch(op, kernels.key(true), [dk.buffer, buf(q), buf(k), buf(v), mk, buf(dOut), aux.buffer], md, grid);
      }
    });
  } finally {
    kit.free(aux);
  }
}
