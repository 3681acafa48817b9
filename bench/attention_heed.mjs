// SPDX-License-Identifier: MIT
// Training attention benchmark: forward + backward() of scaledDotProductAttention (q, k, v
// [1, H, L, D] leaves requiring grad, L = S, causal) with the backend's fused training pair
// (attentionForward/attentionBackward: no [L, S] buffer) and with core's decomposition (the
// same backend instance with the pair hidden: matmul + softmax primitives). For each length it
// prints the median step time, the peak of live backend bytes during the step (sampled at
// every kernel call through onKernel) and the max |difference| of the gradients between modes.
// One `RESULT {json}` line per length.
// usage: node bench/attention_heed.mjs [--lengths=256,512,1024,2048] [--heads=1] [--dim=64] [--reps=3] [--backend=cpu|webgpu] [--auto]
// (--auto: WebGPU keeps its size floor, below which the fused forward declines)
// (needs `npm run build`)
import { parseArgs } from '../../shared/peers/lib/common.mjs';
import { setupHeed, sync } from './heed_setup.mjs';

const args = parseArgs();
const lengths = String(args.lengths ?? '256,512,1024,2048').split(',').map(Number);
const H = Number(args.heads ?? 1);
const D = Number(args.dim ?? 64);
const reps = Number(args.reps ?? 3);
const { heed, backend, meta } = await setupHeed(args);
const instance = backend.inner ?? backend;
const PAIR = ['attentionForward', 'attentionBackward'];
if (PAIR.some((k) => typeof instance[k] !== 'function')) throw new Error(`${backend.name} has no fused training attention`);
// WebGPU declines the fused pair below 2^24 scores unless its debug switch says otherwise
if (instance.runtime?.debug && !args.auto) instance.runtime.debug.alwaysFuseTrainingAttention = true;

/** Hides (true) or restores (false) the fused pair on the instance. */
const savedPair = new Map();
function hidePair(hide) {
  for (const k of PAIR) {
    if (hide) {
      savedPair.set(k, Object.getOwnPropertyDescriptor(instance, k) ?? null);
      Object.defineProperty(instance, k, { value: undefined, configurable: true, writable: true });
    } else if (savedPair.has(k)) {
      const saved = savedPair.get(k);
      delete instance[k];
      if (saved) Object.defineProperty(instance, k, saved);
      savedPair.delete(k);
    }
  }
}

/** One forward + backward; returns { ms, peak, grads } (grads as Float32Arrays). */
async function step(q, k, v) {
  const base = heed.memory().numBytes;
  let peak = base;
  const stop = heed.onKernel(() => { peak = Math.max(peak, heed.memory().numBytes); });
  const t0 = performance.now();
  // backward() (valueAndGrad on inputs that require grad builds a second-order graph, which
  // takes the differentiable decomposition for the backward)
  const grads = heed.tidy(() => {
    const leaves = [q, k, v].map((t) => heed.detach(t).requiresGrad_());
    heed.backward(heed.sum(heed.scaledDotProductAttention(leaves[0], leaves[1], leaves[2], { isCausal: true })));
    return leaves.map((t) => t.grad.clone());
  });
  await sync(backend, grads[2]);
  const ms = performance.now() - t0;
  peak = Math.max(peak, heed.memory().numBytes);
  stop();
  const host = await Promise.all(grads.map((g) => g.data()));
  for (const g of grads) g.dispose();
  return { ms, peak: peak - base, grads: host };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`# ${meta.backend}, B=1 H=${H} D=${D}, causal, forward + backward, median of ${reps}`);
console.log('| L = S | fused ms | decomposition ms | fused peak MiB | decomposition peak MiB | max |grad diff| |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const L of lengths) {
  const gen = new heed.Generator(L);
  const [q, k, v] = [0, 1, 2].map(() => heed.randn([1, H, L, D], { generator: gen }));
  const runs = { fused: [], decomposition: [] };
  let last = {};
  for (let r = 0; r < reps + 1; r++) {
    for (const mode of ['fused', 'decomposition']) {
      hidePair(mode === 'decomposition');
      try {
        const res = await step(q, k, v);
        if (r > 0) runs[mode].push(res); // the first round warms up
        last[mode] = res;
      } finally {
        if (mode === 'decomposition') hidePair(false);
      }
    }
  }
  let diff = 0;
  last.fused.grads.forEach((g, i) => g.forEach((x, j) => { diff = Math.max(diff, Math.abs(x - last.decomposition.grads[i][j])); }));
  const row = {
    L, H, D, fusedMs: median(runs.fused.map((x) => x.ms)), decompositionMs: median(runs.decomposition.map((x) => x.ms)),
    fusedPeakBytes: Math.max(...runs.fused.map((x) => x.peak)), decompositionPeakBytes: Math.max(...runs.decomposition.map((x) => x.peak)), maxGradDiff: diff,
  };
  const mib = (b) => (b / 2 ** 20).toFixed(2);
  console.log(`| ${L} | ${row.fusedMs.toFixed(1)} | ${row.decompositionMs.toFixed(1)} | ${mib(row.fusedPeakBytes)} | ${mib(row.decompositionPeakBytes)} | ${diff.toExponential(1)} |`);
  console.log(`RESULT ${JSON.stringify({ ...meta, bench: 'attention-train', ...row })}`);
  for (const t of [q, k, v]) t.dispose();
}
