// SPDX-License-Identifier: MIT
// Per-step times of the spec's training step (train_step_heed.mjs) over its first N steps, ten
// to a line, and the medians of steps 4-33 (what the peers harness's trainLoop times: 3 warm-up
// steps, then up to 30) and of steps 51-N (the steady state). It shows how the first replays of
// a compiled step compare with later ones, which a single median hides; V8 options passed to
// node (e.g. --no-opt) show how much of the difference is JIT compilation. Prints one RESULT line.
// usage: node [v8 flags] bench/train_curve_heed.mjs [--backend=cpu|webgpu] [--native] [--lazy] [--compile] [--fused] [--adam=ops|step] [--steps=N]
import { parseArgs, emit } from '../../shared/peers/lib/common.mjs';
import { setupHeed } from './heed_setup.mjs';
import { buildTrainStep, stepFlags } from './train_step_heed.mjs';

const args = parseArgs();
const steps = Number(args.steps ?? 80);
if (!(Number.isInteger(steps) && steps >= 34)) throw new Error(`--steps=${args.steps}: give a whole number of steps, at least 34`);
const { heed, meta } = await setupHeed(args);
const { step } = buildTrainStep(heed, stepFlags(args));
const times = [];
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  await step(i);
  times.push(performance.now() - t0);
}
await heed.flush();
for (let i = 0; i < steps; i += 10) console.log(String(i + 1).padStart(4), times.slice(i, i + 10).map((t) => t.toFixed(1).padStart(6)).join(''));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const early = median(times.slice(3, 33));
const steady = steps > 50 ? median(times.slice(50)) : null;
console.log(`median of steps 4-33: ${early.toFixed(2)} ms${steady === null ? '' : `; of steps 51-${steps}: ${steady.toFixed(2)} ms`}`);
emit({ suite: 'train-curve', ...meta, steps, ms_steps_4_33: early, ms_steps_51_on: steady, first_step_ms: times[0], execArgv: process.execArgv.join(' ') });
process.exit(0);
