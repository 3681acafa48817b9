// SPDX-License-Identifier: MIT
// Per-step times of the spec's training step (train_step_heed.mjs) over its first N steps, ten
// to a line, and the medians of steps 4-33 (what the peers harness's trainLoop times: 3 warm-up
// steps, then up to 30) and of steps 51-N (the steady state). It shows how the first replays of
// a compiled step compare with later ones, which a single median hides; V8 options passed to
// node (e.g. --no-opt) show how much of the difference is JIT compilation. On Linux it also prints
// each thread's CPU time per step in both windows (from /proc/self/task): V8's background
// compiler threads show up as threads busy in steps 4-33 and idle later. Prints one RESULT line.
// usage: node [v8 flags] bench/train_curve_heed.mjs [--backend=cpu|webgpu] [--native] [--lazy] [--compile] [--fused] [--adam=ops|step] [--steps=N]
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs, emit, stats } from '../../shared/peers/lib/common.mjs';
import { setupHeed } from './heed_setup.mjs';
import { buildTrainStep, stepFlags } from './train_step_heed.mjs';

const args = parseArgs();
const steps = Number(args.steps ?? 80);
if (!(Number.isInteger(steps) && steps >= 34)) throw new Error(`--steps=${args.steps}: give a whole number of steps, at least 34`);
const { heed, meta } = await setupHeed(args);
const { step } = buildTrainStep(heed, stepFlags(args));
/** CPU milliseconds used so far by each thread of this process (Linux), or null elsewhere. */
function threadCpuMs() {
  try {
    const hz = 100; // USER_HZ: /proc's clock ticks are 10 ms on Linux
    return new Map(readdirSync('/proc/self/task').map((tid) => {
      const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
      return [tid, ((Number(f[11]) + Number(f[12])) * 1000) / hz];
    }));
  } catch { return null; }
}
const times = [];
const cpuAt = new Map(); // step count -> thread CPU snapshot
for (let i = 0; i < steps; i++) {
  const t0 = performance.now();
  await step(i);
  times.push(performance.now() - t0);
  if (i + 1 === 3 || i + 1 === 33 || i + 1 === 50 || i + 1 === steps) cpuAt.set(i + 1, threadCpuMs());
}
await heed.flush();
for (let i = 0; i < steps; i += 10) console.log(String(i + 1).padStart(4), times.slice(i, i + 10).map((t) => t.toFixed(1).padStart(6)).join(''));
const median = (xs) => stats(xs).median; // the harness's own median (trainLoop's)
const early = median(times.slice(3, 33));
const steady = steps > 50 ? median(times.slice(50)) : null;
console.log(`median of steps 4-33: ${early.toFixed(2)} ms${steady === null ? '' : `; of steps 51-${steps}: ${steady.toFixed(2)} ms`}`);
// Per thread: CPU ms per step in steps 4-33 and 51-N (threads under 0.2 ms/step in both left out).
const perStep = (a, b, n, tid) => ((cpuAt.get(b)?.get(tid) ?? 0) - (cpuAt.get(a)?.get(tid) ?? 0)) / n;
const threadRows = [];
if (cpuAt.get(steps) && steps > 50) {
  for (const tid of cpuAt.get(steps).keys()) {
    const e = perStep(3, 33, 30, tid), s = perStep(50, steps, steps - 50, tid);
    if (e >= 0.2 || s >= 0.2) threadRows.push({ tid: Number(tid), main: Number(tid) === process.pid, ms_steps_4_33: e, ms_steps_51_on: s });
  }
  console.log('thread CPU ms per step (10 ms ticks), steps 4-33 -> 51-' + steps + ': ' + threadRows.map((r) => `${r.main ? 'main' : r.tid} ${r.ms_steps_4_33.toFixed(1)} -> ${r.ms_steps_51_on.toFixed(1)}`).join(', '));
}
emit({ suite: 'train-curve', ...meta, steps, ms_steps_4_33: early, ms_steps_51_on: steady, threads_cpu: threadRows, first_step_ms: times[0], execArgv: process.execArgv.join(' ') });
process.exit(0);
