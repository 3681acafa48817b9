// SPDX-License-Identifier: MIT
// Lazy execution (core's LazyBackend) over the CPU backend: elementwise chains become one fused
// program, freed intermediates are never computed, escaping intermediates are written once, and
// random op DAGs (views, broadcasts, reductions, matmuls, gradients) give bitwise the values of
// eager execution on the reference kernels (the generated loop rounds every step like the
// op-by-op kernels). A backend without `elementwise` runs the same programs op by op.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as heed from '@heed/core';
import { LazyBackend, profile, type Backend, type Tensor } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { wasmProgramRuns } from '../src/fast/codegen-wasm.js';
import { canGenerateJs } from '../src/fused-elementwise.js';
import { randomValues } from './util.js';

/** `b` seen through a proxy that renames it and hides some of its kernels. */
function variant(b: Backend, name: string, hide: readonly string[] = []): Backend {
  return new Proxy(b, {
    get(target, key) {
      if (key === 'name') return name;
      if (typeof key === 'string' && hide.includes(key)) return undefined;
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const lazyRef = new LazyBackend(new CpuBackend({ fast: false }), { name: 'lazy-ref' });
// A third-party backend that only implements the primitives: the same programs run op by op.
const noFusion = new LazyBackend(variant(new CpuBackend({ fast: false }), 'plain', ['elementwise']), { name: 'lazy-unfused' });

beforeAll(() => {
  heed.registerBackend({ name: 'eager-ref', priority: -10, create: () => variant(new CpuBackend({ fast: false }), 'eager-ref') });
  heed.registerBackend({ name: 'lazy-ref', priority: -10, create: () => lazyRef });
  heed.registerBackend({ name: 'lazy-unfused', priority: -10, create: () => noFusion });
  heed.registerBackend({ name: 'eager-fast', priority: -10, create: () => variant(new CpuBackend(), 'eager-fast') });
  heed.registerBackend({ name: 'lazy-fast', priority: -10, create: () => new LazyBackend(new CpuBackend(), { name: 'lazy-fast' }) });
});
afterAll(() => {
  for (const n of ['eager-ref', 'lazy-ref', 'lazy-unfused', 'lazy-fast', 'eager-fast']) heed.removeBackend(n);
});

/** Seeded float32 values in [-2, 2). */
const values = (n: number, seed: number): number[] => randomValues(n, seed, 2);

describe('lazy execution: fusion', () => {
  it('runs relu(x * a + b) as one program and never computes the freed intermediates', async () => {
    const x = heed.tensor(values(12, 1), { shape: [3, 4], backend: 'lazy-ref' });
    const a = heed.tensor(values(4, 2), { shape: [4], backend: 'lazy-ref' });
    const b = heed.tensor(values(3, 3), { shape: [3, 1], backend: 'lazy-ref' });
    lazyRef.resetStats();
    const y = heed.tidy(() => heed.relu(x.mul(a).add(b)));
    const got = await y.data();
    const s = lazyRef.stats();
    expect(s.recorded).toBe(3);
    expect(s.programs).toBe(1);
    expect(s.dispatches).toBe(1);
    expect(s.skipped).toBe(0);
    const xs = await x.data(), as = await a.data(), bs = await b.data();
    const want = Array.from(xs, (v, i) => Math.max(0, Math.fround(Math.fround(v * as[i % 4]) + bs[Math.floor(i / 4)])));
    expect(Array.from(got)).toEqual(want);
    for (const t of [x, a, b, y]) t.dispose();
  });

  it('counts each primitive call on a backend without elementwise (the same program, op by op)', async () => {
    const x = heed.tensor(values(12, 1), { shape: [3, 4], backend: 'lazy-unfused' });
    const a = heed.tensor(values(4, 2), { shape: [4], backend: 'lazy-unfused' });
    noFusion.resetStats();
    const y = heed.tidy(() => heed.relu(x.mul(a).add(2)));
    await y.data();
    const s = noFusion.stats();
    expect(s.programs).toBe(1);
    expect(s.dispatches).toBe(4); // mul, the constant's fill, add, relu
    for (const t of [x, a, y]) t.dispose();
  });

  it('drops a recorded chain that is freed before it is needed', () => {
    const x = heed.tensor(values(8, 4), { backend: 'lazy-ref' });
    lazyRef.resetStats();
    heed.tidy(() => { x.exp().mul(2).sub(1); });
    const s = lazyRef.stats();
    expect(s.programs).toBe(0);
    expect(s.dispatches).toBe(0);
    expect(s.recorded).toBeGreaterThanOrEqual(3); // exp, mul, sub (+ the scalar constants)
    expect(s.skipped).toBe(s.recorded);
    x.dispose();
  });

  it('writes a live intermediate out once instead of recomputing it', async () => {
    const x = heed.tensor(values(6, 5), { backend: 'lazy-ref' });
    lazyRef.resetStats();
    const e = x.exp();
    const y = heed.tidy(() => e.add(1).log());
    await y.data();
    expect(lazyRef.stats().programs).toBe(1);
    await e.data(); // already computed by y's program
    expect(lazyRef.stats().programs).toBe(1);
    expect(Array.from(await e.data())).toEqual(Array.from(await x.data(), (v) => Math.fround(Math.exp(v))));
    for (const t of [x, e, y]) t.dispose();
  });

  it('fuses a per-row mean (reduction and its epilogue) into its consumer, writing it out once when it is still needed', async () => {
    const x = heed.tensor(values(64, 14), { shape: [4, 16], backend: 'lazy-ref' });
    lazyRef.resetStats();
    const centered = heed.tidy(() => x.sub(x.sum({ axis: -1, keepdim: true }).div(16)));
    await centered.data();
    expect(lazyRef.stats().dispatches).toBe(1); // one program: per row, sum; then x - sum / 16
    lazyRef.resetStats();
    const mean = x.sum({ axis: -1, keepdim: true }).div(16); // held: a row output of the same program
    const c2 = heed.tidy(() => x.sub(mean));
    expect(Array.from(await c2.data())).toEqual(Array.from(await centered.data()));
    await mean.data();
    expect(lazyRef.stats().dispatches).toBe(1);
    const xs = await x.data();
    const want = Array.from(xs, (v, i) => {
      let sum = 0;
      for (let j = 0; j < 16; j++) sum = Math.fround(sum + xs[Math.floor(i / 16) * 16 + j]);
      return v - Math.fround(sum / 16);
    });
    Array.from(await centered.data()).forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-5));
    for (const t of [x, centered, mean, c2]) t.dispose();
  });

  it('flush() computes what is still referenced, and only that', async () => {
    const x = heed.tensor(values(5, 9), { backend: 'lazy-ref' });
    lazyRef.resetStats();
    const kept = x.mul(3);
    heed.tidy(() => { x.add(7).exp(); });
    await heed.flush('lazy-ref');
    expect(lazyRef.stats().programs).toBe(1);
    await heed.flush('lazy-ref'); // nothing left
    expect(lazyRef.stats().programs).toBe(1);
    expect(Array.from(await kept.data())).toEqual(Array.from(await x.data(), (v) => Math.fround(v * 3)));
    x.dispose(); kept.dispose();
  });

  it('flush() computes same-shape pending buffers together: three independent updates, one program', async () => {
    const p = [0, 1, 2].map((k) => heed.tensor(values(6, 20 + k), { shape: [2, 3], backend: 'lazy-ref' }));
    const g = heed.tensor(values(6, 30), { shape: [2, 3], backend: 'lazy-ref' });
    lazyRef.resetStats();
    const next = p.map((t, k) => t.sub(g.mul(0.1 * (k + 1))));
    await heed.flush('lazy-ref');
    expect(lazyRef.stats().programs).toBe(1);
    const gs = await g.data();
    for (let k = 0; k < 3; k++) {
      const ps = await p[k].data();
      expect(Array.from(await next[k].data())).toEqual(Array.from(ps, (v, i) => Math.fround(v - Math.fround(gs[i] * Math.fround(0.1 * (k + 1))))));
    }
    expect(lazyRef.stats().programs).toBe(1); // the reads found them computed
    for (const t of [...p, g, ...next]) t.dispose();
  });

  it('splits one program the backend declines as too big into smaller programs, never op by op', async () => {
    // a backend whose fused kernel takes at most 6 buffers (like WebGPU's binding limit)
    const inner = new CpuBackend({ fast: false });
    const primitives = { count: 0 };
    const small = new Proxy(inner, {
      get(target, key) {
        if (key === 'elementwise') {
          return (program: { outputs: readonly number[] }, views: readonly unknown[]) =>
            program.outputs.length + views.length > 6 ? null : inner.elementwise(program as never, views as never);
        }
        const v: unknown = Reflect.get(target, key);
        if (key === 'unary' || key === 'binary') primitives.count++;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const lazy = new LazyBackend(small, { name: 'lazy-small' });
    heed.registerBackend({ name: 'lazy-small', priority: -10, create: () => lazy });
    // an Adam update with its bias corrections as tensors: 6 inputs and 3 outputs in one program
    const adam = async (backend: string) => {
      const [p, m, v, g] = [0, 1, 2, 3].map((k) => heed.tensor(values(8, 50 + k), { shape: [8], backend }));
      const [c1, c2] = [1.5, 2.5].map((c) => heed.scalar(c, { backend }));
      const m2 = m.mul(0.9).add(g.mul(0.1));
      const v2 = v.mul(0.999).add(g.square().mul(0.001));
      const p2 = p.sub(m2.mul(c1).mul(0.01).div(v2.mul(c2).sqrt().add(1e-8)));
      const out = [await p2.data(), await m2.data(), await v2.data()].map((d) => Array.from(d));
      for (const t of [p, m, v, g, c1, c2, m2, v2, p2]) t.dispose();
      return out;
    };
    try {
      const want = await adam('eager-ref');
      primitives.count = 0;
      expect(await adam('lazy-small')).toEqual(want);
      expect(primitives.count).toBe(0);
      expect(lazy.stats().programs).toBeGreaterThanOrEqual(2);
    } finally {
      heed.removeBackend('lazy-small');
    }
  });

  it('computes a long chain with no read every maxPending ops (the size limit), with the same values', async () => {
    // 5,000 updates and no read: one pending graph that deep overflowed the scheduler's stack
    const chain = async (backend: string, n: number) => {
      let x = heed.tensor(values(4, 45), { backend });
      for (let i = 0; i < n; i++) {
        const y = x.mul(0.5).add(1);
        x.dispose();
        x = y;
      }
      const out = Array.from(await x.data());
      x.dispose();
      return out;
    };
    expect(await chain('lazy-ref', 5000)).toEqual(await chain('eager-ref', 5000));
    const small = new LazyBackend(new CpuBackend({ fast: false }), { name: 'lazy-small-graph', maxPending: 8 });
    heed.registerBackend({ name: 'lazy-small-graph', priority: -10, create: () => small });
    try {
      const x = heed.tensor(values(4, 46), { backend: 'lazy-small-graph' });
      small.resetStats();
      const ys = Array.from({ length: 7 }, () => x.add(x)); // 7 pending ops: under the limit
      expect(small.stats().programs).toBe(0);
      const more = Array.from({ length: 3 }, () => x.mul(x)); // the 8th op computes what is alive
      expect(small.stats().programs).toBeGreaterThan(0);
      const xs = await x.data();
      for (const y of ys) expect(Array.from(await y.data())).toEqual(Array.from(xs, (v) => Math.fround(v + v)));
      for (const y of more) expect(Array.from(await y.data())).toEqual(Array.from(xs, (v) => Math.fround(v * v)));
      for (const t of [x, ...ys, ...more]) t.dispose();
    } finally {
      heed.removeBackend('lazy-small-graph');
    }
    expect(() => new LazyBackend(new CpuBackend({ fast: false }), { maxPending: 0 })).toThrow(/maxPending must be a positive whole number/);
  });

  it('a read is a sync point: reading one value also computes the other alive pending buffers', async () => {
    const x = heed.tensor(values(4, 40), { backend: 'lazy-ref' });
    const w = heed.tensor(values(8, 41), { shape: [2, 4], backend: 'lazy-ref' });
    lazyRef.resetStats();
    const loss = x.square().sum(); // what is read
    const update = w.mul(0.5).add(1); // alive, pending, other shape: not needed by the read
    await loss.data();
    const afterRead = lazyRef.stats().programs;
    expect(afterRead).toBe(2); // the loss, then the update
    expect(Array.from(await update.data())).toEqual(Array.from(await w.data(), (v) => Math.fround(Math.fround(v * 0.5) + 1)));
    expect(lazyRef.stats().programs).toBe(afterRead);
    for (const t of [x, w, loss, update]) t.dispose();
  });

  it('fuses softmax into few dispatches: elementwise work between the reductions is one program each', async () => {
    const x = heed.tensor(values(64, 6), { shape: [4, 16], backend: 'lazy-ref' });
    lazyRef.resetStats();
    const y = heed.tidy(() => {
      const m = x.max({ axis: -1, keepdim: true });
      const e = x.sub(m).exp();
      return e.div(e.sum({ axis: -1, keepdim: true }));
    });
    await y.data();
    const s = lazyRef.stats();
    // max, sum (two reductions) + exp(x - m) + the division: 4 dispatches for 5 primitives
    expect(s.dispatches).toBeLessThanOrEqual(4);
    x.dispose(); y.dispose();
  });
});

describe('profile()', () => {
  it('counts what really ran: 3 dispatches eager, 1 fused program lazily, with calls, time and bytes', async () => {
    const run = (backend: string) => profile(() => {
      const x = heed.tensor(values(4096, 31), { backend });
      const y = heed.tidy(() => heed.relu(x.mul(1.5).add(-0.25)));
      x.dispose();
      return y;
    });
    const eager = await run('eager-ref');
    const lazy = await run('lazy-ref');
    // eager: fill 1.5, mul, fill -0.25, add, relu; lazy: the constants are folded into one program
    expect(eager.dispatches).toBe(5);
    expect(lazy.dispatches).toBe(1);
    expect(lazy.kernels.map((k) => [k.kernel, k.calls])).toContainEqual(['elementwise', 1]);
    const prog = lazy.kernels.find((k) => k.kernel === 'elementwise');
    expect(prog?.bytesRead).toBe(4096 * 4);
    expect(prog?.ms).toBeGreaterThan(0);
    expect(Array.from(await lazy.result.data())).toEqual(Array.from(await eager.result.data()));
    eager.result.dispose(); lazy.result.dispose();
  });
});

describe('HEED_LAZY=1', () => {
  it('wraps every backend registered while it is set in a LazyBackend (once)', () => {
    const before = process.env.HEED_LAZY;
    process.env.HEED_LAZY = '1';
    try {
      heed.registerBackend({ name: 'env-lazy', priority: -10, create: () => variant(new CpuBackend({ fast: false }), 'env-lazy') });
      heed.registerBackend(heed.lazyBackendFactory({ name: 'env-lazy2', priority: -10, create: () => variant(new CpuBackend({ fast: false }), 'env-lazy2') }));
      expect(heed.findBackend('env-lazy')).toBeInstanceOf(LazyBackend);
      const twice = heed.findBackend('env-lazy2') as LazyBackend;
      expect(twice).toBeInstanceOf(LazyBackend);
      expect(twice.inner).not.toBeInstanceOf(LazyBackend);
    } finally {
      if (before === undefined) delete process.env.HEED_LAZY; else process.env.HEED_LAZY = before;
      heed.removeBackend('env-lazy');
      heed.removeBackend('env-lazy2');
    }
  });
});

describe('lazy execution: generated WASM SIMD on the fast path', () => {
  const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3.4e38, -3.4e38, 1, -1, 0.5];
  it('runs row-broadcast layouts (bias rows, per-row scalars) on the wasm path, bitwise equal', async () => {
    const run = async (backend: string) => {
      const x = heed.tensor(values(6 * 37, 11), { shape: [6, 37], backend });
      const bias = heed.tensor(values(37, 12), { shape: [37], backend });
      const m = heed.tensor(values(6, 13), { shape: [6, 1], backend });
      const y = heed.tidy(() => x.sub(m).mul(bias).add(m.square()).div(bias.abs().add(1)));
      // rank 3 after coalescing ([2, 3, 5] + a [3, 1] column): the outer dim is a loop of calls
      const z = heed.tensor(values(30, 15), { shape: [2, 3, 5], backend });
      const col = heed.tensor(values(3, 16), { shape: [3, 1], backend });
      const w = heed.tidy(() => z.mul(col).add(z.abs().sqrt()).sub(col));
      const out = [...Array.from(await y.data()), ...Array.from(await w.data())];
      for (const t of [x, bias, m, y, z, col, w]) t.dispose();
      return out;
    };
    const before = wasmProgramRuns();
    const got = await run('lazy-fast');
    expect(wasmProgramRuns()).toBeGreaterThan(before);
    expect(got).toEqual(await run('eager-ref'));
  });

  it('runs exp/tanh/sigmoid with the fast kernels\' own vector math: equal to the eager fast path', async () => {
    const run = async (backend: string) => {
      const x = heed.tensor(values(4 * 33, 21).map((v) => v * 6), { shape: [4, 33], backend });
      const y = heed.tidy(() => x.tanh().add(x.mul(0.5).exp()).mul(x.sigmoid()));
      const out = Array.from(await y.data());
      x.dispose(); y.dispose();
      return out;
    };
    const before = wasmProgramRuns();
    const got = await run('lazy-fast');
    expect(wasmProgramRuns()).toBeGreaterThan(before);
    const want = await run('eager-fast');
    got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(want[i]))));
  });

  for (const n of [1, 3, 4, 7, 16, 37, 1000]) {
    it(`is bitwise equal to the op-by-op kernels (n=${n}, specials, broadcast scalars and rows)`, async () => {
      const xs = Array.from({ length: n }, (_, i) => (i < SPECIAL.length ? SPECIAL[i] : values(1, i)[0] * 10));
      const run = async (backend: string) => {
        const x = heed.tensor(xs, { shape: [n], backend });
        const w = heed.tensor(xs.slice().reverse(), { shape: [n], backend });
        const s = heed.tensor([-0.75], { backend });
        const y = heed.tidy(() => heed.relu(x.mul(s).add(w.square().sqrt()).sub(0.5)).maximum(x.div(w)).minimum(x.abs().neg()));
        const out = Array.from(await y.data());
        for (const t of [x, w, s, y]) t.dispose();
        return out;
      };
      const before = wasmProgramRuns();
      const got = await run('lazy-fast');
      expect(wasmProgramRuns()).toBeGreaterThan(before);
      const want = await run('eager-ref');
      expect(got.map((v) => (Object.is(v, -0) ? '-0' : String(v)))).toEqual(want.map((v) => (Object.is(v, -0) ? '-0' : String(v))));
    });
  }
});

type Op = (ts: Tensor[], r: () => number) => Tensor;
/** Random DAG steps over [4, 6] float32 tensors: elementwise ops, views, broadcasts, reductions (fused or not), matmuls. */
const STEPS: readonly Op[] = [
  (t, r) => t[Math.floor(r() * t.length)].add(t[Math.floor(r() * t.length)]),
  (t, r) => t[Math.floor(r() * t.length)].mul(t[Math.floor(r() * t.length)]),
  (t, r) => t[Math.floor(r() * t.length)].sub(0.5).tanh(),
  (t, r) => heed.where(t[Math.floor(r() * t.length)].gt(0), t[Math.floor(r() * t.length)], -1),
  (t, r) => t[Math.floor(r() * t.length)].transpose(0, 1).mul(1.5).transpose(0, 1),
  (t, r) => t[Math.floor(r() * t.length)].add(t[Math.floor(r() * t.length)].sum({ axis: 0, keepdim: true })),
  (t, r) => t[Math.floor(r() * t.length)].sub(t[Math.floor(r() * t.length)].max({ axis: 1, keepdim: true })).exp(),
  (t, r) => heed.matmul(heed.matmul(t[Math.floor(r() * t.length)], t[Math.floor(r() * t.length)].transpose(0, 1)), t[Math.floor(r() * t.length)]).mul(0.1),
  (t, r) => t[Math.floor(r() * t.length)].square().add(1).sqrt().reciprocal(),
  (t, r) => t[Math.floor(r() * t.length)].cast('int32').mul(3).cast('float32').div(4),
  (t, r) => heed.concat([t[Math.floor(r() * t.length)].reshape([6, 4]).narrow(0, 1, 4).contiguous().exp().reshape([4, 4]), t[Math.floor(r() * t.length)].narrow(1, 0, 2)], 1),
  (t, r) => heed.expand(t[Math.floor(r() * t.length)].select(1, 2).unsqueeze(1).neg(), [4, 6]).add(t[Math.floor(r() * t.length)]),
  // reductions over trailing axes with prologues and epilogues (fused into one row program)
  (t, r) => { const x = t[Math.floor(r() * t.length)]; return x.div(x.mul(0.5).exp().sum({ axis: 1, keepdim: true })); },
  (t, r) => { const x = t[Math.floor(r() * t.length)]; const c = x.sub(x.mean({ axis: -1, keepdim: true })); return c.square().mean({ axis: -1, keepdim: true }).add(1).sqrt().mul(c); },
  (t, r) => t[Math.floor(r() * t.length)].sub(t[Math.floor(r() * t.length)].sum().mul(0.05)),
  (t, r) => heed.logsumexp(t[Math.floor(r() * t.length)].mul(1.5), 1, { keepdim: true }).add(t[Math.floor(r() * t.length)]),
];

function seeded(seed: number): () => number {
  let s = seed;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

/** Builds the same random DAG on `backend`; returns its loss value and the inputs' gradients. */
async function runDag(backend: string, seed: number): Promise<number[][]> {
  const inputs = [0, 1, 2].map((k) => heed.tensor(values(24, seed * 7 + k), { shape: [4, 6], backend }));
  const f = (...xs: Tensor[]): Tensor => {
    const r = seeded(seed);
    const ts: Tensor[] = [...xs];
    for (let i = 0; i < 10; i++) ts.push(STEPS[Math.floor(r() * STEPS.length)](ts, r));
    const last = ts[ts.length - 1];
    return last.mul(last).sum().add(ts[ts.length - 2].sum());
  };
  const { value, grads } = heed.valueAndGrad(f)(...inputs);
  const result = [Array.from(await value.data())];
  for (const g of grads) result.push(Array.from(await g.data()));
  for (const t of [...inputs, value, ...grads]) t.dispose();
  return result;
}

describe('lazy execution: random op DAGs agree with eager', () => {
  for (let seed = 1; seed <= 16; seed++) {
    it(`DAG ${seed}: forward and gradients bitwise equal on the reference kernels, close on the fast path`, async () => {
      const eager = await runDag('eager-ref', seed);
      expect(await runDag('lazy-ref', seed)).toEqual(eager);
      expect(await runDag('lazy-unfused', seed)).toEqual(eager);
      const fast = await runDag('lazy-fast', seed);
      fast.forEach((vs, i) => vs.forEach((v, j) => expect(Math.abs(v - eager[i][j])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(eager[i][j])))));
    });
  }
});

describe('lazy execution: matmul epilogues (matmulElementwise)', () => {
  /** A lazy backend over the reference kernels whose inner backend is `inner` (registered as `name`). */
  function lazyOver(name: string, inner: Backend): LazyBackend {
    const lazy = new LazyBackend(inner, { name });
    heed.registerBackend({ name, priority: -10, create: () => lazy });
    return lazy;
  }
  const mlp = (backend: string) => {
    const x = heed.tensor(values(6 * 8, 61), { shape: [6, 8], backend });
    const w = heed.tensor(values(5 * 8, 62), { shape: [5, 8], backend });
    const b = heed.tensor(values(5, 63), { shape: [5], backend });
    const r = heed.tensor(values(6 * 5, 64), { shape: [6, 5], backend });
    return { x, w, b, r };
  };

  /** relu(linear(x, w, b)) * r on `backend`, read back. */
  const reluLinearTimesR = async (backend: string) => {
    const { x, w, b, r } = mlp(backend);
    const y = heed.tidy(() => heed.relu(heed.linear(x, w, b)).mul(r));
    const got = Array.from(await y.data());
    for (const t of [x, w, b, r, y]) t.dispose();
    return got;
  };

  it('runs Linear + GELU (tanh decomposition) forward as 1 dispatch, bitwise equal to eager', async () => {
    const run = async (backend: string) => {
      const { x, w, b, r } = mlp(backend);
      const y = heed.tidy(() => heed.gelu(heed.linear(x, w, b), 'tanh'));
      const got = Array.from(await y.data());
      for (const t of [x, w, b, r, y]) t.dispose();
      return got;
    };
    const want = await run('eager-ref');
    await heed.flush('lazy-ref');
    lazyRef.resetStats();
    const got = await run('lazy-ref');
    expect(lazyRef.stats().dispatches).toBe(1);
    expect(lazyRef.stats().programs).toBe(1);
    expect(got).toEqual(want);
  });

  it('fuses bias, relu and a residual add into the product, writing the product out while it is held', async () => {
    const run = async (backend: string) => {
      const { x, w, b, r } = mlp(backend);
      const p = x.matmul(w.transpose(0, 1));
      const y = heed.tidy(() => heed.relu(p.add(b)).add(r));
      const got = [Array.from(await y.data()), Array.from(await p.data())];
      for (const t of [x, w, b, r, p, y]) t.dispose();
      return got;
    };
    const want = await run('eager-ref');
    lazyRef.resetStats();
    const got = await run('lazy-ref');
    expect(lazyRef.stats().dispatches).toBe(1);
    expect(got).toEqual(want);
  });

  it('runs a matmul feeding a reduction, or read through a permuted view, on its own first', async () => {
    const run = async (backend: string) => {
      const a = heed.tensor(values(2 * 3 * 4, 71), { shape: [2, 3, 4], backend });
      const c = heed.tensor(values(2 * 4 * 6, 72), { shape: [2, 4, 6], backend });
      const p = a.matmul(c);
      const s = heed.tidy(() => p.exp().sum({ axis: -1 }));
      const t = heed.tidy(() => p.permute([0, 2, 1]).mul(2).contiguous());
      const got = [Array.from(await s.data()), Array.from(await t.data())];
      for (const u of [a, c, p, s, t]) u.dispose();
      return got;
    };
    const want = await run('eager-ref');
    lazyRef.resetStats();
    const got = await run('lazy-ref');
    expect(got).toEqual(want);
    expect(lazyRef.stats().dispatches).toBe(3); // the matmul, the reduction program, the permuted program
  });

  it('runs matmul, then the program, on a backend without matmulElementwise or when it declines: same values', async () => {
    const without = lazyOver('lazy-no-mme', variant(new CpuBackend({ fast: false }), 'plain', ['matmulElementwise']));
    const declining = new Proxy(new CpuBackend({ fast: false }), {
      get(target, key) {
        if (key === 'matmulElementwise') return () => null;
        const v: unknown = Reflect.get(target, key);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const declined = lazyOver('lazy-declining-mme', declining);
    try {
      const run = reluLinearTimesR;
      const want = await run('eager-ref');
      expect(await run('lazy-no-mme')).toEqual(want);
      expect(without.stats().dispatches).toBe(2);
      expect(await run('lazy-declining-mme')).toEqual(want);
      expect(declined.stats().dispatches).toBe(3); // the declined call, the matmul, the program
    } finally {
      heed.removeBackend('lazy-no-mme');
      heed.removeBackend('lazy-declining-mme');
    }
  });

  it('declines matmulElementwise before running the matmul where code cannot be generated (CSP without unsafe-eval)', async () => {
    const be = new CpuBackend({ fast: false });
    const matmul = vi.spyOn(be, 'matmul'); // also sees matmulElementwise's own this.matmul calls
    const lazy = lazyOver('lazy-no-eval', be);
    const RealFunction = globalThis.Function;
    try {
      const run = reluLinearTimesR;
      const want = await run('eager-ref');
      vi.stubGlobal('Function', function NoEval() { throw new EvalError('Refused to evaluate a string as JavaScript (CSP)'); });
      expect(canGenerateJs()).toBe(false);
      lazy.resetStats();
      expect(await run('lazy-no-eval')).toEqual(want);
      expect(matmul).toHaveBeenCalledTimes(1); // the declined epilogue call ran no matmul of its own
    } finally {
      vi.unstubAllGlobals();
      heed.removeBackend('lazy-no-eval');
    }
    expect(globalThis.Function).toBe(RealFunction);
    expect(canGenerateJs()).toBe(true);
  });

  it("records the inner backend's linear as a pending matmul + bias add, so a following activation joins it", async () => {
    let linearCalls = 0;
    const withLinear = new Proxy(new CpuBackend({ fast: false }), {
      get(target, key) {
        if (key === 'linear') return () => { linearCalls++; return null; };
        const v: unknown = Reflect.get(target, key);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const lazy = lazyOver('lazy-linear', withLinear);
    try {
      const run = async (backend: string) => {
        const { x, w, b, r } = mlp(backend);
        const y = heed.tidy(() => heed.sigmoid(heed.linear(x, w, b)));
        const got = Array.from(await y.data());
        for (const t of [x, w, b, r, y]) t.dispose();
        return got;
      };
      const want = await run('eager-ref');
      expect(await run('lazy-linear')).toEqual(want);
      expect(linearCalls).toBe(0);
      expect(lazy.stats().dispatches).toBe(1);
    } finally {
      heed.removeBackend('lazy-linear');
    }
  });

  it('fuses the epilogue on the fast path too, equal to the eager fast kernels', async () => {
    const run = async (backend: string) => {
      const { x, w, b, r } = mlp(backend);
      const y = heed.tidy(() => heed.relu(x.matmul(w.transpose(0, 1)).add(b)).add(r));
      const got = Array.from(await y.data());
      for (const t of [x, w, b, r, y]) t.dispose();
      return got;
    };
    expect(await run('lazy-fast')).toEqual(await run('eager-fast'));
  });
});
