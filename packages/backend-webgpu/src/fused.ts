// SPDX-License-Identifier: MIT
// WGSL of the optional fused kernels: softmax / logSoftmax / layerNorm over the last axis and
// scaled dot-product attention; gelu is an elementwise expression.
// Row kernels come in two shapes: one invocation per row (narrow rows) or one 64-invocation
// workgroup per row with shared-memory tree reductions (wide rows). Both subtract the row max
// before exp (softmax) and use two passes for the variance (layerNorm), so they stay stable
// for large or shifted inputs. Attention computes, per query row, the max of the valid scores,
// then exp-weights and the weighted sum of v; a row with no valid key (causal and/or -inf mask)
// produces zeros, like core's decomposition.
import { MATH_WGSL } from './wgsl.js';

/**
 * The fused row kernels.
 *
 * @example
 * ```ts
 * const kind: RowKind = 'layerNorm';
 * ```
 */
export type RowKind = 'softmax' | 'logSoftmax' | 'layerNorm';

/**
 * Rows at least this wide use the workgroup-per-row kernel.
 *
 * @example
 * ```ts
 * const perWorkgroup = cols >= WIDE_ROW;
 * ```
 */
export const WIDE_ROW = 128;

/**
 * GELU as an f32 expression of `v0`: exact (erf) or the tanh approximation.
 *
 * @example
 * ```ts
 * geluExpr('tanh');
 * ```
 */
export function geluExpr(approximate: 'none' | 'tanh'): string {
  return approximate === 'tanh'
    ? '0.5 * v0 * (1.0 + tanh32(0.7978845608028654 * (v0 + 0.044715 * v0 * v0 * v0)))'
    : '0.5 * v0 * (1.0 + erf32(v0 * 0.7071067811865476))';
}

/**
 * A row kernel over the last axis of contiguous float32 rows. md = [rows, cols, eps bits,
 * hasWeight, hasBias, xOffset, wOffset, bOffset]. `wide`: one workgroup per row (workgroup
 * w = wg.x + wg.y * nwg.x), else one invocation per row.
 *
 * @example
 * ```ts
 * rowKernel('softmax', true);
 * ```
 */
export function rowKernel(kind: RowKind, wide: boolean): string {
  const start = wide ? 'lid' : '0u';
  const step = wide ? '64u' : '1u';
  const loop = (body: string) => `for (var j = ${start}; j < n; j = j + ${step}) { ${body} }`;
  // Combines the per-invocation partials of `v` across the workgroup (no-op per row).
  const tree = (v: string, combine: string) => !wide ? '' : `part[lid] = ${v}; workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) { if (lid < s) { let a = part[lid]; let b = part[lid + s]; part[lid] = ${combine}; } workgroupBarrier(); }
  ${v} = part[0]; workgroupBarrier();`;
  const io = `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
${kind === 'layerNorm' ? '@group(0) @binding(3) var<storage, read> W: array<f32>;\n@group(0) @binding(4) var<storage, read> Bi: array<f32>;' : ''}
${wide ? 'var<workgroup> part: array<f32, 64>;' : ''}`;
  const head = wide
    ? `@compute @workgroup_size(64) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * nwg.x;
  let live = row < md[0];
  let n = select(0u, md[1], live);`
    : `@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * 64u;
  if (row >= md[0]) { return; }
  let n = md[1];`;
  const base = 'let xb = md[5] + row * md[1]; let ob = row * md[1];';
  let body: string;
  if (kind === 'layerNorm') {
    body = `var mean = 0.0; ${loop('mean = mean + X[xb + j];')}
  ${tree('mean', 'a + b')}
  mean = mean / f32(md[1]);
  var v = 0.0; ${loop('let d = X[xb + j] - mean; v = v + d * d;')}
  ${tree('v', 'a + b')}
  let rstd = inverseSqrt(v / f32(md[1]) + bitcast<f32>(md[2]));
  ${loop(`var y = (X[xb + j] - mean) * rstd;
    if (md[3] != 0u) { y = y * W[md[6] + j]; }
    if (md[4] != 0u) { y = y + Bi[md[7] + j]; }
    outBuf[ob + j] = y;`)}`;
  } else {
    const write = kind === 'softmax' ? 'outBuf[ob + j] = exp32(X[xb + j] - m) / s;' : 'outBuf[ob + j] = X[xb + j] - m - ls;';
    body = `var m = -infF(); ${loop('let x = X[xb + j]; m = select(max(m, x), nanF(), isNan(x) || isNan(m));')}
  ${tree('m', 'select(max(a, b), nanF(), isNan(a) || isNan(b))')}
  var s = 0.0; ${loop('s = s + exp32(X[xb + j] - m);')}
  ${tree('s', 'a + b')}
  let ls = log32(s); // NaN-aware (a row with +inf or NaN has s = NaN: every output is NaN, as in PyTorch)
  ${loop(write)}`;
  }
  return `${MATH_WGSL}\n${io}\n${head}\n  ${base}\n  ${body}\n}\n`;
}

/**
 * Attention, one invocation per query row of q [BH, L, D] against k [BH, S, D], v [BH, S, Dv]
 * and an optional additive mask [BH, L, S]. md = [BH, L, S, D, Dv, scale bits, causal, hasMask,
 * qOff, kOff, vOff, mOff]. Writes out [BH, L, Dv] (also used as the accumulator).
 *
 * @example
 * ```ts
 * attentionKernel();
 * ```
 */
export function attentionKernel(): string {
  return `${MATH_WGSL}
@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> Q: array<f32>;
@group(0) @binding(3) var<storage, read> Kt: array<f32>;
@group(0) @binding(4) var<storage, read> V: array<f32>;
@group(0) @binding(5) var<storage, read> Mk: array<f32>;
fn score(qb: u32, kb: u32, mb: u32, D: u32, scale: f32, hasMask: bool) -> f32 {
  var acc = 0.0;
  for (var d = 0u; d < D; d = d + 1u) { acc = fma(Q[qb + d], Kt[kb + d], acc); }
  var sc = acc * scale;
  if (hasMask) { sc = sc + Mk[mb]; }
  return sc;
}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * 64u;
  let L = md[1]; let S = md[2]; let D = md[3]; let Dv = md[4];
  if (r >= md[0] * L) { return; }
  let bh = r / L; let l = r % L;
  let scale = bitcast<f32>(md[5]); let causal = md[6] != 0u; let hasMask = md[7] != 0u;
  let qb = md[8] + r * D; let kb = md[9] + bh * S * D; let vb = md[10] + bh * S * Dv; let mb = md[11] + r * S;
  let ob = r * Dv;
  let end = select(S, min(S, l + 1u), causal);
  var m = -infF();
  for (var s = 0u; s < end; s = s + 1u) {
    let sc = score(qb, kb + s * D, mb + s, D, scale, hasMask);
    if (hasMask && Mk[mb + s] == -infF()) { continue; }
    m = select(max(m, sc), nanF(), isNan(sc) || isNan(m));
  }
  for (var d = 0u; d < Dv; d = d + 1u) { outBuf[ob + d] = 0.0; }
  if (m == -infF()) { return; }
  var total = 0.0;
  for (var s = 0u; s < end; s = s + 1u) {
    if (hasMask && Mk[mb + s] == -infF()) { continue; }
    let p = exp32(score(qb, kb + s * D, mb + s, D, scale, hasMask) - m);
    total = total + p;
    for (var d = 0u; d < Dv; d = d + 1u) { outBuf[ob + d] = fma(p, V[vb + s * Dv + d], outBuf[ob + d]); }
  }
  let inv = 1.0 / total;
  for (var d = 0u; d < Dv; d = d + 1u) { outBuf[ob + d] = outBuf[ob + d] * inv; }
}\n`;
}
