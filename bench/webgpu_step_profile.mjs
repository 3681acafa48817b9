// SPDX-License-Identifier: MIT
// Where the WebGPU training step's time goes (issue #13), on any adapter (SwiftShader here):
// (1) per step after warm-up: dispatches, queue submits, reads, pipelines compiled, bind groups
//     and buffers created (the runtime's counters) and the wall time;
// (2) device time per kernel: one step's dispatches are recorded, then each is replayed alone
//     (dispatch, submit, await onSubmittedWorkDone) 3 times and its best time kept, summed by op
//     and by matmul shape (with GFLOP/s). Replays reuse the step's (pooled, still alive) buffers,
//     so values are garbage but the work is the same.
// usage: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/webgpu_step_profile.mjs [--lazy] [--compile] [--fused] [--adam=ops|step]
// The step is bench/train_heed.mjs's, from ./train_step_heed.mjs (same model spec, flags and losses:
// forward, backward, op-by-op Adam or --adam=step's fused kernel, --fused LayerNorm/GELU, --compile).
import { parseArgs } from '../../shared/peers/lib/common.mjs';
import { setupHeed } from './heed_setup.mjs';
import { buildTrainStep, stepFlags } from './train_step_heed.mjs';

const args = parseArgs();
const flags = stepFlags(args);
const { heed, backend } = await setupHeed({ ...args, backend: 'webgpu' });
const gpu = backend.inner ?? backend;
const rt = gpu.runtime;
const { step } = buildTrainStep(heed, flags);

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
