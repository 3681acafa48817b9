// SPDX-License-Identifier: MIT
// Optimizers against PyTorch 1.13 (packages/nn/fixtures/optim.json from
// scripts/fixtures/gen_optim_fixtures.py): SGD (momentum, dampening, Nesterov, groups), Adam
// (L2 decay, AMSGrad), AdamW (decoupled decay, AMSGrad, decay mask) over 6 steps of a tiny
// tanh regression; gradient clipping; state dicts; memory (no leaks per step); errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HeedError, checkLeaks, registerBackend, setBackend, tensor, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  Adam, AdamW, SGD, clipGradNorm, clipGradValue, decayMatricesOnly, excludeFromDecay, type Optimizer, type BaseHyperParams,
  type OptimStateValue,
} from '../src/optim/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

interface Enc { shape: number[]; data: number[] }
interface Run {
  name: string;
  kind: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, number | boolean | number[]>;
  groups?: Record<string, number>[];
  mask?: 'noBias';
  steps: { loss: number; grads: { w: number[]; b: number[] }; w: number[]; b: number[] }[];
}
interface Fixture {
  problem: { x: Enc; y: Enc; w: Enc; b: Enc };
  runs: Run[];
  clip: { g1: Enc; g2: Enc; norm: { normType: number | 'inf'; maxNorm: number; total: number; g1: number[]; g2: number[] }[]; value: { clip: number; g1: number[] } };
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')) as Fixture;
const t = (e: Enc) => tensor(Float32Array.from(e.data), { shape: e.shape });

let maxRelErr = 0;
function expectClose(got: Tensor | number[], want: number[], label: string, tol = 1e-5): void {
  const values = Array.isArray(got) ? got : Array.from(got.dataSync());
  expect(values.length, label).toBe(want.length);
  values.forEach((g, i) => {
    const err = Math.abs(g - want[i]) / Math.max(1, Math.abs(want[i]));
    maxRelErr = Math.max(maxRelErr, err);
    expect(err, `${label}[${i}]: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(tol);
  });
}

type AnyOptimizer = Optimizer<BaseHyperParams, Record<string, OptimStateValue>>;

function makeOptimizer(run: Run, w: Tensor, b: Tensor): AnyOptimizer {
  const options = { ...run.options } as Record<string, unknown>;
  if (Array.isArray(options.betas)) options.betas = options.betas as [number, number];
  if (run.mask === 'noBias') options.weightDecayFilter = decayMatricesOnly;
  const params = run.groups
    ? [{ params: [['w', w]] as [string, Tensor][], ...run.groups[0] }, { params: [['b', b]] as [string, Tensor][], ...run.groups[1] }]
    : ([['w', w], ['b', b]] as [string, Tensor][]);
  const ctor = { SGD, Adam, AdamW }[run.kind] as unknown as new (p: unknown, o: unknown) => AnyOptimizer;
  return new ctor(params, options);
}

function problem() {
  const p = fx.problem;
  return { x: t(p.x), y: t(p.y), w: t(p.w).requiresGrad_(), b: t(p.b).requiresGrad_() };
}

const lossOf = (x: Tensor, y: Tensor, w: Tensor, b: Tensor): Tensor =>
  tidy(() => x.matmul(w.transpose()).add(b).tanh().sub(y).square().mean());

describe('optimizers match PyTorch 1.13', () => {
  it('has every configuration', () => {
    expect(fx.runs.map((r) => r.name)).toEqual(['sgd_plain', 'sgd_momentum_dampening_wd', 'sgd_nesterov', 'sgd_groups', 'adam_wd',
      'adam_amsgrad', 'adamw', 'adamw_amsgrad', 'adamw_decay_mask']);
    for (const r of fx.runs) expect(r.steps.length).toBeGreaterThanOrEqual(5);
  });

  for (const run of fx.runs) {
    it(`${run.name}: gradients from Heed's autograd, params after each step`, () => {
      const { x, y, w, b } = problem();
      const opt = makeOptimizer(run, w, b);
      run.steps.forEach((s, k) => {
        opt.zeroGrad();
        const loss = lossOf(x, y, w, b);
        expectClose([loss.dataSync()[0]], [s.loss], `${run.name} step ${k} loss`);
        loss.backward();
        loss.dispose();
        expectClose(w.grad as Tensor, s.grads.w, `${run.name} step ${k} grad w`);
        expectClose(b.grad as Tensor, s.grads.b, `${run.name} step ${k} grad b`);
        opt.step();
        expectClose(w, s.w, `${run.name} step ${k} w`);
        expectClose(b, s.b, `${run.name} step ${k} b`);
      });
    });

    it(`${run.name}: the optimizer alone, fed PyTorch's gradients`, () => {
      const { w, b } = problem();
      const opt = makeOptimizer(run, w, b);
      run.steps.forEach((s, k) => {
        opt.zeroGrad();
        w.grad = tensor(Float32Array.from(s.grads.w), { shape: w.shape });
        b.grad = tensor(Float32Array.from(s.grads.b));
        opt.step();
        expectClose(w, s.w, `${run.name} step ${k} w`);
        expectClose(b, s.b, `${run.name} step ${k} b`);
      });
    });
  }

  it('reports the max relative error', () => {
    console.log(`optimizers: max relative error vs PyTorch = ${maxRelErr.toExponential(2)}`);
    expect(maxRelErr).toBeLessThan(1e-5);
  });
});

describe('gradient clipping matches PyTorch', () => {
  for (const c of fx.clip.norm) {
    it(`clipGradNorm(maxNorm ${c.maxNorm}, normType ${c.normType})`, () => {
      const p1 = tensor(new Float32Array(12), { shape: [3, 4] });
      const p2 = tensor(new Float32Array(5));
      p1.grad = t(fx.clip.g1);
      p2.grad = t(fx.clip.g2);
      const total = clipGradNorm([p1, p2], c.maxNorm, c.normType);
      expectClose(total, [c.total], 'total norm');
      expectClose(p1.grad, c.g1, 'g1');
      expectClose(p2.grad, c.g2, 'g2');
    });
  }

  it('clipGradValue clamps each element', () => {
    const p = tensor(new Float32Array(12), { shape: [3, 4] });
    p.grad = t(fx.clip.g1);
    clipGradValue([['p', p]], fx.clip.value.clip);
    expectClose(p.grad, fx.clip.value.g1, 'clipped');
  });

  it('skips parameters without gradients, validates, reports non-finite norms, and leaks nothing', async () => {
    const p = tensor([3, 4]);
    const q = tensor([1]);
    p.grad = tensor([3, 4]);
    const total = await checkLeaks(() => clipGradNorm({ namedParameters: () => [['p', p], ['q', q]] }, 1));
    expect(total.dataSync()[0]).toBe(5);
    expectClose(p.grad, [0.6, 0.8], 'p.grad');
    expect(q.grad).toBeNull();
    expect(clipGradNorm([q], 1).dataSync()[0]).toBe(0);
    expect(() => clipGradNorm([p], 1, 0)).toThrow(/normType must be a positive number or 'inf'/);
    expect(() => clipGradValue([p], -1)).toThrow(/clipValue must be a number >= 0/);
    p.grad = tensor([Infinity, 1]);
    expect(() => clipGradNorm([p], 1, 2, { errorIfNonfinite: true })).toThrow(/total norm of order 2 .* is Infinity/);
  });
});

describe('optimizer behaviour', () => {
  const trainSteps = (opt: AnyOptimizer, d: ReturnType<typeof problem>, n: number) => {
    for (let i = 0; i < n; i++) {
      opt.zeroGrad();
      const loss = lossOf(d.x, d.y, d.w, d.b);
      loss.backward();
      loss.dispose();
      opt.step();
    }
  };

  for (const kind of ['sgd_momentum_dampening_wd', 'adam_amsgrad', 'adamw_decay_mask']) {
    it(`${kind}: a training step leaks no tensors or buffers`, async () => {
      const run = fx.runs.find((r) => r.name === kind) as Run;
      const d = problem();
      const opt = makeOptimizer(run, d.w, d.b);
      trainSteps(opt, d, 2); // creates the state (AMSGrad's max buffer is its own tensor from step 2)
      await checkLeaks(() => trainSteps(opt, d, 3));
      // also when the step runs inside the user's own tidy: state must survive the scope
      tidy(() => trainSteps(opt, d, 1));
      const state = opt.stateDict().state[0];
      for (const v of Object.values(state)) if (typeof v !== 'number') expect(v.isDisposed).toBe(false);
      opt.zeroGrad();
      await checkLeaks(() => opt.dispose());
    });
  }

  it('stateDict is PyTorch-shaped; loadStateDict copies and resumes bit-exactly', () => {
    const run = fx.runs.find((r) => r.name === 'adam_amsgrad') as Run;
    const a = problem();
    const optA = makeOptimizer(run, a.w, a.b);
    trainSteps(optA, a, 3);
    const sd = optA.stateDict();
    expect(sd.paramGroups).toEqual([{ lr: 0.05, betas: [0.5, 0.9], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, params: [0, 1], names: ['w', 'b'] }]);
    expect(Object.keys(sd.state)).toEqual(['0', '1']);
    expect(sd.state[0].step).toBe(3);
    expect(Object.keys(sd.state[1]).sort()).toEqual(['expAvg', 'expAvgSq', 'maxExpAvgSq', 'step']);

    const bW = a.w.detach().clone().requiresGrad_();
    const bB = a.b.detach().clone().requiresGrad_();
    const b = { ...problem(), w: bW, b: bB };
    const optB = makeOptimizer({ ...run, options: { lr: 1 } }, bW, bB);
    optB.loadStateDict(sd);
    expect(optB.paramGroups[0].lr).toBe(0.05);
    trainSteps(optA, a, 3);
    optA.dispose(); // B owns copies
    trainSteps(optB, b, 3);
    expect(Array.from(bW.dataSync())).toEqual(Array.from(a.w.dataSync()));
    expect(Array.from(bB.dataSync())).toEqual(Array.from(a.b.dataSync()));
  });

  it('AMSGrad keeps its running maximum in a tensor of its own from the first step (as PyTorch)', () => {
    const run = fx.runs.find((r) => r.name === 'adam_amsgrad') as Run;
    const a = problem();
    const opt = makeOptimizer(run, a.w, a.b);
    trainSteps(opt, a, 1);
    const st = opt.stateDict().state[0];
    expect(st.maxExpAvgSq).not.toBe(st.expAvgSq);
    expect(Array.from((st.maxExpAvgSq as Tensor).dataSync())).toEqual(Array.from((st.expAvgSq as Tensor).dataSync()));
    opt.dispose();
  });

  it('weight decay masks and param groups', () => {
    const w = tensor([[1, 2]], { requiresGrad: true });
    const bias = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([['layer.weight', w], ['layer.bias', bias]], { lr: 0.5, weightDecay: 0.1, weightDecayFilter: excludeFromDecay(['bias']) });
    expect(opt.paramGroups[0].decay).toEqual([true, false]);
    w.grad = tensor([[0, 0]]);
    bias.grad = tensor([0, 0]);
    opt.step();
    expectClose(w, [1 - 0.5 * 0.1, 2 - 0.5 * 0.2], 'decayed w');
    expect(Array.from(bias.dataSync())).toEqual([1, 2]);
    const groups = new Adam([{ params: [w] }, { params: [bias], lr: 0.5 }], { lr: 0.1 });
    expect(groups.paramGroups.map((g) => [g.lr, g.names])).toEqual([[0.1, ['0']], [0.5, ['1']]]);
    expect(decayMatricesOnly('x', w)).toBe(true);
    expect(decayMatricesOnly('x', bias)).toBe(false);
  });

  it('zeroGrad unsets or zero-fills gradients', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const opt = new SGD([w], { lr: 1 });
    w.grad = tensor([3, NaN]);
    opt.zeroGrad(false);
    expect(Array.from((w.grad as Tensor).dataSync())).toEqual([0, 0]);
    const g = w.grad as Tensor;
    opt.zeroGrad();
    expect(w.grad).toBeNull();
    expect(g.isDisposed).toBe(true);
    opt.step(); // no gradient: nothing happens
    expect(Array.from(w.dataSync())).toEqual([1, 2]);
  });

  it('rejects bad parameters, hyperparameters and state dicts', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(() => new SGD([w], { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum needs momentum > 0/);
    expect(() => new SGD([w], { lr: -1 })).toThrow(/invalid lr -1/);
    expect(() => new Adam([w], { betas: [0.9, 1] })).toThrow(/invalid betas\[1\] 1/);
    expect(() => new AdamW([w, w])).toThrow(/appears more than once/);
    expect(() => new SGD([w.mul(2)], { lr: 0.1 })).toThrow(/is not a leaf tensor/);
    expect(() => new SGD([tensor([1], { dtype: 'int32' })], { lr: 0.1 })).toThrow(/only float32 tensors can be optimized/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(HeedError);
    const opt = new Adam([w]);
    const other = new Adam([w, tensor([1])]);
    expect(() => opt.loadStateDict(other.stateDict())).toThrow(/param group 0 has 2 parameters in the dict but 1 here/);
    const sd = opt.stateDict();
    expect(() => opt.loadStateDict({ ...sd, paramGroups: [{ ...sd.paramGroups[0], momentum: 0.9 }] })).toThrow(/unknown hyperparameter 'momentum'/);
    expect(() => opt.loadStateDict({ ...sd, state: { 0: { step: 1, expAvg: tensor([1, 2, 3]), expAvgSq: tensor([1, 2]) } } }))
      .toThrow(/state 'expAvg' of parameter 0 has shape \[3\] but the parameter is \[2\]/);
    expect(() => opt.loadStateDict({ ...sd, state: { 5: { step: 1 } } })).toThrow(/index '5' is out of range/);
  });
});
