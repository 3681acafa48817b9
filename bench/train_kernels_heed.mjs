// SPDX-License-Identifier: MIT
// Where the spec's training step (train_step_heed.mjs) spends its time, call by call: after a
// warm-up (default 80 steps, so V8 has optimised the replay path), times every kernel the next
// steps dispatch (core's onKernelTimed; CPU kernels are synchronous, so host time is their time;
// on WebGPU it is encoding time only) and prints one row per kernel of the step in order: the
// median over the timed steps, the kernel, its operand shapes and, for a fused program, its
// expression and output counts and its ops. The rows' sum against the step's own median shows
// what the replay itself costs. Complements `train_heed.mjs --profile` (totals per kernel name).
// usage: node bench/train_kernels_heed.mjs [--backend=cpu|webgpu] [--native] [--lazy] [--compile] [--warmup=80] [--steps=30]
import { parseArgs, emit, stats } from '../../shared/peers/lib/common.mjs';
import { setupHeed } from './heed_setup.mjs';
import { buildTrainStep, stepFlags } from './train_step_heed.mjs';

const args = parseArgs();
const warmup = Number(args.warmup ?? 80), steps = Number(args.steps ?? 30);
if (!(Number.isInteger(warmup) && warmup >= 0 && Number.isInteger(steps) && steps >= 1)) throw new Error('--warmup and --steps take whole numbers (steps at least 1)');
const { heed, meta } = await setupHeed(args);
const { step } = buildTrainStep(heed, stepFlags(args));
for (let i = 0; i < warmup; i++) await step(i);

const NOT_COMPUTE = new Set(['free', 'read', 'readSync', 'upload', 'flush', 'savedForBackward']);
const isView = (v) => v !== null && typeof v === 'object' && 'shape' in v && 'strides' in v;
const isProgram = (v) => v !== null && typeof v === 'object' && Array.isArray(v.exprs) && Array.isArray(v.outputs);
/** A fused program's ops, counted: "mul 12, add 6, tanh 1". */
function opsOf(program) {
  const counts = new Map();
  for (const e of program.exprs) if (e.op === 'unary' || e.op === 'binary') counts.set(e.fn, (counts.get(e.fn) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([fn, n]) => `${fn} ${n}`).join(', ');
}
/** Operand shapes, runs of equal ones folded: "[128,128] x18". */
function shapesOf(views) {
  const out = [];
  for (const v of views) {
    const s = `[${v.shape}]`;
    const last = out[out.length - 1];
    if (last !== undefined && last.s === s) last.n++;
    else out.push({ s, n: 1 });
  }
  return out.map(({ s, n }) => (n > 1 ? `${s} x${n}` : s));
}
function describe(kernel, a) {
  const views = shapesOf(a.flat().filter(isView));
  const program = a.find(isProgram);
  return `${kernel} ${views.join(' ')}${program ? ` | ${program.exprs.length} exprs -> ${program.outputs.length} out: ${opsOf(program)}` : ''}`;
}

const rows = []; // per call index within a step: { what, ms[] }
let index = 0;
const stop = heed.onKernelTimed((_b, kernel, a, ms) => {
  if (NOT_COMPUTE.has(kernel)) return;
  const row = rows[index] ?? (rows[index] = { what: describe(kernel, a), ms: [] });
  row.ms.push(ms);
  index++;
});
const stepMs = [];
for (let s = 0; s < steps; s++) {
  index = 0;
  const t0 = performance.now();
  await step(warmup + s);
  stepMs.push(performance.now() - t0);
}
stop();
await heed.flush();
const median = (xs) => stats(xs).median; // the harness's own median (trainLoop's)
let sum = 0;
rows.forEach((r, i) => {
  const m = median(r.ms);
  sum += m;
  console.log(`${String(i).padStart(3)} ${(m * 1000).toFixed(0).padStart(6)} us  ${r.what}`);
});
const stepMedian = median(stepMs);
console.log(`${rows.length} kernels per step; their medians sum to ${sum.toFixed(2)} ms of the step's median ${stepMedian.toFixed(2)} ms`);
emit({ suite: 'train-kernels', ...meta, warmup, steps, kernels_per_step: rows.length, kernel_ms: sum, step_ms: stepMedian });
process.exit(0);
