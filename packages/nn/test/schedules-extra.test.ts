// SPDX-License-Identifier: MIT
// OneCycleLR, LinearLR, SequentialLR and ReduceLROnPlateau against PyTorch 1.13 lr (and
// momentum) sequences over 12-60 steps, several param groups, SGD and Adam
// (packages/nn/fixtures/losses-sched.json from scripts/fixtures/gen_losses_sched_fixtures.py);
// plus state dicts, resuming, and argument errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HeedError, registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  Adam, LambdaLR, LinearLR, OneCycleLR, ReduceLROnPlateau, SGD, SequentialLR, StepLR, type LRScheduler,
} from '../src/optim/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

type Opts = Record<string, unknown>;
interface Schedule {
  kind: string; options: Opts; optimizer: 'sgd' | 'adam'; baseLr: number; groups: number;
  lrs: number[][]; momenta: number[][]; metrics?: number[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/losses-sched.json', import.meta.url), 'utf8')) as { schedules: Schedule[] };

function makeOptimizer(s: Schedule): SGD | Adam {
  const groups = Array.from({ length: s.groups }, (_, i) => ({ params: [tensor([0], { requiresGrad: true })], lr: s.baseLr * (i + 1) }));
  return s.optimizer === 'adam' ? new Adam(groups, { lr: s.baseLr, betas: [0.9, 0.999] }) : new SGD(groups, { lr: s.baseLr, momentum: 0.9 });
}

function sub(opt: SGD | Adam, o: Opts): LRScheduler {
  const n = (k: string): number => o[k] as number;
  switch (o.kind) {
    case 'LinearLR': return new LinearLR(opt, { startFactor: o.startFactor as number | undefined, endFactor: o.endFactor as number | undefined, totalIters: n('totalIters') });
    case 'StepLR': return new StepLR(opt, { stepSize: n('stepSize'), gamma: n('gamma') });
    case 'LambdaLR': return new LambdaLR(opt, (e) => n('base') ** e);
    default: throw new Error(`unknown ${String(o.kind)}`);
  }
}

type Stepper = { step(metric?: number): void; getLastLr(): number[] };
function make(s: Schedule, opt: SGD | Adam): Stepper {
  const o = s.options;
  switch (s.kind) {
    case 'OneCycleLR': return new OneCycleLR(opt, o as never);
    case 'LinearLR': return new LinearLR(opt, o);
    case 'SequentialLR': return new SequentialLR(opt, (o.schedulers as Opts[]).map((x) => sub(opt, x)), o.milestones as number[]);
    case 'ReduceLROnPlateau': {
      const r = new ReduceLROnPlateau(opt, o);
      return { step: (m) => r.step(m as number), getLastLr: () => r.getLastLr() };
    }
    default: throw new Error(`unknown schedule ${s.kind}`);
  }
}

const momentum = (opt: SGD | Adam): number[] => opt.paramGroups.map((g) => ('betas' in g ? g.betas[0] : (g as { momentum: number }).momentum));

describe('schedules match PyTorch 1.13', () => {
  let maxRelErr = 0;
  const rel = (a: number, b: number): number => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));
  for (const s of fx.schedules) {
    it(`${s.kind} ${s.optimizer} ${JSON.stringify(s.options)}`, () => {
      const opt = makeOptimizer(s);
      const sched = make(s, opt);
      const lrs = [opt.paramGroups.map((g) => g.lr)];
      const moms = [momentum(opt)];
      for (let i = 1; i < s.lrs.length; i++) {
        sched.step(s.metrics?.[i - 1]);
        lrs.push(opt.paramGroups.map((g) => g.lr));
        moms.push(momentum(opt));
      }
      expect(sched.getLastLr()).toEqual(lrs[lrs.length - 1]);
      s.lrs.forEach((want, i) => want.forEach((w, g) => {
        const err = rel(lrs[i][g], w);
        maxRelErr = Math.max(maxRelErr, err);
        expect(err, `step ${i} group ${g}: lr ${lrs[i][g]}, want ${w}`).toBeLessThan(1e-12);
        const m = rel(moms[i][g], s.momenta[i][g]);
        expect(m, `step ${i} group ${g}: momentum ${moms[i][g]}, want ${s.momenta[i][g]}`).toBeLessThan(1e-12);
      }));
      expect(new Set(s.lrs.map((l) => l[0])).size, 'the sequence changes').toBeGreaterThan(2);
    });
  }
  it('covers every schedule and reports the max relative error', () => {
    expect(new Set(fx.schedules.map((s) => s.kind))).toEqual(new Set(['OneCycleLR', 'LinearLR', 'SequentialLR', 'ReduceLROnPlateau']));
    expect(fx.schedules.some((s) => s.kind === 'OneCycleLR' && new Set(s.momenta.map((m) => m[0])).size > 3)).toBe(true);
    console.log(`schedules-extra: max relative error vs PyTorch = ${maxRelErr.toExponential(2)}`);
  });
});

const param = () => tensor([0], { requiresGrad: true });
function throws(call: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    call();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(HeedError);
  expect((error as Error).message).toMatch(message);
}

describe('schedule details', () => {
  it('OneCycleLR: the last step is totalSteps; one more throws and changes nothing', () => {
    const opt = new SGD([param()], { lr: 1, momentum: 0.9 });
    const s = new OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
    for (let i = 0; i < 10; i++) s.step();
    const lr = opt.paramGroups[0].lr;
    throws(() => s.step(), /^OneCycleLR: tried to step 11 times; the cycle has totalSteps = 10/);
    expect(s.lastEpoch).toBe(10);
    expect(opt.paramGroups[0].lr).toBe(lr);
  });

  it('OneCycleLR resumes exactly from its state dict', () => {
    const a = new Adam([param()], { lr: 1e-3 });
    const s = new OneCycleLR(a, { maxLr: 0.1, totalSteps: 20 });
    for (let i = 0; i < 7; i++) s.step();
    const saved = JSON.parse(JSON.stringify(s.stateDict()));
    s.step();
    const want = [a.paramGroups[0].lr, a.paramGroups[0].betas[0]];
    const b = new Adam([param()], { lr: 1e-3 });
    b.loadStateDict(a.stateDict());
    const s2 = new OneCycleLR(b, { maxLr: 0.1, totalSteps: 20, lastEpoch: 7 });
    s2.loadStateDict(saved);
    s2.step();
    expect([b.paramGroups[0].lr, b.paramGroups[0].betas[0]]).toEqual(want);
  });

  it('SequentialLR state dict round trip', () => {
    const opt = new SGD([param()], { lr: 0.5 });
    const seq = new SequentialLR(opt, [new LinearLR(opt, { startFactor: 0.5, totalIters: 3 }), new StepLR(opt, { stepSize: 2, gamma: 0.5 })], [3]);
    for (let i = 0; i < 4; i++) seq.step();
    const saved = JSON.parse(JSON.stringify(seq.stateDict()));
    expect(saved.lastEpoch).toBe(4);
    expect(saved.schedulers[1].lastEpoch).toBe(1);
    const opt2 = new SGD([param()], { lr: 0.5 });
    const seq2 = new SequentialLR(opt2, [new LinearLR(opt2, { startFactor: 0.5, totalIters: 3 }), new StepLR(opt2, { stepSize: 2, gamma: 0.5 })], [3]);
    seq2.loadStateDict(saved);
    seq.step();
    seq2.step();
    expect(opt2.paramGroups[0].lr).toBe(opt.paramGroups[0].lr);
    expect(opt.paramGroups[0].lr).toBe(0.25); // StepLR restarted at step 3: local step 2 -> 0.5 * 0.5
    // a bad second scheduler state loads nothing
    const before = JSON.stringify(seq2.stateDict());
    const bad = { ...saved, schedulers: [{ ...saved.schedulers[0], lastEpoch: 1 }, { lastEpoch: -3 }] };
    throws(() => seq2.loadStateDict(bad), /^StepLR\.loadStateDict: /);
    expect(JSON.stringify(seq2.stateDict())).toBe(before);
  });

  it('ReduceLROnPlateau state dict round trip (best = Infinity survives JSON as null)', () => {
    const opt = new SGD([param()], { lr: 1 });
    const r = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
    expect(JSON.parse(JSON.stringify(r.stateDict())).best).toBeNull();
    const r0 = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
    r0.loadStateDict(JSON.parse(JSON.stringify(r.stateDict())));
    expect(r0.best).toBe(Infinity);
    for (const m of [1, 0.5, 0.6, 0.7]) r.step(m);
    expect(opt.paramGroups[0].lr).toBe(0.5);
    const r2 = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
    r2.loadStateDict(JSON.parse(JSON.stringify(r.stateDict())));
    expect([r2.best, r2.numBadEpochs, r2.lastEpoch]).toEqual([0.5, 0, 4]);
    r.step(NaN); // not better
    expect(r.numBadEpochs).toBe(1);
  });

  const js = <T>(v: unknown): T => v as T;
  const errors: [string, () => unknown, RegExp][] = [
    ['LinearLR startFactor 0', () => new LinearLR(new SGD([param()], { lr: 1 }), { startFactor: 0 }), /^LinearLR: startFactor must be in \(0, 1\]/],
    ['LinearLR totalIters', () => new LinearLR(new SGD([param()], { lr: 1 }), { totalIters: 0 }), /^LinearLR: totalIters must be a positive integer/],
    ['OneCycleLR no length', () => new OneCycleLR(new SGD([param()], { lr: 1, momentum: 0.9 }), { maxLr: 1 }), /^OneCycleLR: give totalSteps, or epochs and stepsPerEpoch/],
    ['OneCycleLR maxLr per group', () => new OneCycleLR(new SGD([param()], { lr: 1, momentum: 0.9 }), { maxLr: [1, 2], totalSteps: 5 }), /maxLr must be a number or a list of 1/],
    ['OneCycleLR anneal', () => new OneCycleLR(new SGD([param()], { lr: 1, momentum: 0.9 }), { maxLr: 1, totalSteps: 5, annealStrategy: js('exp') }), /annealStrategy/],
    ['OneCycleLR no momentum', () => new OneCycleLR({ paramGroups: [{ lr: 1 }] }, { maxLr: 1, totalSteps: 5 }), /cycleMomentum needs an optimizer with momentum/],
    ['SequentialLR milestones', () => { const o = new SGD([param()], { lr: 1 }); return new SequentialLR(o, [new LinearLR(o), new LinearLR(o)], [0]); }, /milestones must be increasing positive integers/],
    ['SequentialLR count', () => { const o = new SGD([param()], { lr: 1 }); return new SequentialLR(o, [new LinearLR(o)], [3]); }, /expected 0 milestones/],
    ['SequentialLR other optimizer', () => { const o = new SGD([param()], { lr: 1 }); return new SequentialLR(o, [new LinearLR(new SGD([param()], { lr: 1 }))], []); }, /different optimizer/],
    ['Plateau factor', () => new ReduceLROnPlateau(new SGD([param()], { lr: 1 }), { factor: 1 }), /^ReduceLROnPlateau: factor must be in \[0, 1\)/],
    ['Plateau mode', () => new ReduceLROnPlateau(new SGD([param()], { lr: 1 }), { mode: js('low') }), /mode must be 'min' or 'max'/],
    ['Plateau minLr list', () => new ReduceLROnPlateau(new SGD([param()], { lr: 1 }), { minLr: [0, 0] }), /minLr must be a number or a list of 1/],
    ['Plateau metric', () => new ReduceLROnPlateau(new SGD([param()], { lr: 1 })).step(js(tensor(1))), /await t.item\(\)/],
  ];
  for (const [name, call, message] of errors) it(`error: ${name}`, () => throws(call, message));
});
