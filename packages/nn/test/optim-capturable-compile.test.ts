// SPDX-License-Identifier: MIT
// Capturable optimizer steps under compile(): `stepScalars()` outside the compiled function,
// `step(scalars)` inside. With a warmup + cosine schedule (lr changes every step) the step
// replays, and every replay uses the current lr: SGD/Adam/AdamW/AMSGrad give the eager
// losses and parameters (capturable and plain `step()`) bit for bit on the reference kernels,
// plain eager `step()`'s within float32 rounding on the fast path (fused adam kernel); the host step counter (`stateDict().state[i].step`) counts
// replayed steps, so a saved and reloaded optimizer continues like an uninterrupted one.
import { describe, expect, it } from 'vitest';
import { compile, manualSeed, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { expectRowsClose, referenceCpu, useBackendDuring } from '../../core/test/compile-support.js';
import {
  Adam, AdamW, CosineAnnealingLR, Linear, ReLU, SGD, Sequential, disposeStepScalars, mseLoss, type Module, type StepScalars,
} from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

type Opt = SGD | Adam | AdamW;
interface Net { model: Module & { forward(x: Tensor): Tensor }; opt: Opt; sched: CosineAnnealingLR }

const OPTIMIZERS = {
  sgd: (m: Module) => new SGD(m, { lr: 0.05, momentum: 0.9 }),
  adam: (m: Module) => new Adam(m, { lr: 1e-2 }),
  adamw: (m: Module) => new AdamW(m, { lr: 1e-2, weightDecay: 0.1 }),
  amsgrad: (m: Module) => new Adam(m, { lr: 1e-2, amsgrad: true }),
} as const satisfies Record<string, (m: Module) => Opt>;
type OptName = keyof typeof OPTIMIZERS;

function makeNet(optim: OptName, seed: number): Net {
  manualSeed(seed);
  const model = new Sequential(new Linear(6, 16), new ReLU(), new Linear(16, 2));
  const opt = OPTIMIZERS[optim](model);
  const sched = new CosineAnnealingLR(opt, { totalSteps: 20, warmupSteps: 3, minLr: 1e-3 });
  return { model, opt, sched };
}

function data(i: number, rows: number): [Tensor, Tensor] {
  return [
    tensor(Array.from({ length: rows * 6 }, (_, k) => Math.sin(0.37 * k + i)), { shape: [rows, 6] }),
    tensor(Array.from({ length: rows * 2 }, (_, k) => Math.cos(0.11 * k - i)), { shape: [rows, 2] }),
  ];
}

/** The step body: loss, backward, the optimizer's step (capturable when `s` is given). */
function body(net: Net) {
  return (x: Tensor, y: Tensor, s?: StepScalars): Tensor => {
    net.opt.zeroGrad();
    const loss = mseLoss(net.model.forward(x), y);
    loss.backward();
    net.opt.step(s);
    const value = loss.detach();
    loss.dispose();
    return value;
  };
}

type Mode = 'plain' | 'capturable' | 'compiled';
/** Runs `rows.length` steps of `net` in `mode`; returns the losses and the compiled function (if any). */
function run(net: Net, mode: Mode, rows: readonly number[], offset = 0) {
  const f = body(net);
  const compiled = mode === 'compiled' ? compile(f, { onNotCompiled: 'throw' }) : null;
  const losses: number[] = [];
  rows.forEach((r, k) => {
    const [x, y] = data(offset + k, r);
    let loss: Tensor;
    if (mode === 'plain') loss = f(x, y);
    else {
      const s = net.opt.stepScalars();
      loss = compiled ? compiled(x, y, s) : f(x, y, s);
      disposeStepScalars(s);
    }
    net.sched.step();
    losses.push(loss.dataSync()[0]);
    loss.dispose(); x.dispose(); y.dispose();
  });
  return { losses, compiled };
}

const params = (n: Net) => n.model.parameters().map((p) => Array.from(p.dataSync()));
const ROWS = Array.from({ length: 12 }, () => 5);

describe('capturable steps on the reference kernels', () => {
  useBackendDuring('nn-cpu-reference-cap', () => referenceCpu('nn-cpu-reference-cap'));

  for (const optim of Object.keys(OPTIMIZERS) as OptName[]) {
    it(`${optim} with a warmup + cosine schedule replays, bit for bit like the eager capturable step`, () => {
      const eager = makeNet(optim, 7), comp = makeNet(optim, 7), plain = makeNet(optim, 7);
      const e = run(eager, 'capturable', ROWS), c = run(comp, 'compiled', ROWS), p = run(plain, 'plain', ROWS);
      expect(c.compiled!.stats).toMatchObject({ traces: 1, replays: ROWS.length - 3, notCompiled: [] });
      expect(c.losses).toEqual(e.losses);
      expect(params(comp)).toEqual(params(eager));
      // The lr really changed every step, and the replays followed it: plain eager step() (host
      // scalars) does the same float32 arithmetic here, so it agrees bit for bit too.
      expect(comp.opt.paramGroups[0].lr).not.toBeCloseTo(eager.opt.defaults.lr, 4);
      expect(c.losses).toEqual(p.losses);
      expect(params(comp)).toEqual(params(plain));
    });
  }

  it('a compiled step with a frozen lr would differ: the schedule is what the replays follow', () => {
    const comp = makeNet('adam', 7), frozen = makeNet('adam', 7);
    const c = run(comp, 'compiled', ROWS);
    frozen.sched.step = () => {};
    const f = run(frozen, 'compiled', ROWS);
    expect(c.losses.slice(0, 2)).toEqual(f.losses.slice(0, 2));
    expect(c.losses[11]).not.toBe(f.losses[11]);
  });
});

describe('capturable steps on the fast CPU path', () => {
  it('Adam/AdamW with a schedule replay like plain eager step() (float32 rounding)', () => {
    for (const optim of ['adam', 'adamw'] as const) {
      const comp = makeNet(optim, 3), plain = makeNet(optim, 3);
      const c = run(comp, 'compiled', ROWS), p = run(plain, 'plain', ROWS);
      expect(c.compiled!.stats).toMatchObject({ traces: 1, replays: ROWS.length - 3, notCompiled: [] });
      c.losses.forEach((l, i) => expect(l).toBeCloseTo(p.losses[i], 5));
      expectRowsClose(params(comp), params(plain), 5);
    }
  });

  it('keeps the host step counter right after replays; save/resume continues like an uninterrupted run', () => {
    const comp = makeNet('adamw', 5), whole = makeNet('adamw', 5);
    const first = ROWS.slice(0, 9);
    const c = run(comp, 'compiled', first);
    expect(c.compiled!.stats.replays).toBe(6);
    const sd = comp.opt.stateDict();
    expect(Object.values(sd.state).map((s) => s.step)).toEqual(comp.model.parameters().map(() => 9));
    // Resume: a fresh model/optimizer/schedule loaded from the saved state, then 5 more steps.
    const resumed = makeNet('adamw', 99);
    resumed.model.parameters().forEach((p, i) => p.assign(comp.model.parameters()[i].clone()));
    resumed.opt.loadStateDict(sd);
    resumed.sched.loadStateDict(comp.sched.stateDict());
    const rest = run(resumed, 'compiled', ROWS.slice(0, 5), 9);
    const w = run(whole, 'plain', [...first, ...ROWS.slice(0, 5)]);
    rest.losses.forEach((l, i) => expect(l).toBeCloseTo(w.losses[9 + i], 5));
    expectRowsClose(params(resumed), params(whole), 5);
    expect(Object.values(resumed.opt.stateDict().state).map((s) => s.step)).toEqual(resumed.model.parameters().map(() => 14));
  });

  it('several input shapes (buckets) share the state and follow the schedule', () => {
    const comp = makeNet('adam', 11), plain = makeNet('adam', 11);
    const rows = [5, 5, 5, 5, 5, 7, 7, 7, 7, 5, 7, 5, 7, 5];
    const c = run(comp, 'compiled', rows), p = run(plain, 'plain', rows);
    expect(c.compiled!.stats).toMatchObject({ traces: 2, notCompiled: [] });
    expect(c.compiled!.stats.replays).toBe(rows.length - 6);
    c.losses.forEach((l, i) => expect(l).toBeCloseTo(p.losses[i], 5));
    expectRowsClose(params(comp), params(plain), 5);
    expect(Object.values(comp.opt.stateDict().state).map((s) => s.step)).toEqual(comp.model.parameters().map(() => rows.length));
  });

  it('step(scalars) without stepScalars() first is a HeedError naming the fix', () => {
    const net = makeNet('adam', 1);
    const s = net.opt.stepScalars();
    const [x, y] = data(0, 5);
    body(net)(x, y, s).dispose();
    expect(() => body(net)(x, y, s)).toThrow(/stepScalars\(\)/);
    disposeStepScalars(s); x.dispose(); y.dispose();
  });
});
