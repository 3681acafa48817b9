// SPDX-License-Identifier: MIT
// BatchNorm1d/2d and GroupNorm against PyTorch 1.13 fixtures (packages/nn/fixtures/conv.json,
// from scripts/fixtures/gen_conv_nn_fixtures.py): state-dict keys, outputs and gradients,
// the running statistics after each of several training steps and in eval mode (momentum,
// cumulative average, no affine, no running statistics); plus input and option errors that
// leave the running statistics untouched, and memory hygiene.
import { describe, expect, it } from 'vitest';
import { HeedError, checkLeaks, ones, randn, registerBackend, setBackend, tensor, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { BatchNorm1d, BatchNorm2d, GroupNorm, type BatchNormOptions } from '../src/index.js';
import { convFixture, loadState } from './conv-fixtures.js';
import { FixtureChecker, toTensor } from './fixture-tensors.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const checker = new FixtureChecker();
const { expectClose } = checker;

describe('BatchNorm matches PyTorch 1.13 over training and eval steps', () => {
  for (const c of convFixture.batchnorm) {
    it(c.name, async () => {
      const { numFeatures, ...options } = c.config;
      const m = c.layer === 'BatchNorm1d' ? new BatchNorm1d(numFeatures, options) : new BatchNorm2d(numFeatures, options);
      expect([...m.stateDict().keys()]).toEqual(c.keys);
      loadState(m, c.state);
      for (const [i, step] of c.steps.entries()) {
        m.train(step.mode === 'train');
        const x = toTensor(step.input, true);
        await checkLeaks(() => {
          tidy(() => {
            const out = m.forward(x);
            expectClose(out, step.output, `${c.name} step ${i} output`);
            out.mul(toTensor(step.upstream)).sum().backward();
          });
          return [x, ...m.parameters()].map((t) => t.grad);
        });
        expectClose(x.grad, step.inputGrad, `${c.name} step ${i} grad x`);
        for (const [k, p] of m.namedParameters()) expectClose(p.grad, step.paramGrads[k], `${c.name} step ${i} grad ${k}`);
        const state = m.stateDict();
        for (const [k, e] of Object.entries(step.stateAfter)) expectClose(state.get(k) ?? null, e, `${c.name} step ${i} ${k}`);
        m.zeroGrad();
        x.dispose();
      }
      m.dispose();
    });
  }

  it('normalises with batch statistics in eval mode when running statistics are off', () => {
    const m = new BatchNorm1d(2, { trackRunningStats: false, affine: false }).eval();
    expect(m.runningMean).toBeNull();
    const y = m.forward(tensor([[1, 10], [3, 30]]));
    // (x - mean) / sqrt(biased var + eps): ±1 / sqrt(1 + 1e-5) and ±10 / sqrt(100 + 1e-5).
    expect(Array.from(y.dataSync()).map((v) => Number(v.toFixed(4)))).toEqual([-1, -1, 1, 1]);
    y.dispose();
    m.dispose();
  });
});

describe('BatchNorm rejects bad input without touching its statistics', () => {
  it('names the layer, the shape and the fix', () => {
    const bn = new BatchNorm2d(3);
    const cases: [Tensor, RegExp][] = [
      [ones([2, 3, 4]), /BatchNorm2d: expects a 4D input \[N, 3, \.\.\.\], got 3D \[2, 3, 4\]/],
      [ones([2, 4, 2, 2]), /BatchNorm2d: expects 3 channels on axis 1, got \[2, 4, 2, 2\]/],
      [ones([1, 3, 1, 1]), /more than 1 value per channel when normalising with batch statistics, got \[1, 3, 1, 1\].*eval\(\)/],
      [ones([2, 3, 2, 2], { dtype: 'int32' }), /float32 input, got int32/],
    ];
    for (const [x, re] of cases) {
      expect(() => bn.forward(x)).toThrow(HeedError);
      expect(() => bn.forward(x)).toThrow(re);
      x.dispose();
    }
    expect(bn.numBatchesTracked!.dataSync()[0]).toBe(0);
    expect(Array.from(bn.runningMean!.dataSync())).toEqual([0, 0, 0]);
    expect(Array.from(bn.runningVar!.dataSync())).toEqual([1, 1, 1]);
    // One value per channel is fine in eval mode (running statistics).
    const one = ones([1, 3, 1, 1]);
    const y = bn.eval().forward(one);
    expect(y.dataSync()[0]).toBeCloseTo(1 / Math.sqrt(1 + 1e-5), 6);
    for (const t of [one, y]) t.dispose();
    expect(() => new BatchNorm1d(4).forward(ones([2, 4, 3, 3]))).toThrow(/BatchNorm1d: expects a 2D or 3D input/);
    // Without running statistics eval mode normalises with the batch too, so it needs > 1 value (like PyTorch).
    const noStats = new BatchNorm1d(3, { trackRunningStats: false }).eval();
    const single = ones([1, 3]);
    expect(() => noStats.forward(single)).toThrow(/BatchNorm1d: expects more than 1 value per channel when normalising with batch statistics, got \[1, 3\]/);
    single.dispose();
    noStats.dispose();
    bn.dispose();
  });

  it('validates the options', () => {
    expect(() => new BatchNorm1d(0)).toThrow(/BatchNorm1d: numFeatures must be a positive integer, got 0/);
    expect(() => new BatchNorm2d(2, { momentum: 1.5 })).toThrow(/BatchNorm2d: momentum must be in \[0, 1\], got 1.5/);
    expect(() => new BatchNorm2d(2, { eps: -1 })).toThrow(/eps must be >= 0/);
    expect(() => new BatchNorm2d(2, { track_running_stats: false } as BatchNormOptions)).toThrow(/unknown option 'track_running_stats'.*trackRunningStats/);
    expect(() => new GroupNorm(4, 6)).toThrow(/GroupNorm: numChannels \(6\) must be divisible by numGroups \(4\)/);
    expect(() => new GroupNorm(2, 4, { affine: 1 } as never)).toThrow(/affine must be true or false/);
  });

  it('has PyTorch defaults and a readable summary', () => {
    const bn = new BatchNorm2d(2);
    expect([bn.eps, bn.momentum, bn.affine, bn.trackRunningStats]).toEqual([1e-5, 0.1, true, true]);
    expect(bn.numBatchesTracked!.dtype).toBe('int32');
    expect(String(bn)).toBe('BatchNorm2d(2, eps=0.00001, momentum=0.1, affine=true, trackRunningStats=true)');
    expect(bn.parameters().length).toBe(2);
    expect(bn.buffers().length).toBe(3);
    bn.dispose();
  });

  it('clones running statistics independently', () => {
    const bn = new BatchNorm1d(2);
    const x = randn([8, 2]);
    bn.forward(x).dispose();
    const copy = bn.clone();
    expect(Array.from(copy.runningMean!.dataSync())).toEqual(Array.from(bn.runningMean!.dataSync()));
    copy.forward(x).dispose();
    expect(copy.numBatchesTracked!.dataSync()[0]).toBe(2);
    expect(bn.numBatchesTracked!.dataSync()[0]).toBe(1);
    for (const t of [x]) t.dispose();
    bn.dispose();
    copy.dispose();
  });
});

describe('GroupNorm matches PyTorch 1.13', () => {
  for (const c of convFixture.norm) {
    it(c.name, async () => {
      const { numGroups, numChannels, ...options } = c.config as { numGroups: number; numChannels: number; eps?: number; affine?: boolean };
      const m = new GroupNorm(numGroups, numChannels, options);
      expect([...m.stateDict().keys()]).toEqual(c.keys);
      loadState(m, c.state);
      const x = toTensor(c.inputs.x, true);
      for (const mode of [true, false]) {
        m.train(mode);
        await checkLeaks(() => {
          tidy(() => {
            const out = m.forward(x);
            expectClose(out, c.output, `${c.name} output`);
            out.mul(toTensor(c.upstream)).sum().backward();
          });
          return [x, ...m.parameters()].map((t) => t.grad);
        });
        expectClose(x.grad, c.inputGrads.x, `${c.name} grad x`);
        for (const [k, p] of m.namedParameters()) expectClose(p.grad, c.paramGrads[k], `${c.name} grad ${k}`);
        m.zeroGrad();
        x.grad?.dispose();
        x.grad = null;
      }
      expect(() => m.forward(ones([2, numChannels + 1, 3]))).toThrow(new RegExp(`GroupNorm: expects input \\[N, ${numChannels}, \\.\\.\\.\\]`));
      m.dispose();
      x.dispose();
    });
  }

  it('reports the max error', () => {
    console.log(`batchnorm/groupnorm: max abs error ${checker.maxAbs.toExponential(2)}`);
    expect(checker.maxAbs).toBeLessThan(1e-5);
  });
});
