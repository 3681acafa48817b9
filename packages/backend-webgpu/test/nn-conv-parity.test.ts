// SPDX-License-Identifier: MIT
// @heed/nn's conv, pooling and per-channel normalisation layers on WebGPU against the PyTorch
// 1.13 fixtures of packages/nn (fixtures/conv.json): outputs and gradients for the input and
// every parameter, and BatchNorm's running statistics over training and eval steps, read back
// asynchronously, to 1e-5 abs + 1e-5 relative. Then a short CNN training check on the synthetic
// digit glyphs (kept short: SwiftShader runs a step in seconds): 6 Adam steps on one batch give
// the same losses as on the CPU backend (same init) and the loss falls.
import { describe, expect, it } from 'vitest';
import { Generator, registerBackend, setBackend, tensor, tidy } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Adam, BatchNorm1d, BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, crossEntropy } from '@heed/nn';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { buildLayer, convFixture, loadState } from '../../nn/test/conv-fixtures.js';
import { FixtureChecker, toTensor } from '../../nn/test/fixture-tensors.js';
import { GLYPH_SIZE, makeGlyphs } from '../../nn/test/glyphs.js';
import { device } from './gpu.js';

const checker = new FixtureChecker();
const expectClose = checker.expectCloseRead;

async function useWebGPU(): Promise<void> {
  registerBackend({ name: 'webgpu-conv', priority: 0, async: true, create: () => new WebGPUBackend(device!, {}, 'webgpu-conv') });
  await setBackend('webgpu-conv');
}

describe.skipIf(!device)('@heed/nn conv, pooling and norm layers on WebGPU match PyTorch 1.13', () => {
  for (const c of [...convFixture.conv, ...convFixture.pool, ...convFixture.norm]) {
    it(c.name, async () => {
      await useWebGPU();
      const m = buildLayer(c);
      loadState(m, c.state);
      const x = toTensor(c.inputs.x, true);
      const out = m.forward(x);
      await expectClose(out, c.output, `${c.name} output`);
      tidy(() => out.mul(toTensor(c.upstream)).sum().backward());
      await expectClose(x.grad, c.inputGrads.x, `${c.name} grad x`);
      for (const [k, p] of m.namedParameters()) await expectClose(p.grad, c.paramGrads[k], `${c.name} grad ${k}`);
      m.dispose();
      for (const t of [out, x]) t.dispose();
    });
  }

  for (const c of convFixture.batchnorm) {
    it(c.name, async () => {
      await useWebGPU();
      const { numFeatures, ...options } = c.config;
      const m = c.layer === 'BatchNorm1d' ? new BatchNorm1d(numFeatures, options) : new BatchNorm2d(numFeatures, options);
      loadState(m, c.state);
      for (const [i, step] of c.steps.entries()) {
        m.train(step.mode === 'train');
        const x = toTensor(step.input, true);
        const out = m.forward(x);
        await expectClose(out, step.output, `${c.name} step ${i} output`);
        tidy(() => out.mul(toTensor(step.upstream)).sum().backward());
        await expectClose(x.grad, step.inputGrad, `${c.name} step ${i} grad x`);
        for (const [k, p] of m.namedParameters()) await expectClose(p.grad, step.paramGrads[k], `${c.name} step ${i} grad ${k}`);
        const state = m.stateDict();
        for (const [k, e] of Object.entries(step.stateAfter)) await expectClose(state.get(k), e, `${c.name} step ${i} ${k}`);
        m.zeroGrad();
        for (const t of [out, x]) t.dispose();
      }
      m.dispose();
    });
  }

  it('reports the max abs error', () => {
    console.log(`nn conv/pool/norm on WebGPU: max abs error vs PyTorch ${checker.maxAbs.toExponential(2)}`);
    expect(checker.maxAbs).toBeGreaterThan(0);
  });
});

describe.skipIf(!device)('a small CNN trains on WebGPU like on the CPU', () => {
  const STEPS = 6;
  async function losses(backend: string, steps: number): Promise<number[]> {
    await setBackend(backend);
    const generator = new Generator(0);
    const model = new Sequential(
      new Conv2d(1, 8, 3, { padding: 1, generator }), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),
      new Conv2d(8, 16, 3, { padding: 1, generator }), new BatchNorm2d(16), new ReLU(), new MaxPool2d(2),
      new Flatten(), new Linear(16 * 4 * 4, 10, { generator }),
    );
    const opt = new Adam(model, { lr: 5e-3 });
    const B = 16;
    const S = GLYPH_SIZE * GLYPH_SIZE;
    const data = makeGlyphs(B, 1); // one fixed batch: the loss must fall within a few steps
    const out: number[] = [];
    for (let step = 0; step < steps; step++) {
      const loss = tidy(() => {
        const x = tensor(data.images, { shape: [B, 1, GLYPH_SIZE, GLYPH_SIZE] });
        const y = tensor(data.labels, { dtype: 'int32' });
        const l = crossEntropy(model.forward(x), y);
        l.backward();
        return l.detach();
      });
      opt.step();
      opt.zeroGrad();
      out.push((await loss.data())[0]);
      loss.dispose();
    }
    model.dispose();
    return out;
  }

  it(`${STEPS} Adam steps on one batch: same losses as the CPU backend, and falling`, async () => {
    registerBackend(cpuBackend);
    await useWebGPU();
    const t0 = performance.now();
    const gpu = await losses('webgpu-conv', STEPS);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = await losses('cpu', STEPS);
    console.log(`cnn on WebGPU: loss ${gpu[0].toFixed(4)} -> ${gpu[STEPS - 1].toFixed(4)} in ${seconds.toFixed(1)} s (CPU ${cpu[0].toFixed(4)} -> ${cpu[STEPS - 1].toFixed(4)})`);
    gpu.forEach((l, i) => expect(Math.abs(l - cpu[i]), `step ${i}: webgpu ${l}, cpu ${cpu[i]}`).toBeLessThan(5e-4 * (1 + i)));
    expect(gpu[STEPS - 1]).toBeLessThan(0.8 * gpu[0]);
  });
});
