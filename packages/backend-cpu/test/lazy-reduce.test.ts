// SPDX-License-Identifier: MIT
// Reduction fusion in lazy execution over the CPU backend: with the hand-written softmax /
// logSoftmax / layerNorm kernels hidden, core's decompositions (and logsumexp, crossEntropy)
// run as 1-2 generated programs each: a reduction's elementwise prologue, the reduction, and
// the consumers reading it through a row broadcast (epilogue) share one row loop. Results are
// bitwise the eager reference kernels' (the row loop folds in doubles in row-major order, like
// reduce.ts), also when a backend without `elementwise` runs the programs op by op; the fast
// path (generated WASM SIMD row loops, f32 folds) is close. Also: a producer read through a
// permuted view fuses as strided reads; common subexpressions are computed once; a buffer a
// kernel needs is computed with the held same-shape buffers (a multi-tensor optimizer step).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as heed from '@heed/core';
import { LazyBackend, type Backend, type Tensor } from '@heed/core';
import { crossEntropy } from '@heed/nn';
import { CpuBackend } from '@heed/backend-cpu';
import { wasmRowProgramRuns } from '../src/fast/codegen-wasm-rows.js';
import { randomValues } from './util.js';

const COMPOSITES = ['softmax', 'logSoftmax', 'layerNorm'];

/** `b` renamed, with `hide` kernels removed (core then runs its decompositions). */
function variant(b: Backend, name: string, hide: readonly string[]): Backend {
  return new Proxy(b, {
    get(target, key) {
      if (key === 'name') return name;
      if (typeof key === 'string' && hide.includes(key)) return undefined;
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const lazyRef = new LazyBackend(variant(new CpuBackend({ fast: false }), 'inner', COMPOSITES), { name: 'rl-lazy-ref' });
const lazyUnfused = new LazyBackend(variant(new CpuBackend({ fast: false }), 'inner', [...COMPOSITES, 'elementwise']), { name: 'rl-lazy-unfused' });
const lazyFast = new LazyBackend(variant(new CpuBackend(), 'inner', COMPOSITES), { name: 'rl-lazy-fast' });
const NAMES = ['rl-eager-ref', 'rl-lazy-ref', 'rl-lazy-unfused', 'rl-lazy-fast'];

beforeAll(() => {
  heed.registerBackend({ name: 'rl-eager-ref', priority: -10, create: () => variant(new CpuBackend({ fast: false }), 'rl-eager-ref', COMPOSITES) });
  heed.registerBackend({ name: 'rl-lazy-ref', priority: -10, create: () => lazyRef });
  heed.registerBackend({ name: 'rl-lazy-unfused', priority: -10, create: () => lazyUnfused });
  heed.registerBackend({ name: 'rl-lazy-fast', priority: -10, create: () => lazyFast });
});
afterAll(() => { for (const n of NAMES) heed.removeBackend(n); });

/** Seeded float32 values in [-3, 3). */
const values = (n: number, seed: number): number[] => randomValues(n, seed, 3);

type Case = readonly [name: string, programs: number, f: (x: Tensor, w: Tensor, b: Tensor, target: Tensor) => Tensor];
const CASES: readonly Case[] = [
  ['softmax', 1, (x) => heed.softmax(x, -1)],
  ['logSoftmax', 1, (x) => heed.logSoftmax(x, -1)],
  ['logsumexp', 1, (x) => heed.logsumexp(x, -1)],
  ['layerNorm (weight, bias)', 1, (x, w, b) => heed.layerNorm(x, [x.shape[x.rank - 1]], w, b, 1e-5)],
  ['variance, keepdim', 1, (x) => heed.variance(x, { axis: -1, keepdim: true })],
  ['mean over every axis, then broadcast back', 1, (x) => x.sub(x.mean())],
  // a bias broadcast keeps the inner dims apart: each row is several runs
  ['sum over every axis of a bias add', 1, (x, w) => x.add(w).square().sum()],
  // logSoftmax, then the weighted total over [N, C] (a reduction of another frame)
  ['crossEntropy, probability targets', 2, (x, _w, _b, t) => crossEntropy(x, t)],
];

/** Runs a case on `backend`: output values and the lazy stats of the run (null when eager). */
async function runCase(c: Case, backend: string, shape: readonly number[]): Promise<{ out: number[]; programs: number; dispatches: number }> {
  const n = shape.reduce((a, d) => a * d, 1);
  const last = shape[shape.length - 1];
  const x = heed.tensor(values(n, 3), { shape, backend });
  const w = heed.tensor(values(last, 5), { shape: [last], backend });
  const b = heed.tensor(values(last, 7), { shape: [last], backend });
  const target = heed.tidy(() => heed.softmax(heed.tensor(values(n, 9), { shape, backend }), -1));
  await heed.flush(backend);
  const lazy = heed.findBackend(backend);
  if (lazy instanceof LazyBackend) lazy.resetStats();
  const y = heed.tidy(() => c[2](x, w, b, target));
  const out = Array.from(await y.data());
  const stats = lazy instanceof LazyBackend ? lazy.stats() : { programs: 0, dispatches: 0 };
  for (const t of [x, w, b, target, y]) t.dispose();
  return { out, programs: stats.programs, dispatches: stats.dispatches };
}

describe('lazy execution: reductions fuse with their prologue and epilogue', () => {
  for (const c of CASES) {
    it(`${c[0]}: ${c[1]} program(s), bitwise equal to eager on the reference kernels, also op by op; close on the fast path`, async () => {
      for (const shape of [[5, 37], [2, 3, 16]]) {
        const eager = await runCase(c, 'rl-eager-ref', shape);
        const ref = await runCase(c, 'rl-lazy-ref', shape);
        expect(ref.programs).toBe(c[1]);
        expect(ref.dispatches).toBe(c[1]);
        expect(ref.out).toEqual(eager.out);
        expect((await runCase(c, 'rl-lazy-unfused', shape)).out).toEqual(eager.out);
        const wasmBefore = wasmRowProgramRuns();
        const fast = await runCase(c, 'rl-lazy-fast', shape);
        expect(wasmRowProgramRuns()).toBeGreaterThan(wasmBefore); // the fast path's generated WASM SIMD row loop
        fast.out.forEach((v, i) => expect(Math.abs(v - eager.out[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(eager.out[i]))));
      }
    });
  }

  it('gradients through fused reductions (softmax, layerNorm, logsumexp) are bitwise eager\'s', async () => {
    const grads = async (backend: string) => {
      const x = heed.tensor(values(4 * 12, 11), { shape: [4, 12], backend });
      const w = heed.tensor(values(12, 12), { shape: [12], backend });
      const f = (t: Tensor, g: Tensor) => heed.softmax(heed.layerNorm(t, [12], g, null), -1).mul(t).sum().add(heed.logsumexp(t.mul(g), -1).sum());
      const { value, grads: gs } = heed.valueAndGrad(f)(x, w);
      const out = [Array.from(await value.data()), ...(await Promise.all(gs.map(async (g) => Array.from(await g.data()))))];
      for (const t of [x, w, value, ...gs]) t.dispose();
      return out;
    };
    const eager = await grads('rl-eager-ref');
    expect(await grads('rl-lazy-ref')).toEqual(eager);
    expect(await grads('rl-lazy-unfused')).toEqual(eager);
  });

  it('keeps NaN and infinities: max propagates NaN, logsumexp of -inf rows is -inf, like eager (JS and WASM row loops)', async () => {
    const xs = [1, NaN, 3, 4, -Infinity, -Infinity, -Infinity, -Infinity, Infinity, 0, 1, 2];
    const run = async (backend: string) => {
      const x = heed.tensor(xs, { shape: [3, 4], backend });
      const y = heed.tidy(() => heed.concat([heed.logsumexp(x, -1), x.max({ axis: -1 }).add(x.sum({ axis: -1 }))], 0));
      const out = Array.from(await y.data());
      x.dispose(); y.dispose();
      return out.map(String);
    };
    const eager = await run('rl-eager-ref');
    expect(await run('rl-lazy-ref')).toEqual(eager);
    expect(await run('rl-lazy-fast')).toEqual(eager); // the WASM row loop: f32x4.max propagates NaN too
  });
});

describe('lazy execution: a producer read through a permuted view', () => {
  it('computes a freed producer at the permuted positions (no separate copy), bitwise equal', async () => {
    const run = async (backend: string) => {
      const x = heed.tensor(values(24, 61), { shape: [6, 4], backend });
      const b = heed.tensor(values(4, 62), { shape: [4], backend });
      await heed.flush(backend);
      const lazy = heed.findBackend(backend);
      if (lazy instanceof LazyBackend) lazy.resetStats();
      // heads-like: (x + b) as [2, 3, 4], permuted to [4, 2, 3], made contiguous, then scaled
      const y = heed.tidy(() => x.add(b).exp().reshape([2, 3, 4]).permute([2, 0, 1]).contiguous().mul(2).softmax(-1));
      const out = Array.from(await y.data());
      const programs = lazy instanceof LazyBackend ? lazy.stats().programs : 0;
      for (const t of [x, b, y]) t.dispose();
      return { out, programs };
    };
    const eager = await run('rl-eager-ref');
    const lazy = await run('rl-lazy-ref');
    expect(lazy.programs).toBe(1);
    expect(lazy.out).toEqual(eager.out);
    expect((await run('rl-lazy-unfused')).out).toEqual(eager.out);
  });
});

describe('lazy execution: common subexpressions and same-shape buffers computed together', () => {
  it('computes a repeated subexpression once (same op, operands, constants) and reuses it', async () => {
    const x = heed.tensor(values(64, 13), { shape: [8, 8], backend: 'rl-lazy-ref' });
    await heed.flush('rl-lazy-ref');
    lazyRef.resetStats();
    const y = heed.tidy(() => x.exp().sum({ axis: -1, keepdim: true }).add(x.exp().sum({ axis: -1, keepdim: true })));
    const got = Array.from(await y.data());
    const s = lazyRef.stats();
    expect(s.shared).toBeGreaterThanOrEqual(2); // the second exp and the second sum
    expect(s.programs).toBe(1);
    const xs = await x.data();
    const want = Array.from({ length: 8 }, (_, r) => {
      let sum = 0;
      for (let j = 0; j < 8; j++) sum += Math.fround(Math.exp(xs[r * 8 + j]));
      return Math.fround(2 * Math.fround(sum));
    });
    expect(got).toEqual(want);
    x.dispose(); y.dispose();
  });

  it('computes the held, unread same-shape buffers with the one a kernel needs (the next step reads every updated parameter)', async () => {
    const ps = [0, 1, 2].map((k) => heed.tensor(values(16, 40 + k), { shape: [4, 4], backend: 'rl-lazy-ref' }));
    const x = heed.tensor(values(16, 50), { shape: [4, 4], backend: 'rl-lazy-ref' });
    await heed.flush('rl-lazy-ref');
    lazyRef.resetStats();
    const next = ps.map((p) => heed.tidy(() => p.mul(0.5).add(1)));
    const y = heed.matmul(x, next[0]); // recorded; computing it needs next[0]: next[1] and next[2] run in the same program
    await y.data();
    expect(lazyRef.stats().programs).toBe(1);
    const got = [Array.from(await next[1].data()), Array.from(await next[2].data())];
    expect(lazyRef.stats().programs).toBe(1);
    for (let k = 1; k < 3; k++) expect(got[k - 1]).toEqual(Array.from(await ps[k].data(), (v) => Math.fround(Math.fround(v * 0.5) + 1)));
    for (const t of [...ps, x, ...next, y]) t.dispose();
  });
});
