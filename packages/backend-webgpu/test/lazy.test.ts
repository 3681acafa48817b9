// SPDX-License-Identifier: MIT
// Lazy execution on WebGPU: an elementwise chain is one generated WGSL dispatch (fused-program.ts)
// instead of one per primitive, a program with several escaping values writes them all in that
// dispatch, constants are not folded by the shader compiler, and results agree with the eager
// WebGPU backend on the same device. Reductions fuse too: with the hand-written softmax /
// layerNorm kernels hidden, core's decompositions of softmax, logSoftmax, logsumexp and
// layerNorm run as one generated dispatch each (f32 accumulation: close to eager, not bitwise).
import { describe, expect, it } from 'vitest';
import * as heed from '@heed/core';
import { LazyBackend, type Backend, type Tensor } from '@heed/core';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, expectClose, seeded, skipReason } from './gpu.js';

const suite = device ? describe : describe.skip;

suite(`lazy execution on WebGPU${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const gpu = device as GPUDevice;
  const eager = new WebGPUBackend(gpu, {}, 'webgpu-eager-test');
  const inner = new WebGPUBackend(gpu, {}, 'webgpu-inner-test');
  const lazy = new LazyBackend(inner, { name: 'webgpu-lazy-test' });
  heed.registerBackend({ name: 'webgpu-eager-test', priority: -10, create: () => eager });
  heed.registerBackend({ name: 'webgpu-lazy-test', priority: -10, create: () => lazy });

  const chain = (backend: string, values: number[]) => {
    const x = heed.tensor(values, { shape: [4, 64], backend });
    const w = heed.tensor(values.slice(0, 64), { shape: [64], backend });
    const y = heed.tidy(() => heed.relu(x.mul(w).add(0.25)).mul(0).add(x.square().sqrt()).tanh());
    return { x, w, y };
  };

  it('runs relu(x * w + c) * 0 + sqrt(x^2), tanh as one dispatch and agrees with eager', async () => {
    const values = seeded(256, 3, -2, 2);
    const e = chain('webgpu-eager-test', values);
    const want = Array.from(await e.y.data());
    const before = inner.runtime.stats.dispatches;
    const l = chain('webgpu-lazy-test', values);
    const got = Array.from(await l.y.data());
    expect(inner.runtime.stats.dispatches - before).toBe(1);
    expectClose(got, want, 'lazy vs eager');
    for (const t of [e.x, e.w, e.y, l.x, l.w, l.y]) t.dispose();
  });

  it('writes every escaping intermediate in the same dispatch', async () => {
    const x = heed.tensor([-1, 0, 2, 3], { backend: 'webgpu-lazy-test' });
    const a = x.exp();
    const b = a.add(1);
    const c = heed.tidy(() => b.log().neg());
    const before = inner.runtime.stats.dispatches;
    const cv = Array.from(await c.data()); // computes a, b and c in one program
    const [av, bv] = [Array.from(await a.data()), Array.from(await b.data())];
    expect(inner.runtime.stats.dispatches - before).toBe(1);
    const ex = [-1, 0, 2, 3].map((v) => Math.exp(v));
    expectClose(av, ex, 'exp(x)', 1e-5);
    expectClose(bv, ex.map((v) => v + 1), 'exp(x) + 1', 1e-5);
    expectClose(cv, ex.map((v) => -Math.log(v + 1)), '-log(exp(x) + 1)', 1e-5);
    for (const t of [x, a, b, c]) t.dispose();
  });

  it('names the helpers of a long program apart from WGSL types (expr 32 is not `f32`)', async () => {
    const run = async (backend: string) => {
      const x = heed.tensor([0.5, -1, 2, 3], { backend });
      const y = heed.tidy(() => {
        let t = x;
        for (let i = 0; i < 20; i++) t = t.add(x).mul(0.5);
        return t;
      });
      const out = Array.from(await y.data());
      x.dispose(); y.dispose();
      return out;
    };
    const want = await run('webgpu-eager-test');
    const before = inner.runtime.stats.dispatches;
    expectClose(await run('webgpu-lazy-test'), want, '40-step chain', 1e-5);
    expect(inner.runtime.stats.dispatches - before).toBe(1);
  });

  it('keeps IEEE semantics of constants: x * 0 is NaN at infinities and -0 for negatives', async () => {
    const x = heed.tensor([Infinity, -Infinity, NaN, -2, 3], { backend: 'webgpu-lazy-test' });
    const y = heed.tidy(() => x.mul(0).add(-0));
    const got = Array.from(await y.data());
    expect(got.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(Object.is(got[3], -0)).toBe(true);
    expect(Object.is(got[4], 0)).toBe(true);
    x.dispose(); y.dispose();
  });

  // The same backend without its hand-written fused kernels: core runs the decompositions.
  const HIDDEN = new Set(['softmax', 'logSoftmax', 'layerNorm']);
  const plain = (b: Backend, name: string): Backend => new Proxy(b, {
    get(target, key) {
      if (key === 'name') return name;
      if (typeof key === 'string' && HIDDEN.has(key)) return undefined;
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const decomposedInner = new WebGPUBackend(gpu, {}, 'webgpu-decomposed-inner');
  heed.registerBackend({ name: 'webgpu-decomposed-eager', priority: -10, create: () => plain(eager, 'webgpu-decomposed-eager') });
  heed.registerBackend({ name: 'webgpu-decomposed-lazy', priority: -10, create: () => new LazyBackend(plain(decomposedInner, 'webgpu-decomposed-lazy'), { name: 'webgpu-decomposed-lazy' }) });

  const decompositions: readonly [string, (x: Tensor, w: Tensor, b: Tensor) => Tensor][] = [
    ['softmax', (x) => heed.softmax(x, -1)],
    ['logSoftmax', (x) => heed.logSoftmax(x, -1)],
    ['logsumexp', (x) => heed.logsumexp(x, -1)],
    ['layerNorm', (x, w, b) => heed.layerNorm(x, [x.shape[x.rank - 1]], w, b, 1e-5)],
    ['softmax over a permuted view', (x) => heed.softmax(x.transpose(0, 1), -1)],
  ];
  // rows of 37: one invocation per row; rows of 1500: a workgroup per row (shared-memory folds)
  for (const [name, f] of decompositions) for (const n of [37, 1500]) {
    it(`runs the ${name} decomposition as one dispatch, close to eager (rows of ${n})`, async () => {
      const values = seeded(6 * n, 11, -4, 4);
      const run = async (backend: string) => {
        const x = heed.tensor(values, { shape: [6, n], backend });
        const w = heed.tensor(values.slice(0, n), { shape: [n], backend });
        const b = heed.tensor(values.slice(n, 2 * n), { shape: [n], backend });
        const y = heed.tidy(() => f(x, w, b));
        const out = Array.from(await y.data());
        for (const t of [x, w, b, y]) t.dispose();
        return out;
      };
      const want = await run('webgpu-decomposed-eager');
      const before = decomposedInner.runtime.stats.dispatches;
      const got = await run('webgpu-decomposed-lazy');
      expect(decomposedInner.runtime.stats.dispatches - before).toBe(1);
      expectClose(got, want, `${name} lazy vs eager`, 1e-5);
    });
  }

  it('fuses a reduction with escaping intermediates and a NaN row: every output agrees with eager', async () => {
    const values = seeded(4 * 9, 5, -3, 3);
    values[10] = NaN;
    const run = async (backend: string) => {
      const x = heed.tensor(values, { shape: [4, 9], backend });
      const e = x.mul(2).exp(); // escapes: written by the same dispatch as the reductions
      const m = e.max({ axis: -1, keepdim: true }); // escapes: a row output
      const y = heed.tidy(() => e.div(m).sub(x.min({ axis: -1, keepdim: true })).mul(e.sum({ axis: -1, keepdim: true })));
      const out = [Array.from(await y.data()), Array.from(await e.data()), Array.from(await m.data())];
      for (const t of [x, e, m, y]) t.dispose();
      return out;
    };
    const want = await run('webgpu-decomposed-eager');
    const before = decomposedInner.runtime.stats.dispatches;
    const got = await run('webgpu-decomposed-lazy');
    expect(decomposedInner.runtime.stats.dispatches - before).toBe(1);
    got.forEach((vs, i) => expectClose(vs, want[i], `output ${i}`, 1e-5));
    expect(Number.isNaN(got[2][1])).toBe(true); // the NaN row's max
  });
});
