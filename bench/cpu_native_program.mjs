// SPDX-License-Identifier: MIT
// Native program interpreter vs generated WASM programs (issue #13): an Adam-update program (plain
// arithmetic) and a tanh-GELU program at 16K-256K elements on the native backend and on the
// WASM-only CPU backend, microseconds per call, each backend in a child process of its own.
// Source of native-program.ts's COST table.
// usage: T=1|2 node bench/cpu_native_program.mjs
import { CpuBackend } from '@heed/backend-cpu';
import { createNativeCpuBackend } from '@heed/backend-native';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
const threads = Number(process.env.T ?? 2);
const I = (i) => ({ op: 'input', input: i, dtype: 'float32' });
const C = (v) => ({ op: 'const', value: v, dtype: 'float32' });
// m' = m*b1 + g*(1-b1); v' = v*b2 + g*g*(1-b2); p' = p - m'*lr/(sqrt(v')+eps)
const ex = [I(0), I(1), I(2), I(3), C(0.9), C(0.1), C(0.999), C(0.001), C(1e-3), C(1e-8)];
const B = (fn, a, b) => { ex.push({ op: 'binary', fn, a, b, dtype: 'float32' }); return ex.length - 1; };
const U = (fn, x) => { ex.push({ op: 'unary', fn, x, dtype: 'float32' }); return ex.length - 1; };
const m2 = B('add', B('mul', 1, 4), B('mul', 0, 5));
const v2 = B('add', B('mul', 2, 6), B('mul', B('mul', 0, 0), 7));
const p2 = B('sub', 3, B('div', B('mul', m2, 8), B('add', U('sqrt', v2), 9)));
const gelu = [I(0), C(0.5), C(0.044715), C(0.79788), C(1)];
const G = (fn, a, b) => { gelu.push(b === undefined ? { op: 'unary', fn, x: a, dtype: 'float32' } : { op: 'binary', fn, a, b, dtype: 'float32' }); return gelu.length - 1; };
const x3 = G('mul', G('mul', 0, 0), 0);
const out = G('mul', G('mul', 0, 1), G('add', G('tanh', G('mul', G('add', 0, G('mul', x3, 2)), 3)), 4));
const SIZES = [16384, 65536, 262144];
const kind = process.argv.find((a) => a.startsWith('--kind='))?.slice(7);
if (kind === undefined) {
  // The parent: each backend in a child process of its own, wasm and native twice in turn (backends
  // left alive in one process keep their worker pools and skew each other's timings).
  const runs = ['wasm', 'native', 'wasm', 'native'].map((k) => {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), `--kind=${k}`], { encoding: 'utf8', env: process.env });
    return { k, times: JSON.parse(out.trim().split('\n').pop()) };
  });
  for (const n of SIZES) for (const pn of ['adam', 'gelu']) {
    console.log(`T=${threads} ${pn} n=${n}: ${runs.map(({ k, times }) => `${k} ${times[`${pn} ${n}`].toFixed(0)}us`).join('  ')}`);
  }
  process.exit(0);
}
const be = kind === 'native' ? createNativeCpuBackend({ threads }) : new CpuBackend({ fast: true, threads });
const times = {};
for (const n of SIZES) {
  const progs = { adam: { shape: [n], exprs: ex, outputs: [m2, v2, p2] }, gelu: { shape: [n], exprs: gelu, outputs: [out] } };
  const ins = Array.from({ length: 4 }, (_, k) => ({ data: be.upload(Float32Array.from({ length: n }, (_, i) => Math.sin(i + k)), 'float32'), dtype: 'float32', shape: [n], strides: [1], offset: 0 }));
  for (const [pn, program] of Object.entries(progs)) {
    const use = ins.slice(0, pn === 'adam' ? 4 : 1);
    for (let w = 0; w < 50; w++) for (const id of be.elementwise(program, use)) be.free(id);
    const t0 = performance.now(); const R = 400;
    for (let w = 0; w < R; w++) for (const id of be.elementwise(program, use)) be.free(id);
    times[`${pn} ${n}`] = (performance.now() - t0) / R * 1000;
  }
}
console.log(JSON.stringify(times));
process.exit(0);
