// SPDX-License-Identifier: MIT
// Memory over a run of the spec's training step (./train_step_heed.mjs, the step the peers
// harness times): after each of --steps=N steps (default 45, about the harness's 3 + 30 + 10),
// the largest JS heap (V8's heapTotal/heapUsed), the CPU fast heap's high-water mark (bytes in
// use + cached for reuse: WASM memory the process has touched) and the process's peak RSS.
// Separates what a configuration's RSS is made of (JS garbage vs kernel buffers), e.g.
//   node bench/train_memory_heed.mjs --native --lazy --steps=150
// With node --expose-gc it also prints the live JS heap after a full GC at the end (garbage vs
// leak). Flags as train_heed.mjs (--native, --lazy, --compile, --fused, --adam=step, --backend).
import { parseArgs } from '../../shared/peers/lib/common.mjs';
import { setupHeed } from './heed_setup.mjs';
import { buildTrainStep, stepFlags } from './train_step_heed.mjs';

const args = parseArgs();
const steps = args.steps === undefined ? 45 : Number(args.steps);
if (!(Number.isInteger(steps) && steps > 0)) throw new Error(`--steps=${args.steps}: give a positive whole number of steps`);
const { heed, backend } = await setupHeed(args);
const { step } = buildTrainStep(heed, stepFlags(args));
const fast = () => (backend.inner ?? backend).fastInfo?.()?.heap ?? null;
const max = { heapTotal: 0, heapUsed: 0, fastHeapTouched: 0 };
for (let t = 1; t <= steps; t++) {
  await step(t);
  const m = process.memoryUsage();
  const h = fast();
  max.heapTotal = Math.max(max.heapTotal, m.heapTotal);
  max.heapUsed = Math.max(max.heapUsed, m.heapUsed);
  if (h) max.fastHeapTouched = Math.max(max.fastHeapTouched, h.bytesInUse + h.bytesCached);
}
const mb = (x) => Number((x / 2 ** 20).toFixed(1));
const out = { steps, heapTotalMaxMB: mb(max.heapTotal), heapUsedMaxMB: mb(max.heapUsed), fastHeapTouchedMB: mb(max.fastHeapTouched), peakRssMB: mb(process.resourceUsage().maxRSS * 1024) };
if (typeof globalThis.gc === 'function') {
  await heed.flush();
  globalThis.gc();
  globalThis.gc();
  out.liveHeapAfterGcMB = mb(process.memoryUsage().heapUsed);
}
console.log(JSON.stringify(out));
process.exit(0);
