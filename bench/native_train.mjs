#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Native training kernels (@heed/backend-native's adam.c and attention.c, through the CPU
// backend's glue fast/native-train.ts) against what the CPU backend runs without them: the
// WASM fastAdam kernel at 1M-10M parameters, and fused training attention forward + backward
// (out + lse, then dq/dk/dv) at B2 H8 D64, L = S = 512 and 2048, against the JS tiled kernels of
// attention-train.ts over the WASM SIMD matmul. Same inputs and thread count on both sides;
// each figure is the median ms of the samples (>= 3) of a timed loop; also the max abs
// difference of the results. `--threshold` instead times the native kernels on 1 and N OpenMP
// threads at growing sizes (where ADAM_PARALLEL_ELEMENTS / ATTN_PARALLEL_MACS should sit); give it
// `--addon=<heed_native.node built with -DADAM_PARALLEL_ELEMENTS=0 -DATTN_PARALLEL_MACS=0>` so the
// team runs at every size. `--crossover` times a whole training step of core's
// scaledDotProductAttention (causal, B2 H8 D64, forward + backward()) on the native backend three
// ways: the native fused pair, the JS tiled pair (what the backend runs today) and the
// decomposition (native matmul + softmax), from L = S = 64 up: where fusing starts to pay.
// usage: npx turbo run build --filter=@heed/backend-native... && node bench/native_train.mjs [--threads=2] [--only=adam|attention] [--long=0] [--threshold [--addon=path]] [--crossover [--lengths=64,128,...]]
import { createRequire } from 'node:module';
import { CpuBackend } from '@heed/backend-cpu';
import { nativeProvider } from '@heed/backend-native';
import { randomFloats as random } from '../packages/backend-native/test/random-data.mjs';

const dist = (path) => new URL(`../packages/backend-cpu/dist/${path}`, import.meta.url).href;
const { nativeAdam, nativeAttentionForward, nativeAttentionBackward } = await import(dist('fast/native-train.js'));
const { attentionForwardKernel, attentionBackwardKernel } = await import(dist('attention-train.js'));
const { acquireFastRuntime } = await import(dist('fast/index.js'));

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
};
const threads = Number(arg('threads', '2'));
const only = arg('only', 'all');
const long = arg('long', '1') !== '0';

const dense = (shape) => shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
const view = (be, raw, shape) => ({ data: be.upload(raw, 'float32'), dtype: 'float32', shape, strides: dense(shape), offset: 0 });

/** Median ms per call of `run()` (returns buffers to free) over `samples` samples of >= `minMs`. */
function time(be, run, { samples = 5, minMs = 100 } = {}) {
  const once = () => { for (const id of run()) be.free(id); };
  once();
  let k = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < k; i++) once();
    if (performance.now() - t0 >= minMs) break;
    k *= 2;
  }
  const ms = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < k; i++) once();
    ms.push((performance.now() - t0) / k);
  }
  return ms.sort((a, b) => a - b)[samples >> 1];
}

function maxDiff(be, a, b, n) {
  const x = be.readSync(a, 'float32', n);
  const y = be.readSync(b, 'float32', n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (x[i] === y[i]) continue; // equal infinities
    m = Math.max(m, Math.abs(x[i] - y[i]));
  }
  return m;
}

const be = new CpuBackend({ threads });
const t0 = Date.now();
while ((be.fastInfo()?.threads ?? 1) < threads && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
const rt = acquireFastRuntime({ threads });
const provider = { ...nativeProvider(threads) };
if (arg('addon', '') !== '') { // a variant build of the addon (thresholds at 0), on the same OpenBLAS
  const variant = createRequire(import.meta.url)(arg('addon', ''));
  variant.load(['/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0', 'libopenblas.so.0', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0']);
  variant.setThreads(threads);
  provider.kernels = variant;
}
const addon = provider.kernels;
const ops = { matmul: (a, b) => be.matmul(a, b), free: (id) => be.free(id), emit: (a) => be.upload(a, 'float32') };
const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
console.log(`native: ${provider.name}; wasm: ${be.fastInfo()?.flavor}, ${be.fastInfo()?.threads} threads`);

const step = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 1 / (1 - 0.9 ** 10), c2: 1 / (1 - 0.999 ** 10) };
const adamInputs = (n) => [random(n, 1), random(n, 2), random(n, 3, 0.1), random(n, 4, 0.01).map((x) => x * x)].map((r) => view(be, r, [n]));

function adam() {
  console.log('\n| Adam step | WASM ms | native ms | WASM / native | max abs diff (param) |');
  console.log('|---|---|---|---|---|');
  for (const n of [1 << 20, 4 << 20, 10_000_000]) {
    const [p, g, m, v] = adamInputs(n);
    const w = be.adam(p, g, m, v, step);
    const nat = nativeAdam(rt, provider, p, g, m, v, step);
    if (nat === null) throw new Error('nativeAdam declined');
    const diff = maxDiff(be, w[0], nat[0], n);
    for (const id of [...w, ...nat]) be.free(id);
    const tw = time(be, () => be.adam(p, g, m, v, step));
    const tn = time(be, () => nativeAdam(rt, provider, p, g, m, v, step));
    console.log(`| ${(n / 1e6).toFixed(1)}M params | ${fmt(tw)} | ${fmt(tn)} | ${(tw / tn).toFixed(2)} | ${diff.toExponential(1)} |`);
    for (const x of [p, g, m, v]) be.free(x.data);
  }
}

function attention() {
  console.log('\n| attention B2 H8 D64 | JS/WASM fwd ms | native fwd ms | fwd ratio | JS/WASM bwd ms | native bwd ms | bwd ratio | fwd+bwd ratio | max abs diff (out, dq) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const B = 2, H = 8, D = 64;
  for (const L of long ? [512, 2048] : [512]) {
    for (const causal of [false, true]) {
      const S = L;
      const q = view(be, random(B * H * L * D, 1), [B, H, L, D]);
      const k = view(be, random(B * H * S * D, 2), [B, H, S, D]);
      const v = view(be, random(B * H * S * D, 3), [B, H, S, D]);
      const dy = view(be, random(B * H * L * D, 4), [B, H, L, D]);
      const scale = 1 / Math.sqrt(D);
      const asView = (id, shape) => ({ data: id, dtype: 'float32', shape, strides: dense(shape), offset: 0 });
      const fwdJs = () => attentionForwardKernel(q, k, v, null, scale, causal, ops);
      const fwdNat = () => nativeAttentionForward(rt, provider, q, k, v, null, scale, causal);
      const [o, lse] = fwdJs();
      const [on, lsen] = fwdNat();
      const ov = asView(o, [B, H, L, D]), lv = asView(lse, [B, H, L]);
      const bwdJs = () => attentionBackwardKernel(q, k, v, null, scale, causal, ov, dy, lv, ops);
      const bwdNat = () => nativeAttentionBackward(rt, provider, q, k, v, null, scale, causal, ov, dy, lv);
      const gj = bwdJs(), gn = bwdNat();
      const diff = `${maxDiff(be, o, on, B * H * L * D).toExponential(1)}, ${maxDiff(be, gj[0], gn[0], B * H * L * D).toExponential(1)}`;
      for (const id of [on, lsen, ...gj, ...gn]) be.free(id);
      const opts = L >= 2048 ? { samples: 3, minMs: 0 } : { samples: 5, minMs: 200 };
      const fj = time(be, fwdJs, opts), fn = time(be, fwdNat, opts);
      const bj = time(be, bwdJs, opts), bn = time(be, bwdNat, opts);
      console.log(`| L=S=${L}${causal ? ' causal' : ''} | ${fmt(fj)} | ${fmt(fn)} | ${(fj / fn).toFixed(2)} | ${fmt(bj)} | ${fmt(bn)} | ${(bj / bn).toFixed(2)} | ${((fj + bj) / (fn + bn)).toFixed(2)} | ${diff} |`);
      for (const id of [o, lse, q.data, k.data, v.data, dy.data]) be.free(id);
    }
  }
}

/** Native kernels on 1 vs `threads` OpenMP threads (their parallel thresholds forced by size). */
function threshold() {
  console.log(`\n| Adam elements | 1 thread ms | ${threads} threads ms | speedup |`);
  console.log('|---|---|---|---|');
  for (let e = 12; e <= 20; e += 2) {
    const n = 1 << e;
    const [p, g, m, v] = adamInputs(n);
    const at = (t) => { addon.setThreads(t); return time(be, () => nativeAdam(rt, provider, p, g, m, v, step)); };
    const t1 = at(1), tn = at(threads);
    console.log(`| 2^${e} | ${fmt(t1 * 1000)} us | ${fmt(tn * 1000)} us | ${(t1 / tn).toFixed(2)} |`);
    for (const x of [p, g, m, v]) be.free(x.data);
  }
  console.log(`\n| attention fwd B1 H4 D32, L = S | MACs | 1 thread ms | ${threads} threads ms | speedup |`);
  console.log('|---|---|---|---|---|');
  for (const L of [16, 32, 64, 128, 256]) {
    const [B, H, D] = [1, 4, 32];
    const q = view(be, random(B * H * L * D, 1), [B, H, L, D]);
    const at = (t) => { addon.setThreads(t); return time(be, () => nativeAttentionForward(rt, provider, q, q, q, null, 0.2, false)); };
    const t1 = at(1), tn = at(threads);
    console.log(`| ${L} | 2^${Math.log2(B * H * L * L * 2 * D).toFixed(0)} | ${fmt(t1)} | ${fmt(tn)} | ${(t1 / tn).toFixed(2)} |`);
    be.free(q.data);
  }
  addon.setThreads(threads);
}

/** Median ms of a training step of core's attention through each way of running it. */
async function crossover() {
  const heed = await import('@heed/core');
  const { createNativeCpuBackend } = await import('@heed/backend-native');
  const inst = createNativeCpuBackend({ threads, fuseTrainingAttentionFrom: 0 });
  heed.registerBackend({ name: 'cpu', priority: 9, create: () => inst });
  await heed.setBackend('cpu');
  // the JS tiled kernels over this backend's (native) matmul, whatever the backend wires itself
  const instOps = { matmul: (a, b) => inst.matmul(a, b), free: (id) => inst.free(id), emit: (a) => inst.upload(a, 'float32') };
  const js = {
    attentionForward: (q, k, v, m, s, c) => attentionForwardKernel(q, k, v, m, s, c, instOps),
    attentionBackward: (q, k, v, m, s, c, o, dy, l) => attentionBackwardKernel(q, k, v, m, s, c, o, dy, l, instOps),
  };
  const modes = {
    native: { attentionForward: (q, k, v, m, s, c) => nativeAttentionForward(rt, provider, q, k, v, m, s, c),
      attentionBackward: (q, k, v, m, s, c, o, dy, l) => nativeAttentionBackward(rt, provider, q, k, v, m, s, c, o, dy, l) },
    js,
    decomposition: { attentionForward: undefined, attentionBackward: undefined },
  };
  const B = 2, H = 8, D = 64;
  console.log(`\n| training step B${B} H${H} D${D} causal, L = S | native fused ms | JS tiled fused ms | decomposition ms | decomposition / native |`);
  console.log('|---|---|---|---|---|');
  for (const L of arg('lengths', '64,128,256,512,1024').split(',').map(Number)) {
    const gen = new heed.Generator(L);
    const [q, k, v] = [0, 1, 2].map(() => heed.randn([B, H, L, D], { generator: gen }));
    const stepMs = () => {
      const t0 = performance.now();
      const grads = heed.tidy(() => {
        const leaves = [q, k, v].map((t) => heed.detach(t).requiresGrad_());
        heed.backward(heed.sum(heed.scaledDotProductAttention(leaves[0], leaves[1], leaves[2], { isCausal: true })));
        return leaves.map((t) => t.grad.clone());
      });
      grads[2].dataSync();
      const ms = performance.now() - t0;
      for (const g of grads) g.dispose();
      return ms;
    };
    const reps = L >= 512 ? 3 : 7;
    const ms = {};
    for (const [name, pair] of Object.entries(modes)) {
      for (const [key, fn] of Object.entries(pair)) Object.defineProperty(inst, key, { value: fn, configurable: true, writable: true });
      const runs = [];
      for (let r = 0; r <= reps; r++) { const t = stepMs(); if (r > 0) runs.push(t); }
      ms[name] = runs.sort((a, b) => a - b)[reps >> 1];
    }
    console.log(`| ${L} | ${fmt(ms.native)} | ${fmt(ms.js)} | ${fmt(ms.decomposition)} | ${(ms.decomposition / ms.native).toFixed(2)} |`);
    for (const t of [q, k, v]) t.dispose();
  }
}

if (process.argv.includes('--crossover')) await crossover();
else if (process.argv.includes('--threshold')) threshold();
else {
  if (only !== 'attention') adam();
  if (only !== 'adam') attention();
}
process.exit(0);
