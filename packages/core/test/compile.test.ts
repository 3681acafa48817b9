// SPDX-License-Identifier: MIT
// compile(): a compiled training step (forward, backward, SGD-momentum / Adam update) gives the
// eager step's losses and parameters bit for bit on the reference kernels, retraces per shape,
// evicts least recently used traces, advances the random stream per replay like eager, leaks
// nothing over 1,000 replays, and rejects what it cannot trace with a HeedError naming compile.
import { describe, expect, it } from 'vitest';
import './setup.js';
import {
  HeedError, LazyBackend, adamStep, onKernel, bucketLength, compile, padToBucket, manualSeed, memory, noGrad, rand,
  tensor, tidy, valueAndGrad, zeros, type Tensor,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { compareSteps, expectRowsClose, referenceCpu, useBackendDuring } from './compile-support.js';

interface Model { w1: Tensor; b1: Tensor; w2: Tensor; bufs: Tensor[] }

function model(): Model {
  const w1 = tensor(Array.from({ length: 32 }, (_, i) => Math.sin(i) * 0.5), { shape: [4, 8] });
  const b1 = tensor(Array.from({ length: 8 }, (_, i) => 0.01 * i));
  const w2 = tensor(Array.from({ length: 8 }, (_, i) => Math.cos(i) * 0.3), { shape: [8, 1] });
  return { w1, b1, w2, bufs: [w1, b1, w2].map((p) => zeros(p.shape)) };
}

function batch(i: number, rows = 6): [Tensor, Tensor] {
  const x = tensor(Array.from({ length: rows * 4 }, (_, k) => Math.sin(k * 0.7 + i)), { shape: [rows, 4] });
  const y = tensor(Array.from({ length: rows }, (_, k) => Math.cos(k + i)), { shape: [rows, 1] });
  return [x, y];
}

const forward = (w1: Tensor, b1: Tensor, w2: Tensor, x: Tensor, dropout: boolean): Tensor => {
  let h = x.matmul(w1).add(b1).relu();
  if (dropout) h = h.mul(rand(h.shape).lt(0.5)).mul(2);
  return h.matmul(w2);
};

/** One SGD-with-momentum step; returns the loss (kept out of the step's tidy). */
function sgdStep(m: Model, x: Tensor, y: Tensor, dropout = false): Tensor {
  return tidy(() => {
    const { value, grads } = valueAndGrad((w1: Tensor, b1: Tensor, w2: Tensor) => forward(w1, b1, w2, x, dropout).sub(y).square().mean())(m.w1, m.b1, m.w2);
    noGrad(() => [m.w1, m.b1, m.w2].forEach((p, i) => {
      m.bufs[i].assign(m.bufs[i].mul(0.9).add(grads[i]));
      p.assign(p.sub(m.bufs[i].mul(0.05)));
    }));
    return value;
  });
}

/** One Adam step through core's adamStep (the backend's fused kernel where it has one); `t` counts steps on the host. */
function adamStepOf(m: Model & { v: Tensor[]; t: number }, x: Tensor, y: Tensor): Tensor {
  const step = ++m.t;
  return tidy(() => {
    const { value, grads } = valueAndGrad((w1: Tensor, b1: Tensor, w2: Tensor) => forward(w1, b1, w2, x, false).sub(y).square().mean())(m.w1, m.b1, m.w2);
    noGrad(() => [m.w1, m.b1, m.w2].forEach((p, i) => {
      const r = adamStep(p, grads[i], m.bufs[i], m.v[i], { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step });
      p.assign(r.param);
      m.bufs[i].assign(r.expAvg);
      m.v[i].assign(r.expAvgSq);
    }));
    return value;
  });
}

const adamModel = (): Model & { v: Tensor[]; t: number } => {
  const m = model();
  return { ...m, v: m.bufs.map((b) => zeros(b.shape)), t: 0 };
};

/** Runs `steps` steps eagerly and compiled on twin models; returns both loss sequences. */
function twin<M>(make: () => M, stepFn: (m: M, x: Tensor, y: Tensor) => Tensor, steps: number) {
  const eager = make(), comp = make();
  const compiled = compile((x: Tensor, y: Tensor) => stepFn(comp, x, y), { onNotCompiled: 'silent' });
  const losses = compareSteps(steps, (i) => batch(i), (x, y) => stepFn(eager, x, y), compiled);
  return { eager, comp, compiled, losses };
}

const values = (m: Model): number[][] => [m.w1, m.b1, m.w2, ...m.bufs].map((t) => Array.from(t.dataSync()));

describe('compile on the reference kernels', () => {
  useBackendDuring('cpu-reference', () => referenceCpu('cpu-reference'));

  it('replays an SGD-momentum step bit for bit like eager', () => {
    const eager = model(), comp = model();
    const step = compile((x: Tensor, y: Tensor) => sgdStep(comp, x, y));
    for (let i = 0; i < 8; i++) {
      const [x, y] = batch(i);
      const le = sgdStep(eager, x, y), lc = step(x, y);
      expect(Array.from(lc.dataSync())).toEqual(Array.from(le.dataSync()));
      le.dispose(); lc.dispose(); x.dispose(); y.dispose();
    }
    expect(values(comp)).toEqual(values(eager));
    expect(step.stats).toMatchObject({ traces: 1, replays: 5, eagerCalls: 3, notCompiled: [] });
  });
});

describe('compile on the reference kernels: what is not replayed', () => {
  useBackendDuring('cpu-reference-2', () => referenceCpu('cpu-reference-2'));

  it("runs Adam eagerly where its bias corrections are host scalars of primitive ops (no fused adam), with the reason", () => {
    const { eager, comp, compiled, losses } = twin(adamModel, adamStepOf, 6);
    expect(losses.compiled).toEqual(losses.eager);
    expect(values(comp)).toEqual(values(eager));
    expect(compiled.stats.replays).toBe(0);
    expect(compiled.stats.notCompiled[0]).toMatch(/different host values.*pass them as tensor arguments/);
  });
});

describe('compile on the fast CPU kernels', () => {
  it('replays an Adam step (fused adam kernel, bias corrections re-derived per step) like eager', () => {
    const { eager, comp, compiled, losses } = twin(adamModel, adamStepOf, 10);
    expect(compiled.stats).toMatchObject({ traces: 1, replays: 7 });
    losses.compiled.forEach((l, i) => expect(l).toBeCloseTo(losses.eager[i], 6));
    expectRowsClose(values(comp), values(eager), 6);
    expect(losses.compiled[9]).toBeLessThan(losses.compiled[0]);
  });

  it('advances the random stream on every replay: masks differ per step and follow manualSeed like eager', () => {
    const run = (compiled: boolean): number[][] => {
      manualSeed(123);
      const m = model();
      const fn = (x: Tensor, y: Tensor) => sgdStep(m, x, y, true);
      const step = compiled ? compile(fn) : fn;
      const out: number[][] = [];
      for (let i = 0; i < 7; i++) {
        const [x, y] = batch(0);
        const l = step(x, y);
        out.push([l.dataSync()[0], ...m.w2.dataSync()]);
        l.dispose(); x.dispose(); y.dispose();
      }
      if (compiled) expect((step as ReturnType<typeof compile>).stats.replays).toBe(4);
      return out;
    };
    const eager = run(false), compiled = run(true);
    expect(compiled).toEqual(eager);
    // Same batch every step: only the dropout mask changes the loss, so replays differ from each other.
    expect(new Set(compiled.slice(3).map((r) => r[0])).size).toBe(4);
  });

  it('traces each input shape once, replays each, and evicts the least recently used beyond maxTraces', () => {
    const m = model();
    const step = compile((x: Tensor, y: Tensor) => sgdStep(m, x, y), { maxTraces: 2 });
    const call = (rows: number): void => { const [x, y] = batch(rows, rows); step(x, y).dispose(); x.dispose(); y.dispose(); };
    for (let i = 0; i < 4; i++) call(3);
    for (let i = 0; i < 4; i++) call(5);
    expect(step.stats).toMatchObject({ traces: 2, replays: 2, cached: 2, evictions: 0 });
    call(3); // a hit: 3 becomes the most recent
    call(7); // evicts 5
    expect(step.stats).toMatchObject({ replays: 3, cached: 2, evictions: 1 });
    for (let i = 0; i < 3; i++) call(5); // traced again from scratch
    expect(step.stats).toMatchObject({ traces: 3, evictions: 2 });
  });

  it('replays alternating shapes on shared parameters like eager (each trace continues from the others\' state)', () => {
    const eager = model(), comp = model();
    const step = compile((x: Tensor, y: Tensor) => sgdStep(comp, x, y));
    const rows = [3, 3, 3, 5, 5, 5, 3, 5, 3, 5, 5, 3];
    rows.forEach((r, i) => {
      const [x, y] = batch(i, r);
      const le = sgdStep(eager, x, y), lc = step(x, y);
      expect(Array.from(lc.dataSync())).toEqual(Array.from(le.dataSync()));
      le.dispose(); lc.dispose(); x.dispose(); y.dispose();
    });
    expect(values(comp)).toEqual(values(eager));
    expect(step.stats).toMatchObject({ traces: 2, replays: 6 });
  });

  it('continues Adam\'s step count across signatures that share the parameters (bias corrections per holder)', () => {
    const eager = adamModel(), comp = adamModel();
    const step = compile((x: Tensor, y: Tensor) => adamStepOf(comp, x, y));
    const rows = [3, 3, 3, 5, 5, 5, 3, 5, 5, 3, 3, 5, 3];
    const losses = compareSteps(rows.length, (i) => batch(i, rows[i]), (x, y) => adamStepOf(eager, x, y), step);
    losses.compiled.forEach((l, i) => expect(l).toBeCloseTo(losses.eager[i], 6));
    expectRowsClose(values(comp), values(eager), 6);
    expect(step.stats).toMatchObject({ traces: 2, replays: 7 });
  });

  it('replays from a parameter assigned outside the step (a loaded checkpoint), even while a view of its old value is alive', () => {
    const eager = model(), comp = model();
    const step = compile((x: Tensor, y: Tensor) => sgdStep(comp, x, y));
    const loaded = Array.from({ length: 32 }, (_, i) => Math.cos(i) * 0.2);
    let oldView: Tensor | null = null;
    for (let i = 0; i < 9; i++) {
      if (i === 5) {
        oldView = comp.w1.reshape([32]); // keeps the replaced storage alive
        for (const m of [eager, comp]) noGrad(() => m.w1.assign(tensor(loaded, { shape: [4, 8] })));
      }
      const [x, y] = batch(i);
      const le = sgdStep(eager, x, y), lc = step(x, y);
      expect(Array.from(lc.dataSync())).toEqual(Array.from(le.dataSync()));
      le.dispose(); lc.dispose(); x.dispose(); y.dispose();
    }
    expect(values(comp)).toEqual(values(eager));
    expect(step.stats).toMatchObject({ traces: 1, replays: 6 });
    oldView!.dispose();
  });

  it('feeds a returned tensor back in as the next argument (a recurrent state the caller carries)', () => {
    const step = compile((h: Tensor, x: Tensor) => h.mul(0.5).add(x));
    const x = tensor([1, 2]);
    let h = tensor([0, 0]);
    const want = [0, 0];
    for (let i = 0; i < 8; i++) {
      const next = step(h, x);
      h.dispose();
      h = next;
      want[0] = want[0] * 0.5 + 1; want[1] = want[1] * 0.5 + 2;
      expect(Array.from(h.dataSync())).toEqual(want);
    }
    expect(step.stats.replays).toBe(5);
    h.dispose(); x.dispose();
  });

  it('leaks no tensor or buffer over 1,000 replays (parameters and state updated in place)', () => {
    const m = adamModel();
    const step = compile((x: Tensor, y: Tensor) => adamStepOf(m, x, y));
    const [x, y] = batch(0);
    for (let i = 0; i < 4; i++) step(x, y).dispose();
    const before = memory();
    const ids = [m.w1, m.bufs[0], m.v[0]].map((t) => t.storage);
    for (let i = 0; i < 1000; i++) step(x, y).dispose();
    const after = memory();
    expect(step.stats.replays).toBe(1001);
    expect([after.numTensors, after.numBuffers, after.numBytes]).toEqual([before.numTensors, before.numBuffers, before.numBytes]);
    expect([m.w1, m.bufs[0], m.v[0]].map((t) => t.storage)).toEqual(ids); // the same holders, new buffers
    x.dispose(); y.dispose();
  });
});

describe('compile over lazy execution (the fused schedule of the inner backend is replayed)', () => {
  useBackendDuring('lazy-reference', () => new LazyBackend(new CpuBackend({ fast: false }), { name: 'lazy-reference' }));

  it('replays an SGD-momentum step with dropout bit for bit like the lazy eager step, and leaks nothing', () => {
    const run = (compiled: boolean) => {
      manualSeed(5);
      const m = model();
      const fn = (x: Tensor, y: Tensor) => sgdStep(m, x, y, true);
      const step = compiled ? compile(fn) : fn;
      const losses: number[] = [];
      const [x, y] = batch(1);
      let before = memory();
      let epilogues = 0;
      const stop = onKernel((_b, kernel) => { if (kernel === 'matmulElementwise') epilogues++; });
      for (let i = 0; i < 40; i++) {
        if (i === 5) before = memory();
        if (i === 39) epilogues = 0;
        const l = step(x, y);
        losses.push(l.dataSync()[0]);
        l.dispose();
      }
      stop();
      const after = memory();
      expect([after.numTensors, after.numBuffers]).toEqual([before.numTensors, before.numBuffers]);
      // x @ w1 + b1 -> relu is one matmulElementwise call, recorded and replayed like any kernel
      expect(epilogues).toBeGreaterThanOrEqual(1);
      if (compiled) expect((step as ReturnType<typeof compile>).stats.replays).toBe(37);
      x.dispose(); y.dispose();
      return { losses, values: values(m) };
    };
    const eager = run(false), compiled = run(true);
    expect(compiled.losses).toEqual(eager.losses);
    expect(compiled.values).toEqual(eager.values);
  });
});

describe('compile drops fused outputs nothing reads (dead-output elimination)', () => {
  // a tiny size limit makes the lazy layer run programs mid-step, while the step's JavaScript
  // still holds their intermediates: those are written out, then never read
  useBackendDuring('lazy-dead-outputs', () => new LazyBackend(new CpuBackend({ fast: false }), { name: 'lazy-dead-outputs', maxPending: 4 }));

  it('a program writing intermediates held while it ran writes only the live ones on replay, with the same values, leaking nothing', () => {
    const w = tensor(Array.from({ length: 12 }, (_, i) => Math.sin(i)), { shape: [4, 3] });
    const fn = (x: Tensor): Tensor => tidy(() => {
      const scaled = x.mul(3);
      const shifted = scaled.add(1);
      const e = shifted.exp();
      const m = e.matmul(w);
      return m.mul(0.5).sum();
    });
    const outputsOf = (f: () => Tensor): { value: number; outputs: number } => {
      let outputs = 0;
      const stop = onKernel((_b, kernel, args) => {
        if (kernel === 'elementwise') outputs += (args[0] as { outputs: readonly number[] }).outputs.length;
      });
      const l = f();
      const value = l.dataSync()[0];
      stop();
      l.dispose();
      return { value, outputs };
    };
    const x = tensor(Array.from({ length: 8 }, (_, i) => 0.1 * i), { shape: [2, 4] });
    const step = compile(fn);
    const runs = [0, 1, 2, 3, 4].map(() => outputsOf(() => step(x)));
    expect(step.stats.replays).toBe(2);
    const eager = outputsOf(() => fn(x));
    expect(runs.map((r) => r.value)).toEqual(runs.map(() => eager.value));
    expect(runs[2].outputs).toBeGreaterThan(runs[3].outputs); // the second trace wrote the intermediates
    expect(runs[4].outputs).toBe(runs[3].outputs);
    const before = memory();
    for (let i = 0; i < 5; i++) step(x).dispose();
    expect(memory().numBuffers).toBe(before.numBuffers);
    x.dispose(); w.dispose();
  });
});

describe('bucketing for compiled steps', () => {
  it('pads lengths up to buckets, so a compiled step traces once per bucket', () => {
    expect([1, 16, 17, 64].map((n) => bucketLength(n, [16, 32, 64]))).toEqual([16, 16, 32, 64]);
    expect(() => bucketLength(65, [16, 32, 64])).toThrow(/bucketLength: length 65 exceeds the largest bucket 64/);
    expect(() => bucketLength(3, [8, 4])).toThrow(/ascending/);
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    const p = padToBucket(x, 1, [2, 4, 8], -1);
    expect(p.shape).toEqual([2, 4]);
    expect(Array.from(p.dataSync())).toEqual([1, 2, 3, -1, 4, 5, 6, -1]);
    expect(padToBucket(x, 0, [2, 4])).toBe(x);
    const step = compile((t: Tensor) => t.mul(2).sum(-1));
    for (const len of [3, 4, 2, 1, 4, 3, 2, 3]) {
      const t = tensor(Array.from({ length: len }, (_, i) => i + 1));
      const padded = padToBucket(t, 0, [2, 4], 0);
      expect(step(padded).dataSync()[0]).toBe(len * (len + 1)); // 2 * sum(1..len)
      if (padded !== t) padded.dispose();
      t.dispose();
    }
    expect(step.stats).toMatchObject({ cached: 2, traces: 2, replays: 2 });
  });
});

describe('compile errors', () => {
  it('rejects host reads inside the traced function with a HeedError naming compile and the fix', () => {
    const step = compile((x: Tensor) => { const s = x.sum(); s.dataSync(); return s; });
    const x = tensor([1, 2]);
    expect(() => step(x)).toThrow(HeedError);
    expect(() => step(x)).toThrow(/compile: .*read values to the host.*Return the tensor/);
  });

  it('runs a compiled function nested in another one\'s recording eagerly, so the outer schedule has its kernels', () => {
    const inner = compile((t: Tensor) => t.mul(3));
    const outer = compile((t: Tensor) => inner(t).add(1));
    const x = tensor([1, 2]);
    for (let i = 0; i < 5; i++) expect(Array.from(outer(x).dataSync())).toEqual([4, 7]);
    expect(outer.stats.replays).toBe(2);
    expect(inner.stats.replays).toBe(0);
  });

  it('rejects async functions and arguments that cannot form a trace key', () => {
    const x = tensor([1, 2]);
    expect(() => compile(async (t: Tensor) => t.add(1), { warmup: 0 })(x)).toThrow(/compile: the function returned a Promise/);
    expect(() => compile((t: Tensor, _f: unknown) => t.add(1))(x, () => 1)).toThrow(/compile: argument 1 is .*trace key/);
    expect(() => compile(42 as unknown as () => void)).toThrow(/compile: expected a function/);
  });

  it('does not replay a tensor captured from outside that changes between calls, and says to pass it', () => {
    let data = tensor([1, 2]);
    const step = compile(() => data.mul(2), { onNotCompiled: 'silent', maxAttempts: 1 });
    for (let i = 0; i < 5; i++) {
      data = tensor([i, i + 1]);
      expect(Array.from(step().dataSync())).toEqual([2 * i, 2 * i + 2]);
    }
    expect(step.stats.replays).toBe(0);
    expect(step.stats.notCompiled[0]).toMatch(/pass it as an argument/);
  });
});
