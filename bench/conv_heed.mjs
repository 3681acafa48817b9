// SPDX-License-Identifier: MIT
// Convolution benchmark: forward + backward of a small CNN (conv 1->16 3x3 pad 1, relu,
// maxPool 2, conv 16->32 3x3 pad 1, relu, maxPool 2, linear 32*7*7 -> 10, sum of squares) on a
// [batch, 1, 28, 28] input, timed with the backend's fused conv2d kernel (CPU: im2col in the
// WASM heap + the WASM GEMM) and without it (core's fallback: im2col through indexSelect + one
// batched matmul on the same backend's primitives). Gradients are core's in both runs; the
// script checks both give the same loss and gradients. One `RESULT {json}` line per mode; the
// modes alternate step by step.
// usage: node bench/conv_heed.mjs [--batch=32] [--reps=10] [--backend=cpu|webgpu] [--threads=N] [--reference]
import { parseArgs } from '../../shared/peers/lib/common.mjs';
import { setupHeed } from './heed_setup.mjs';

const args = parseArgs();
const batch = Number(args.batch ?? 32);
const reps = Number(args.reps ?? 10);
const { heed, backend, meta } = await setupHeed(args);
const gen = new heed.Generator(7);

const x = heed.randn([batch, 1, 28, 28], { generator: gen });
const params = [
  heed.randn([16, 1, 3, 3], { generator: gen }).mul(0.3), heed.zeros([16]),
  heed.randn([32, 16, 3, 3], { generator: gen }).mul(0.1), heed.zeros([32]),
  heed.randn([10, 32 * 7 * 7], { generator: gen }).mul(0.02), heed.zeros([10]),
];

/** The CNN's loss for parameters `ps`. */
function loss(a1, c1, a2, c2, a3, c3) {
  let h = heed.maxPool2d(heed.relu(heed.conv2d(x, a1, { bias: c1, padding: 1 })), 2);
  h = heed.maxPool2d(heed.relu(heed.conv2d(h, a2, { bias: c2, padding: 1 })), 2);
  return heed.linear(heed.flatten(h, 1), a3, c3).square().sum();
}

/** One forward + backward; returns [loss, ...grads] (caller disposes). */
function step() {
  const { value, grads } = heed.valueAndGrad(loss)(...params);
  return [value, ...grads];
}

/** One timed step (ms) and its values. */
async function timed() {
  const t0 = performance.now();
  const r = step();
  const values = await Promise.all(r.map(async (t) => Array.from(await t.data())));
  const ms = performance.now() - t0;
  for (const t of r) t.dispose();
  return { ms, values };
}

// The modes alternate step by step (after 3 warm-up steps each), so a busy machine slows both alike.
const fused = backend.conv2d;
const modes = fused ? ['fused-conv2d', 'core-fallback'] : ['core-fallback'];
const times = Object.fromEntries(modes.map((m) => [m, []]));
const last = {};
for (let i = 0; i < reps + 3; i++) {
  for (const mode of modes) {
    if (mode === 'fused-conv2d') backend.conv2d = fused;
    else delete backend.conv2d;
    const { ms, values } = await timed();
    if (i >= 3) times[mode].push(ms);
    last[mode] = values;
  }
}
if (fused) backend.conv2d = fused;
for (const mode of modes) {
  const t = times[mode].sort((a, b) => a - b);
  console.log(`RESULT ${JSON.stringify({ ...meta, suite: 'conv', op: 'cnn-fwd-bwd', mode, batch, ms: t[t.length >> 1], ms_min: t[0], reps })}`);
}
if (fused) {
  let worst = 0;
  last['fused-conv2d'].forEach((vals, i) => vals.forEach((v, j) => {
    const w = last['core-fallback'][i][j];
    worst = Math.max(worst, Math.abs(v - w) / (1e-3 + Math.abs(w)));
  }));
  console.log(`check: fused vs fallback loss and gradients, worst relative difference ${worst.toExponential(2)}${worst < 1e-3 ? ' (ok)' : ' (MISMATCH)'}`);
}
