#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Native row kernels (@heed/backend-native's rows.c) against the WASM SIMD kernels of the CPU
// backend, kernel by kernel at transformer sizes (B8 T64 D128 F512 and B8 T256 D512 F2048, 8
// heads): softmax of attention scores, layerNorm and GELU of activations, row sums / maxes and
// column sums (bias gradients). Both backends get the same inputs and thread count; each figure
// is the lower quartile and the median of single calls (see timeCalls). Also checks that both
// agree (max abs difference). `--threshold --addon=PATH` instead times the native kernels of an
// addon built without the parallel threshold on 1 and 2 OpenMP threads from 2^12 to 2^21
// elements (where rows.c's PAR_MIN should sit); build it with
//   node bench/native_rows.mjs --build-threshold-addon=/tmp/heed_native_par0.node
// usage: npx turbo run build --filter=@heed/backend-native... && node bench/native_rows.mjs [--threads=2]
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '@heed/backend-cpu';
import { createNativeCpuBackend } from '@heed/backend-native';
import { randomFloats as random } from '../packages/backend-native/test/random-data.mjs';

const arg = (name, fallback) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? fallback : hit.slice(name.length + 3);
};
const threads = Number(arg('threads', '2'));

const dense = (shape) => shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
const view = (be, raw, shape) => ({ data: be.upload(raw, 'float32'), dtype: 'float32', shape, strides: dense(shape), offset: 0 });

/**
 * ms of `run()` (which returns a buffer to free) timed call by call (up to 200 calls or 300 ms):
 * the lower quartile and the median. On a shared machine a woken OpenMP team member or WASM
 * worker often waits a whole time slice (~20 ms); the lower quartile shows the kernels without it.
 */
function timeCalls(be, run) {
  for (let i = 0; i < 5; i++) be.free(run());
  const t = [];
  const end = performance.now() + 300;
  while (t.length < 200 && (t.length < 20 || performance.now() < end)) {
    const t0 = performance.now();
    const id = run();
    t.push(performance.now() - t0);
    be.free(id);
  }
  t.sort((a, b) => a - b);
  return { p25: t[Math.floor(t.length / 4)], p50: t[Math.floor(t.length / 2)] };
}

/** The kernels of one size: [label, input shape, output size, call(backend, inputs) -> DataId]. */
function cases(B, T, D, F, H) {
  return [
    [`softmax scores [${B * H}, ${T}, ${T}]`, [B * H, T, T], B * H * T * T, (be, [x]) => be.softmax(x)],
    [`logSoftmax [${B * T}, ${F}]`, [B * T, F], B * T * F, (be, [x]) => be.logSoftmax(x)],
    [`layerNorm [${B * T}, ${D}] +w +b`, [B * T, D], B * T * D, (be, [x, w, b]) => be.layerNorm(x, w, b, 1e-5)],
    [`gelu erf [${B * T}, ${F}]`, [B * T, F], B * T * F, (be, [x]) => be.gelu(x, 'none')],
    [`gelu tanh [${B * T}, ${F}]`, [B * T, F], B * T * F, (be, [x]) => be.gelu(x, 'tanh')],
    [`sum rows [${B * T}, ${D}] -> [${B * T}]`, [B * T, D], B * T, (be, [x]) => be.reduce('sum', x, [1], 'float32')],
    [`max rows [${B * H * T}, ${T}]`, [B * H * T, T], B * H * T, (be, [x]) => be.reduce('max', x, [1], 'float32')],
    [`sum cols [${B * T}, ${F}] -> [${F}] (bias grad)`, [B * T, F], F, (be, [x]) => be.reduce('sum', x, [0], 'float32')],
  ];
}

async function compare() {
  const wasm = new CpuBackend({ threads });
  const nat = createNativeCpuBackend({ threads });
  // the WASM workers start asynchronously: wait until the pool is up so both use `threads`
  const t0 = Date.now();
  while ((wasm.fastInfo()?.threads ?? 1) < threads && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  console.log(`native: ${nat.fastInfo()?.native}; wasm: ${wasm.fastInfo()?.flavor}, ${wasm.fastInfo()?.threads} threads`);
  console.log('| size | kernel | WASM ms p25 / p50 | native ms p25 / p50 | WASM / native (p25) | max abs diff |');
  console.log('|---|---|---|---|---|---|');
  for (const [B, T, D, F, H] of [[8, 64, 128, 512, 8], [8, 256, 512, 2048, 8]]) {
    for (const [label, shape, outSize, call] of cases(B, T, D, F, H)) {
      const n = shape[shape.length - 1];
      const raws = [random(shape.reduce((a, b) => a * b, 1), n, 4), random(n, 1), random(n, 2)];
      const inputs = (be) => [view(be, raws[0], shape), view(be, raws[1], [n]), view(be, raws[2], [n])];
      const wi = inputs(wasm);
      const ni = inputs(nat);
      const tw = timeCalls(wasm, () => call(wasm, wi));
      const tn = timeCalls(nat, () => call(nat, ni));
      const ia = call(wasm, wi);
      const ib = call(nat, ni);
      const a = wasm.readSync(ia, 'float32', outSize);
      const b = nat.readSync(ib, 'float32', outSize);
      let diff = 0;
      for (let i = 0; i < outSize; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
      console.log(`| B${B} T${T} D${D} F${F} | ${label} | ${tw.p25.toFixed(3)} / ${tw.p50.toFixed(3)} | ${tn.p25.toFixed(3)} / ${tn.p50.toFixed(3)} | ${(tw.p25 / tn.p25).toFixed(2)}x | ${diff.toExponential(1)} |`);
      wasm.free(ia);
      nat.free(ib);
      for (const v of wi) wasm.free(v.data);
      for (const v of ni) nat.free(v.data);
    }
  }
}

/** Compiles heed_native.node with -DHEED_ROWS_PAR_MIN=0 (every row kernel uses the whole team) to `out`. */
function buildThresholdAddon(out) {
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'packages', 'backend-native', 'native');
  const include = join(dirname(dirname(process.execPath)), 'include', 'node');
  const files = ['heed_native.c', 'gemm.c', 'rows.c', 'adam.c', 'attention.c'].map((f) => join(src, f));
  execFileSync('gcc', ['-std=gnu11', '-O3', '-fopenmp', '-ffp-contract=off', '-fno-math-errno', '-fPIC', '-shared', '-D_GNU_SOURCE',
    '-DHEED_ROWS_PAR_MIN=0', `-I${include}`, ...files, '-o', out, '-ldl', '-lm'], { stdio: 'inherit' });
  console.log(`built ${out}`);
}

function threshold(path) {
  const addon = createRequire(import.meta.url)(path);
  addon.load(['/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0', 'libopenblas.so.0']);
  const nat = new CpuBackend({ threads: 2, native: { name: 'rows without threshold', kernels: addon } });
  console.log('| elements | kernel | 1 thread ms (p25) | 2 threads ms (p25) | 1 / 2 |');
  console.log('|---|---|---|---|---|');
  for (let e = 12; e <= 21; e += 1) {
    const size = 2 ** e;
    const n = 256;
    const x = view(nat, random(size, e, 4), [size / n, n]);
    const kernels = [['softmax', () => nat.softmax(x)], ['layerNorm', () => nat.layerNorm(x, null, null, 1e-5)],
      ['gelu', () => nat.gelu(x, 'none')], ['sum rows', () => nat.reduce('sum', x, [1], 'float32')], ['sum cols', () => nat.reduce('sum', x, [0], 'float32')]];
    for (const [label, run] of kernels) {
      addon.setThreads(1);
      const t1 = timeCalls(nat, run).p25;
      addon.setThreads(2);
      const t2 = timeCalls(nat, run).p25;
      console.log(`| 2^${e} | ${label} | ${t1.toFixed(4)} | ${t2.toFixed(4)} | ${(t1 / t2).toFixed(2)} |`);
    }
    nat.free(x.data);
  }
}

const build = arg('build-threshold-addon', null);
if (build !== null) buildThresholdAddon(build);
else if (process.argv.includes('--threshold')) threshold(arg('addon', '/tmp/heed_native_par0.node'));
else await compare();
