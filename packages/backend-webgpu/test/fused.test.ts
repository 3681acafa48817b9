// SPDX-License-Identifier: MIT
// The fused kernels (softmax, logSoftmax, gelu, layerNorm, attention) against straightforward
// float64 JS formulas: narrow rows (one invocation per row) and wide rows (one workgroup per
// row), large and shifted inputs (stability), offset and transposed views, and attention with
// causal masking, additive masks and fully masked rows (which must give zeros, not NaN).
import { describe, it } from 'vitest';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, erfRef, expectClose, get, put, seeded, skipReason, view } from './gpu.js';

function rowsRef(x: readonly number[], cols: number, f: (row: number[]) => number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / cols; r++) out.push(...f(x.slice(r * cols, (r + 1) * cols)));
  return out;
}
const softmaxRow = (row: number[]) => { const m = Math.max(...row); const e = row.map((v) => Math.exp(v - m)); const s = e.reduce((a, b) => a + b, 0); return e.map((v) => v / s); };
const logSoftmaxRow = (row: number[]) => { const m = Math.max(...row); const s = row.reduce((a, v) => a + Math.exp(v - m), 0); return row.map((v) => v - m - Math.log(s)); };
const layerNormRow = (w: number[] | null, b: number[] | null, eps: number) => (row: number[]) => {
  const mean = row.reduce((a, v) => a + v, 0) / row.length;
  const v = row.reduce((a, x) => a + (x - mean) ** 2, 0) / row.length;
  return row.map((x, j) => ((x - mean) / Math.sqrt(v + eps)) * (w ? w[j] : 1) + (b ? b[j] : 0));
};

function attentionRef(q: number[], k: number[], v: number[], mask: number[] | null, dims: number[], scale: number, causal: boolean): number[] {
  const [BH, L, S, D, Dv] = dims;
  const out: number[] = [];
  for (let h = 0; h < BH; h++) for (let l = 0; l < L; l++) {
    const scores: number[] = [];
    for (let s = 0; s < S; s++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[(h * L + l) * D + d] * k[(h * S + s) * D + d];
      const m = mask ? mask[(h * L + l) * S + s] : 0;
      scores.push(causal && s > l ? -Infinity : dot * scale + m);
    }
    const valid = scores.filter((s) => s !== -Infinity);
    if (valid.length === 0) { out.push(...new Array<number>(Dv).fill(0)); continue; }
    const mx = Math.max(...valid);
    const p = scores.map((s) => (s === -Infinity ? 0 : Math.exp(s - mx)));
    const total = p.reduce((a, b) => a + b, 0);
    for (let d = 0; d < Dv; d++) out.push(p.reduce((acc, w, s) => acc + w * v[(h * S + s) * Dv + d], 0) / total);
  }
  return out;
}

describe.skipIf(!device)(`WebGPU fused kernels vs JS formulas${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const be = device ? new WebGPUBackend(device) : (null as unknown as WebGPUBackend);

  it('softmax and logSoftmax: narrow, wide (workgroup per row), many wide rows, large values, offset and transposed views', async () => {
    for (const [rows, cols, lo, hi] of [[3, 5, -3, 3], [3, 300, -10, 10], [20, 200, -4, 4], [2, 6, 500, 1500]]) {
      const x = seeded(rows * cols, rows + cols, lo, hi);
      const v = put(be, x, 'float32', [rows, cols]);
      expectClose(await get(be, be.softmax!(v), 'float32', x.length), rowsRef(x, cols, softmaxRow), `softmax ${rows}x${cols}`, 1e-5, 1e-7);
      expectClose(await get(be, be.logSoftmax!(v), 'float32', x.length), rowsRef(x, cols, logSoftmaxRow), `logSoftmax ${rows}x${cols}`, 1e-5, 2e-5);
    }
    const base = seeded(14, 5, -2, 2);
    const off = view(put(be, base, 'float32').data, 'float32', [3, 4], [4, 1], 2); // rows start at element 2
    expectClose(await get(be, be.softmax!(off), 'float32', 12), rowsRef(base.slice(2), 4, softmaxRow), 'softmax offset', 1e-5, 1e-7);
    const t = view(put(be, base.slice(0, 12), 'float32').data, 'float32', [4, 3], [1, 4]); // transpose of 3x4
    const tv = [0, 1, 2, 3].flatMap((i) => [0, 1, 2].map((j) => base[j * 4 + i]));
    expectClose(await get(be, be.logSoftmax!(t), 'float32', 12), rowsRef(tv, 3, logSoftmaxRow), 'logSoftmax transposed', 1e-5, 2e-5);
  });

  it('gelu exact and tanh approximation', async () => {
    const x = [...seeded(40, 11, -6, 6), 0, -0.5, 10, -10];
    const v = put(be, x, 'float32');
    const exact = x.map((z) => 0.5 * z * (1 + erfRef(z / Math.SQRT2)));
    const tanh = x.map((z) => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3))));
    expectClose(await get(be, be.gelu!(v, 'none'), 'float32', x.length), exact, 'gelu none', 1e-5, 1e-6);
    expectClose(await get(be, be.gelu!(v, 'tanh'), 'float32', x.length), tanh, 'gelu tanh', 1e-5, 1e-6);
  });

  it('layerNorm with and without affine parameters, narrow and wide rows, shifted mean', async () => {
    for (const [rows, cols, lo, hi] of [[4, 8, -2, 2], [2, 500, -3, 3], [3, 16, 100, 101]]) {
      const x = seeded(rows * cols, cols, lo, hi);
      const w = seeded(cols, 1, 0.5, 1.5), b = seeded(cols, 2, -1, 1);
      const xv = put(be, x, 'float32', [rows, cols]);
      const wv = put(be, w, 'float32'), bv = put(be, b, 'float32');
      const tol = lo >= 100 ? 2e-3 : 1e-4;
      expectClose(await get(be, be.layerNorm!(xv, wv, bv, 1e-5), 'float32', x.length), rowsRef(x, cols, layerNormRow(w, b, 1e-5)), `layerNorm ${rows}x${cols}`, tol, tol);
      expectClose(await get(be, be.layerNorm!(xv, null, null, 1e-3), 'float32', x.length), rowsRef(x, cols, layerNormRow(null, null, 1e-3)), `layerNorm plain ${rows}x${cols}`, tol, tol);
      expectClose(await get(be, be.layerNorm!(xv, null, bv, 1e-5), 'float32', x.length), rowsRef(x, cols, layerNormRow(null, b, 1e-5)), `layerNorm bias ${rows}x${cols}`, tol, tol);
    }
  });

  it('attention: plain, causal with L > S, additive mask, and fully masked rows give zeros', async () => {
    const run = async (B: number, H: number, L: number, S: number, D: number, Dv: number, mask: number[] | null, causal: boolean, scale: number) => {
      const q = seeded(B * H * L * D, 1, -1, 1), k = seeded(B * H * S * D, 2, -1, 1), v = seeded(B * H * S * Dv, 3, -1, 1);
      const qv = put(be, q, 'float32', [B, H, L, D]), kv = put(be, k, 'float32', [B, H, S, D]), vv = put(be, v, 'float32', [B, H, S, Dv]);
      const mv = mask ? put(be, mask, 'float32', [B, H, L, S]) : null;
      const got = await get(be, be.attention!(qv, kv, vv, mv, scale, causal), 'float32', B * H * L * Dv);
      const want = attentionRef(q, k, v, mask, [B * H, L, S, D, Dv], scale, causal);
      expectClose(got, want, `attention B${B} H${H} L${L} S${S} causal=${causal} mask=${!!mask}`, 1e-5, 1e-6);
      return got;
    };
    await run(2, 2, 3, 5, 8, 4, null, false, 1 / Math.sqrt(8));
    await run(1, 1, 5, 3, 4, 2, null, true, 0.5);
    await run(1, 2, 4, 4, 4, 3, seeded(32, 9, -4, 0), true, 0.5);
    const NEG = -Infinity;
    // query row 1 of head 0 sees no key: zeros, not NaN
    const mask = [0, NEG, 0, 0, NEG, NEG, NEG, NEG, 0, 0, -1, 0, /* head 1 */ 0, 0, 0, 0, NEG, 0, NEG, 0, -2, 0, 0, NEG];
    const got = await run(1, 2, 3, 4, 4, 2, mask, false, 0.5);
    expectClose(got.slice(2, 4), [0, 0], 'fully masked row');
  });
});
