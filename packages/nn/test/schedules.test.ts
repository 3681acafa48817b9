// SPDX-License-Identifier: MIT
// Learning-rate schedules against PyTorch 1.13 lr sequences (packages/nn/fixtures/optim.json):
// StepLR, CosineAnnealingLR (plain and with warmup), NoamLR, LambdaLR; plus state dicts,
// per-group lambdas, resuming with lastEpoch, and argument errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { CosineAnnealingLR, LambdaLR, NoamLR, SGD, StepLR, type LRScheduler } from '../src/optim/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

interface Schedule { kind: string; options: Record<string, number | string>; baseLr: number; lrs: number[] }
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')) as { schedules: Schedule[] };

function make(s: Schedule, opt: SGD): LRScheduler {
  const o = s.options as Record<string, number>;
  switch (s.kind) {
    case 'StepLR': return new StepLR(opt, { stepSize: o.stepSize, gamma: o.gamma });
    case 'CosineAnnealingLR': return new CosineAnnealingLR(opt, { totalSteps: o.totalSteps, warmupSteps: o.warmupSteps, minLr: o.minLr });
    case 'NoamLR': return new NoamLR(opt, { dModel: o.dModel, warmupSteps: o.warmupSteps });
    case 'LambdaLR': return new LambdaLR(opt, (epoch) => 0.9 ** epoch);
    default: throw new Error(`unknown schedule ${s.kind}`);
  }
}

describe('schedules match PyTorch 1.13', () => {
  let maxRelErr = 0;
  for (const s of fx.schedules) {
    it(`${s.kind} ${JSON.stringify(s.options)}`, () => {
      const opt = new SGD([tensor([0], { requiresGrad: true })], { lr: s.baseLr });
      const sched = make(s, opt);
      const got = [opt.paramGroups[0].lr];
      for (let i = 1; i < s.lrs.length; i++) {
        sched.step();
        got.push(opt.paramGroups[0].lr);
      }
      expect(sched.getLastLr()).toEqual([got[got.length - 1]]);
      got.forEach((lr, i) => {
        const err = lr === s.lrs[i] ? 0 : Math.abs(lr - s.lrs[i]) / Math.abs(s.lrs[i]);
        maxRelErr = Math.max(maxRelErr, err);
        expect(err, `step ${i}: got ${lr}, want ${s.lrs[i]}`).toBeLessThan(1e-12);
      });
      // the sequences are not constant: the comparison has teeth
      expect(new Set(s.lrs).size).toBeGreaterThan(3);
    });
  }
  it('reports the max relative error', () => {
    console.log(`schedules: max relative error vs PyTorch = ${maxRelErr.toExponential(2)}`);
    expect(fx.schedules.length).toBe(5);
  });
});

describe('schedule details', () => {
  it('cosine holds minLr after totalSteps and warms up from warmupStartFactor', () => {
    const opt = new SGD([tensor([0], { requiresGrad: true })], { lr: 1 });
    const s = new CosineAnnealingLR(opt, { totalSteps: 6, warmupSteps: 2, minLr: 0.1, warmupStartFactor: 0.5 });
    const lrs = [opt.paramGroups[0].lr];
    for (let i = 0; i < 8; i++) { s.step(); lrs.push(opt.paramGroups[0].lr); }
    expect(lrs.slice(0, 3)).toEqual([0.5, 0.75, 1]);
    expect(lrs[4]).toBeCloseTo(0.55, 12); // halfway: 0.1 + 0.9 / 2
    expect(lrs.slice(6)).toEqual([0.1, 0.1, 0.1]);
  });

  it('per-group lambdas, initialLr, state dict round trip and resuming with lastEpoch', () => {
    const a = tensor([0], { requiresGrad: true });
    const b = tensor([0], { requiresGrad: true });
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    const s = new LambdaLR(opt, [(e) => 1 / (e + 1), (e) => 2 ** -e]);
    expect(opt.paramGroups.map((g) => g.initialLr)).toEqual([0.1, 0.5]);
    s.step();
    s.step();
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1 / 3, 0.125]);
    const saved = JSON.parse(JSON.stringify(s.stateDict()));
    expect(saved).toEqual({ lastEpoch: 2, baseLrs: [0.1, 0.5], lastLrs: [0.1 / 3, 0.125] });

    const opt2 = new SGD([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    opt2.loadStateDict(opt.stateDict());
    const s2 = new LambdaLR(opt2, [(e) => 1 / (e + 1), (e) => 2 ** -e]);
    s2.loadStateDict(saved);
    s.step();
    s2.step();
    expect(opt2.paramGroups.map((g) => g.lr)).toEqual(opt.paramGroups.map((g) => g.lr));
    expect(s2.lastEpoch).toBe(3);

    // resuming with lastEpoch (PyTorch style) continues from the recorded initialLr
    const s3 = new StepLR(opt2, { stepSize: 2, gamma: 0.5, lastEpoch: 4 });
    expect(s3.lastEpoch).toBe(5);
    expect(opt2.paramGroups.map((g) => g.lr)).toEqual([0.1 * 0.25, 0.5 * 0.25]);
  });

  it('rejects bad arguments', () => {
    const opt = new SGD([tensor([0], { requiresGrad: true })], { lr: 1 });
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/stepSize must be a positive integer/);
    expect(() => new CosineAnnealingLR(opt, { totalSteps: 5, warmupSteps: 5 })).toThrow(/warmupSteps must be an integer in \[0, totalSteps\)/);
    expect(() => new NoamLR(opt, { dModel: 512, warmupSteps: -1 })).toThrow(/warmupSteps must be a positive integer/);
    expect(() => new LambdaLR(opt, [(e) => e, (e) => e])).toThrow(/expected 1 lambdas/);
    const fresh = new SGD([tensor([0], { requiresGrad: true })], { lr: 1 });
    expect(() => new StepLR(fresh, { stepSize: 2, lastEpoch: 3 })).toThrow(/needs initialLr/);
    const s = new StepLR(opt, { stepSize: 2 });
    expect(() => s.loadStateDict({ lastEpoch: -2, baseLrs: [1], lastLrs: [1] })).toThrow(/expected \{ lastEpoch: integer >= 0/);
  });
});
