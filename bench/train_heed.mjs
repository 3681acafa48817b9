// SPDX-License-Identifier: MIT
// Heed transformer-encoder-layer training step for the peers harness: the layer, data, seeds
// and Adam of ../shared/peers/lib/model_spec.mjs, written with Heed's public API, timed by
// lib/train_loop.mjs. LayerNorm and GELU are written from primitives exactly as the peers do
// (default), or with Heed's fused composites (--fused: layerNorm / gelu, each one kernel plus
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
import { CFG, GELU_C, paramShapes, initParams, makeBatch, adamScalars, PARAM_NAMES } from '../../shared/peers/lib/model_spec.mjs';
import { trainLoop } from '../../shared/peers/lib/train_loop.mjs';
import { setupHeed } from './heed_setup.mjs';

const args = parseArgs();
const fused = Boolean(args.fused);
const stepAdam = args.adam === 'step';
if (args.adam !== undefined && args.adam !== 'ops' && !stepAdam) {
  throw new Error(`unknown --adam=${args.adam}; use ops or step (the CPU's in-place adamUpdate is gone: step runs its fused kernel)`);
}
const { heed, backend, meta } = await setupHeed(args);
const rssInit = rssMB();

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
  const inner = t.add(t3.mul(0.044715)).mul(GELU_C);
  return t.mul(0.5).mul(inner.tanh().add(1));
}
const heads = (t) => t.reshape([B, T, H, dh]).permute([0, 2, 1, 3]);
function forward(p, xb) {
  const x2 = xb.reshape([N, D]);
  const h = layerNorm(x2, p.ln1_g, p.ln1_b);
  const q = heads(h.matmul(p.wq).add(p.bq));
  const k = heads(h.matmul(p.wk).add(p.bk));
  const v = heads(h.matmul(p.wv).add(p.bv));
  const s = q.matmul(k.transpose(-1, -2)).mul(1 / Math.sqrt(dh));
  const a = heed.softmax(s, -1);
  const o = a.matmul(v).permute([0, 2, 1, 3]).reshape([N, D]);
  const r1 = x2.add(o.matmul(p.wo).add(p.bo));
  const h2 = layerNorm(r1, p.ln2_g, p.ln2_b);
  const f = gelu(h2.matmul(p.w1).add(p.b1)).matmul(p.w2).add(p.b2);
  return r1.add(f);
}
const lossAndGrad = heed.valueAndGrad((...params) => {
  const p = Object.fromEntries(PARAM_NAMES.map((k, i) => [k, params[i]]));
  return forward(p, X).sub(Y).square().mean();
});

function adam(grads, c1, c2, t) {
  PARAM_NAMES.forEach((k, i) => {
    const g = grads[i];
    if (stepAdam) {
      const r = heed.adamStep(P[k], g, M[k], V[k], { lr, beta1, beta2, eps, step: t });
      P[k].assign(r.param);
      M[k].assign(r.expAvg);
      V[k].assign(r.expAvgSq);
      return;
    }
    const m = M[k].mul(beta1).add(g.mul(1 - beta1));
    const v = V[k].mul(beta2).add(g.square().mul(1 - beta2));
    const upd = m.mul(c1).mul(lr).div(v.mul(c2).sqrt().add(eps));
    P[k].assign(P[k].sub(upd));
    M[k].assign(m);
    V[k].assign(v);
  });
}

function stepBody(c1, c2, t) {
  return heed.tidy(() => {
    const { value, grads } = lossAndGrad(...PARAM_NAMES.map((k) => P[k]));
    heed.noGrad(() => adam(grads, c1, c2, t));
    return value;
  });
}

// --compile: the step as a compiled function of the bias corrections (0-d tensors); the step
// count t reaches adamStep through `hostStep` (frozen in the trace, re-derived by compile).
let hostStep = 1;
const compiled = args.compile ? heed.compile(function trainStep(c1t, c2t) { return stepBody(c1t, c2t, hostStep); }) : null;

async function step(t) {
  const { c1, c2 } = adamScalars(t);
  let loss;
  if (compiled) {
    hostStep = t;
    const c1t = heed.tensor(c1), c2t = heed.tensor(c2);
    loss = compiled(c1t, c2t);
    c1t.dispose();
    c2t.dispose();
  } else {
    loss = stepBody(c1, c2, t);
  }
  const l = (await loss.data())[0]; // parameters are updated synchronously on the CPU backend
  loss.dispose();
  return l;
}

const warmup = args.warmup === undefined ? undefined : Number(args.warmup);
if (warmup !== undefined && !(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`--warmup=${args.warmup}: give a whole number of untimed steps (default 3)`);
const r = await trainLoop(step, warmup === undefined ? {} : { warmup });
if (warmup !== undefined) r.warmup_steps = warmup;

/** Kernel dispatches of one more step: what reached the backend (under --lazy, its inner backend). */
async function dispatchesPerStep() {
  const NOT_COMPUTE = new Set(['read', 'readSync', 'free', 'upload', 'flush']);
  const lazyBackend = typeof backend.stats === 'function' ? backend : null;
  let eager = 0;
  // a compiled replay calls the computing (inner) backend itself: count what reaches it
  const stop = heed.onKernel((b, kernel) => { if (!NOT_COMPUTE.has(kernel) && b !== lazyBackend) eager++; });
  const before = lazyBackend?.stats().dispatches ?? 0;
  await step(r.steps + 100);
  await heed.flush();
  stop();
  return lazyBackend && !compiled ? lazyBackend.stats().dispatches - before : eager;
}
r.dispatches_per_step = await dispatchesPerStep();
if (args.profile) {
  // One more step under core's profile(): per-kernel calls and host milliseconds (CPU kernels are
  // synchronous, so host time is their time; on WebGPU it is encoding time only).
  const p = await heed.profile(() => step(r.steps + 101));
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
