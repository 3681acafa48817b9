// SPDX-License-Identifier: MIT
// Heed transformer-encoder-layer training step for the peers harness, timed by
// lib/train_loop.mjs: the step is ./train_step_heed.mjs's (the layer, data, seeds and Adam of
// ../shared/peers/lib/model_spec.mjs, written with Heed's public API; shared with
// webgpu_step_profile.mjs). LayerNorm and GELU are written from primitives exactly as the peers
// do (default), or with Heed's fused composites (--fused: layerNorm / gelu, each one kernel plus
// one gradient rule). Adam is the same op-by-op formula as the peers (default) or core's
// `adamStep` (--adam=step: the backend's fused `adam` kernel on any backend that has one, e.g.
// the CPU's one-pass WASM kernel, what nn.Adam uses).
// Loss at step 1 must be 2.4807, step 8 1.8826.
// --compile runs the step through core's compile(): traced on its first calls, then its kernel
// schedule is replayed (the bias corrections c1/c2 of the ops Adam are passed as 0-d tensor
// arguments, since host numbers are frozen in a trace; --adam=step's are re-derived by compile).
// --warmup=N runs N untimed steps first (default 3, the harness's): V8 keeps optimizing the lazy
// layer's JS on its background threads for well over the default warm-up, so a steady-state
// comparison of --lazy needs more. --profile also prints where the CPU matmuls ran (native/WASM).
// usage: node bench/train_heed.mjs [--backend=cpu|webgpu] [--fused] [--adam=ops|step] [--lazy] [--compile] [--profile] [--warmup=N]
//        CPU debug flags: --threads=N  --reference  --simd=simd|relaxed
import { parseArgs, emit, rssMB } from '../../shared/peers/lib/common.mjs';
import { trainLoop } from '../../shared/peers/lib/train_loop.mjs';
import { setupHeed } from './heed_setup.mjs';
import { buildTrainStep, stepFlags } from './train_step_heed.mjs';

const args = parseArgs();
const flags = stepFlags(args);
const { fused, stepAdam } = flags;
const { heed, backend, meta } = await setupHeed(args);
const rssInit = rssMB();
const { step, compiled } = buildTrainStep(heed, flags);

const warmup = args.warmup === undefined ? undefined : Number(args.warmup);
if (warmup !== undefined && !(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`--warmup=${args.warmup}: give a whole number of untimed steps (default 3)`);
const r = await trainLoop(step, warmup === undefined ? {} : { warmup });
if (warmup !== undefined) r.warmup_steps = warmup;

/**
 * Kernel dispatches per step: what reached the backend (under --lazy, its inner backend) over 10
 * more steps, divided by 10. Under --lazy alone each step's backward and Adam are still pending
 * when its loss is read and run at the start of the next step (the parameters are read), so the
 * first counted step computes the previous one's and the last one's are left to the closing
 * flush, which is not counted: the steady state of a training loop.
 */
async function dispatchesPerStep(steps = 10) {
  const NOT_COMPUTE = new Set(['read', 'readSync', 'free', 'upload', 'flush', 'savedForBackward']);
  const lazyBackend = typeof backend.stats === 'function' ? backend : null;
  let eager = 0;
  // a compiled replay calls the computing (inner) backend itself: count what reaches it
  const stop = heed.onKernel((b, kernel) => { if (!NOT_COMPUTE.has(kernel) && b !== lazyBackend) eager++; });
  const before = lazyBackend?.stats().dispatches ?? 0;
  for (let i = 0; i < steps; i++) await step(r.steps + 100 + i);
  const n = lazyBackend && !compiled ? lazyBackend.stats().dispatches - before : eager;
  stop();
  await heed.flush();
  return n / steps;
}
r.dispatches_per_step = await dispatchesPerStep();
if (args.profile) {
  // One more step under core's profile(): per-kernel calls and host milliseconds (CPU kernels are
  // synchronous, so host time is their time; on WebGPU it is encoding time only).
  const p = await heed.profile(() => step(r.steps + 110));
  const total = p.kernels.reduce((a, k) => a + k.ms, 0);
  console.error(`profile of one step: ${p.ms.toFixed(1)} ms wall, ${total.toFixed(1)} ms in ${p.dispatches} kernel dispatches`);
  for (const k of p.kernels.slice(0, 12)) {
    console.error(`  ${k.kernel.padEnd(12)} x${String(k.calls).padStart(4)}  ${k.ms.toFixed(2).padStart(7)} ms  ${(k.bytesRead / 2 ** 20).toFixed(1).padStart(6)} MiB read`);
  }
  const routes = (backend.inner ?? backend).fastInfo?.()?.matmuls;
  if (routes) console.error(`CPU matmul calls so far: ${routes.native} native, ${routes.wasm} WASM GEMM`);
}
if (compiled) {
  const s = compiled.stats;
  console.error(`compile: ${s.replays} replays, ${s.traces} trace(s), ${s.eagerCalls} eager calls${s.notCompiled.length ? `; ${s.notCompiled.join(' ')}` : ''}`);
  r.compile = { replays: s.replays, traces: s.traces, eagerCalls: s.eagerCalls, notCompiled: s.notCompiled };
}
emit({
  suite: 'train', ...meta, mode: `${fused ? 'fused-ln-gelu' : 'primitives'}${stepAdam ? '+adamStep' : ''}${compiled ? '+compile' : ''}`,
  rss_init_mb: rssInit, heedTensors: heed.memory().numTensors, ...r,
});
process.exit(0);
