// SPDX-License-Identifier: MIT
// Convolution and pooling layers against PyTorch 1.13 fixtures (packages/nn/fixtures/conv.json,
// from scripts/fixtures/gen_conv_nn_fixtures.py): Conv1d, Conv2d (stride, padding incl. 'same'
// with an even kernel and 'valid', dilation, groups, padding modes), ConvTranspose2d, MaxPool,
// AvgPool, AdaptiveAvgPool2d and Flatten: state-dict keys, outputs and gradients for the
// input and every parameter. Plus PyTorch's default init bounds, unbatched inputs, argument
// errors and memory hygiene.
import { describe, expect, it } from 'vitest';
import { Generator, HeedError, checkLeaks, ones, randn, registerBackend, setBackend, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, Flatten, MaxPool2d } from '../src/index.js';
import { buildLayer, convFixture, loadState } from './conv-fixtures.js';
import { FixtureChecker, toTensor } from './fixture-tensors.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const checker = new FixtureChecker();
const { expectClose } = checker;

describe('conv and pooling layers match PyTorch 1.13', () => {
  for (const c of [...convFixture.conv, ...convFixture.pool]) {
    it(c.name, async () => {
      const m = buildLayer(c);
      expect([...m.stateDict().keys()]).toEqual(c.keys);
      loadState(m, c.state);
      const x = toTensor(c.inputs.x, true);
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
      m.dispose();
      x.dispose();
    });
  }

  it('reports the max error', () => {
    console.log(`conv/pool layers: max abs error ${checker.maxAbs.toExponential(2)}`);
    expect(checker.maxAbs).toBeLessThan(1e-5);
  });
});

describe('conv layers: init, shapes, errors', () => {
  function bounds(t: Tensor): { maxAbs: number; std: number } {
    const v = Array.from(t.dataSync());
    const mean = v.reduce((s, a) => s + a, 0) / v.length;
    return { maxAbs: Math.max(...v.map(Math.abs)), std: Math.sqrt(v.reduce((s, a) => s + (a - mean) ** 2, 0) / v.length) };
  }

  it('initialises like PyTorch: weight and bias U(±1/sqrt(fanIn)), seeded', () => {
    // fanIn = in/groups * prod(kernel): Conv2d(16, 64, 3, groups 2) -> 8 * 9 = 72.
    const conv = new Conv2d(16, 64, 3, { groups: 2, generator: new Generator(1) });
    expect(conv.weight.shape).toEqual([64, 8, 3, 3]);
    const b = 1 / Math.sqrt(72);
    const w = bounds(conv.weight);
    expect(w.maxAbs).toBeLessThanOrEqual(b);
    expect(w.maxAbs).toBeGreaterThan(0.99 * b);
    expect(w.std).toBeCloseTo(b / Math.sqrt(3), 3);
    expect(bounds(conv.bias!).maxAbs).toBeLessThanOrEqual(b);
    const again = new Conv2d(16, 64, 3, { groups: 2, generator: new Generator(1) });
    expect(Array.from(again.weight.dataSync())).toEqual(Array.from(conv.weight.dataSync()));
    // Transposed: weight [in, out/groups, k...], fanIn = out/groups * prod(kernel) = 4 * 4.
    const up = new ConvTranspose2d(6, 8, 2, { groups: 2, generator: new Generator(2) });
    expect(up.weight.shape).toEqual([6, 4, 2, 2]);
    expect(bounds(up.weight).maxAbs).toBeLessThanOrEqual(0.25);
    expect(bounds(up.weight).maxAbs).toBeGreaterThan(0.2);
    expect(bounds(up.bias!).maxAbs).toBeLessThanOrEqual(0.25);
    const c1 = new Conv1d(3, 5, 4, { bias: false });
    expect([c1.weight.shape, c1.bias]).toEqual([[5, 3, 4], null]);
    for (const m of [conv, again, up, c1]) m.dispose();
  });

  it('accepts unbatched inputs and computes the documented shapes', () => {
    const conv = new Conv2d(3, 4, 3, { padding: 1, paddingMode: 'reflect' });
    const x = randn([2, 3, 5, 6]);
    const y = conv.forward(x);
    const one = x.select(0, 1);
    const yOne = conv.forward(one);
    expect(y.shape).toEqual([2, 4, 5, 6]);
    expect(yOne.shape).toEqual([4, 5, 6]);
    const ref = y.select(0, 1);
    Array.from(yOne.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(ref.dataSync()[i], 5));
    const up = new ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 });
    const z = up.forward(y);
    expect(z.shape).toEqual([2, 2, 10, 12]);
    const c1 = new Conv1d(3, 2, 3, { stride: 2 });
    const w = c1.forward(randn([3, 9]));
    expect(w.shape).toEqual([2, 4]);
    expect(new Flatten().forward(z).shape).toEqual([2, 240]);
    for (const t of [x, y, one, yOne, ref, z, w]) t.dispose();
    for (const m of [conv, up, c1]) m.dispose();
  });

  it('rejects bad arguments when built and bad inputs when run, naming the layer', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => new Conv2d(0, 4, 3), /Conv2d: inChannels must be a positive integer, got 0/],
      [() => new Conv2d(3, 4, 3, { groups: 2 }), /Conv2d: inChannels \(3\) and outChannels \(4\) must be divisible by groups \(2\)/],
      [() => new Conv2d(3, 4, [3, 3, 3]), /Conv2d: kernelSize must be an integer or an array of 2 integers/],
      [() => new Conv2d(3, 4, 3, { stride: 0 }), /Conv2d: stride must be an integer >= 1, got 0/],
      [() => new Conv1d(3, 4, 3, { padding: 'same', stride: 2 }), /Conv1d: padding 'same' needs stride 1/],
      [() => new Conv2d(3, 4, 3, { paddingMode: 'mirror' as never }), /Conv2d: paddingMode must be one of zeros, reflect, replicate, circular, got 'mirror'/],
      [() => new Conv2d(3, 4, 3, { padding_mode: 'zeros' } as never), /Conv2d: unknown option 'padding_mode'/],
      [() => new ConvTranspose2d(4, 4, 3, { stride: 2, outputPadding: 2 }), /ConvTranspose2d: outputPadding\[0\] \(2\) must be smaller than stride \(2\) or dilation \(1\)/],
      [() => new MaxPool2d(0), /MaxPool2d: kernelSize must be an integer >= 1, got 0/],
      [() => new AvgPool2d(2, { count_include_pad: false } as never), /AvgPool2d: unknown option 'count_include_pad'/],
      [() => new AdaptiveAvgPool2d([2]), /AdaptiveAvgPool2d: outputSize must be an integer or \[h, w\]/],
    ];
    for (const [fn, re] of bad) {
      expect(fn).toThrow(HeedError);
      expect(fn).toThrow(re);
    }
    const conv = new Conv2d(3, 4, 3, { padding: 2, paddingMode: 'reflect' });
    const wrong = ones([2, 5, 8, 8]);
    const small = ones([1, 3, 2, 8]);
    expect(() => conv.forward(wrong)).toThrow(/Conv2d: expects input \[N, 3, H, W\] or unbatched \[3, \.\.\.\], got \[2, 5, 8, 8\]/);
    expect(() => conv.forward(small)).toThrow(/Conv2d: reflect padding of \[2, 2\] needs an input of size > 2 on axis 2, got \[1, 3, 2, 8\]/);
    for (const t of [wrong, small]) t.dispose();
    conv.dispose();
  });

  it('prints PyTorch-like summaries', () => {
    expect(String(new Conv2d(1, 8, 3, { padding: 1, bias: false }))).toBe('Conv2d(1, 8, kernelSize=[3, 3], stride=[1, 1], padding=[1, 1], bias=false)');
    expect(String(new MaxPool2d(2))).toBe('MaxPool2d(kernelSize=2)');
    expect(String(new AvgPool1d([3], { stride: 2, countIncludePad: false }))).toBe('AvgPool1d(kernelSize=[3], stride=2, countIncludePad=false)');
    expect(String(new Flatten())).toBe('Flatten(startDim=1, endDim=-1)');
  });
});
