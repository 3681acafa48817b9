// SPDX-License-Identifier: MIT
// Where the WebGPU training step's time goes (issue #13), on any adapter (SwiftShader here):
// (1) per step after warm-up: dispatches, queue submits, reads, pipelines compiled, bind groups
//     and buffers created (the runtime's counters) and the wall time;
// (2) device time per kernel: one step's dispatches are recorded, then each is replayed alone
//     (dispatch, submit, await onSubmittedWorkDone) 3 times and its best time kept, summed by op
//     and by matmul shape (with GFLOP/s). Replays reuse the step's (pooled, still alive) buffers,
//     so values are garbage but the work is the same.
// usage: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/webgpu_step_profile.mjs [--lazy] [--compile] [--fused]
// The step is bench/train_heed.mjs's (same model spec: forward, backward, op-by-op Adam; --fused:
// the fused LayerNorm/GELU), rebuilt here so the runtime can be instrumented around it.
import { parseArgs } from '../../shared/peers/lib/common.mjs';
import { CFG, GELU_C, paramShapes, initParams, makeBatch, adamScalars, PARAM_NAMES } from '../../shared/peers/lib/model_spec.mjs';
import { setupHeed } from './heed_setup.mjs';

const args = parseArgs();
const { heed, backend } = await setupHeed({ ...args, backend: 'webgpu' });
const gpu = backend.inner ?? backend;
const rt = gpu.runtime;
const { B, T, D, H, lr, beta1, beta2, eps, lnEps } = CFG;
const dh = D / H, N = B * T;
const shapes = paramShapes();
const init0 = initParams();
const P = {}, M = {}, V = {};
for (const k of PARAM_NAMES) {
  P[k] = heed.tensor(init0[k], { shape: shapes[k] });
  M[k] = heed.zeros(shapes[k]);
  V[k] = heed.zeros(shapes[k]);
}
const { x, y } = makeBatch();
const X = heed.tensor(x, { shape: [B, T, D] });
const Y = heed.tensor(y, { shape: [N, D] });
const fused = Boolean(args.fused);
function layerNorm(t, g, b) {
  if (fused) return heed.layerNorm(t, [D], g, b, lnEps);
  const mean = t.mean({ axis: -1, keepdim: true });
  const xc = t.sub(mean);
  const v = xc.square().mean({ axis: -1, keepdim: true });
  return xc.div(v.add(lnEps).sqrt()).mul(g).add(b);
}
function gelu(t) {
  if (fused) return heed.gelu(t, 'tanh');
  const t3 = t.mul(t).mul(t);
  return t.mul(0.5).mul(t.add(t3.mul(0.044715)).mul(GELU_C).tanh().add(1));
}
const heads = (t) => t.reshape([B, T, H, dh]).permute([0, 2, 1, 3]);
function forward(p, xb) {
  const x2 = xb.reshape([N, D]);
  const h = layerNorm(x2, p.ln1_g, p.ln1_b);
  const q = heads(h.matmul(p.wq).add(p.bq));
  const k = heads(h.matmul(p.wk).add(p.bk));
  const v = heads(h.matmul(p.wv).add(p.bv));
  const a = heed.softmax(q.matmul(k.transpose(-1, -2)).mul(1 / Math.sqrt(dh)), -1);
  const o = a.matmul(v).permute([0, 2, 1, 3]).reshape([N, D]);
  const r1 = x2.add(o.matmul(p.wo).add(p.bo));
  const f = gelu(layerNorm(r1, p.ln2_g, p.ln2_b).matmul(p.w1).add(p.b1)).matmul(p.w2).add(p.b2);
  return r1.add(f);
}
const lossAndGrad = heed.valueAndGrad((...params) => {
  const p = Object.fromEntries(PARAM_NAMES.map((k, i) => [k, params[i]]));
  return forward(p, X).sub(Y).square().mean();
});
function stepBody(c1, c2) {
  return heed.tidy(() => {
    const { value, grads } = lossAndGrad(...PARAM_NAMES.map((k) => P[k]));
    heed.noGrad(() => PARAM_NAMES.forEach((k, i) => {
      const g = grads[i];
      const m = M[k].mul(beta1).add(g.mul(1 - beta1));
      const v = V[k].mul(beta2).add(g.square().mul(1 - beta2));
      P[k].assign(P[k].sub(m.mul(c1).mul(lr).div(v.mul(c2).sqrt().add(eps))));
      M[k].assign(m);
      V[k].assign(v);
    }));
    return value;
  });
}
const compiled = args.compile ? heed.compile((c1t, c2t) => stepBody(c1t, c2t)) : null;
async function step(t) {
  const { c1, c2 } = adamScalars(t);
  let loss;
  if (compiled) {
    const c1t = heed.tensor(c1), c2t = heed.tensor(c2);
    loss = compiled(c1t, c2t);
    c1t.dispose(); c2t.dispose();
  } else loss = stepBody(c1, c2);
  const l = (await loss.data())[0];
  loss.dispose();
  return l;
}

for (let t = 1; t <= 4; t++) await step(t);
// (1) counters over 3 steps
const s0 = { ...rt.stats };
let reads = 0;
const readOrig = rt.readBytes.bind(rt);
rt.readBytes = (...a) => { reads++; return readOrig(...a); };
const t0 = performance.now();
for (let t = 5; t <= 7; t++) await step(t);
const wall = (performance.now() - t0) / 3;
const per = Object.fromEntries(Object.keys(s0).filter((k) => k !== 'live').map((k) => [k, (rt.stats[k] - s0[k]) / 3]));
console.log(`per step (mean of 3, after 4 warm-up): wall ${wall.toFixed(0)} ms, reads ${reads / 3}, ${JSON.stringify(per)}`);

// (2) record one step's dispatches, then replay each alone
const recorded = [];
const dispatchOrig = rt.dispatch.bind(rt);
rt.dispatch = (op, code, buffers, meta, grid, site, writable) => {
  recorded.push({ op, code, buffers: [...buffers], meta: Uint32Array.from(meta), grid: [...grid], site, writable });
  return dispatchOrig(op, code, buffers, meta, grid, site, writable);
};
await step(8);
rt.dispatch = dispatchOrig;
await heed.flush();
async function timeOne(r) {
  let best = Infinity;
  for (let rep = 0; rep < 3; rep++) {
    const a = performance.now();
    dispatchOrig(r.op, r.code, r.buffers, r.meta, r.grid, undefined, r.writable);
    rt.flush();
    await rt.device.queue.onSubmittedWorkDone();
    best = Math.min(best, performance.now() - a);
  }
  return best;
}
// an empty submit's round trip, subtracted from each kernel
let empty = Infinity;
for (let i = 0; i < 5; i++) { const a = performance.now(); rt.device.queue.submit([]); await rt.device.queue.onSubmittedWorkDone(); empty = Math.min(empty, performance.now() - a); }
const byOp = new Map(), byMatmul = new Map();
let total = 0;
for (const r of recorded) {
  const ms = Math.max(0, (await timeOne(r)) - empty);
  total += ms;
  const kind = r.op === 'matmul' ? 'matmul' : r.op;
  const e = byOp.get(kind) ?? { calls: 0, ms: 0, codes: new Set() };
  e.calls++; e.ms += ms; e.codes.add(r.code);
  byOp.set(kind, e);
  if (r.op === 'matmul') {
    const [Bm, Mm, Nm, Km] = r.meta;
    const variant = r.code.includes('var<workgroup>') ? 'tiled' : r.code.includes('subgroupBroadcast') ? 'subgroup' : r.code.includes('c7_7') ? 'blocked' : 'naive';
    const key = `${Bm}x[${Mm}x${Km}]·[${Km}x${Nm}] sA=(${r.meta[6]},${r.meta[7]}) sB=(${r.meta[10]},${r.meta[11]}) ${variant}`;
    const m = byMatmul.get(key) ?? { calls: 0, ms: 0, flop: 2 * Bm * Mm * Nm * Km };
    m.calls++; m.ms += ms;
    byMatmul.set(key, m);
  }
}
console.log(`device time, each of ${recorded.length} dispatches replayed alone (best of 3, minus ${empty.toFixed(2)} ms empty round trip): ${total.toFixed(0)} ms`);
for (const [k, e] of [...byOp].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`  ${k.padEnd(22)} x${String(e.calls).padStart(4)} ${e.ms.toFixed(1).padStart(8)} ms  (${e.codes.size} shaders)`);
}
console.log('matmul shapes (per call):');
for (const [k, m] of [...byMatmul].sort((a, b) => b[1].ms - a[1].ms)) {
  console.log(`  x${m.calls} ${k}: ${(m.ms / m.calls).toFixed(2)} ms, ${(m.flop * m.calls / (m.ms * 1e6)).toFixed(2)} GFLOP/s`);
}
process.exit(0);
