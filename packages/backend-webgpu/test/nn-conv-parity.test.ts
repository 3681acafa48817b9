// SPDX-License-Identifier: MIT
// @heed/nn's conv, pooling and per-channel normalisation layers on WebGPU against the PyTorch
// 1.13 fixtures of packages/nn (fixtures/conv.json): outputs and gradients for the input and
// every parameter, and BatchNorm's running statistics over training and eval steps, read back
// asynchronously, to 1e-5 abs + 1e-5 relative. Then a short CNN training check on the synthetic
// digit glyphs (kept short: SwiftShader runs a step in seconds): 6 Adam steps on one batch give
// the same losses as on the CPU backend (same init) and the loss falls.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Generator, registerBackend, setBackend, tensor, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  Adam, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvTranspose2d, Flatten, GroupNorm, Linear,
  MaxPool1d, MaxPool2d, ReLU, Sequential, crossEntropy, type BatchNormOptions, type ConvOptions, type ConvTransposeOptions, type Module,
} from '@heed/nn';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { GLYPH_SIZE, makeGlyphs } from '../../nn/test/glyphs.js';
import { device } from './gpu.js';

type Num = number | string | boolean;
interface Enc { shape: number[]; dtype: 'float32' | 'bool' | 'int32'; data: Num[] }
interface Case {
  name: string;
  layer: string;
  config: Record<string, unknown>;
  state: Record<string, Enc>;
  inputs: { x: Enc };
  upstream: Enc;
  output: Enc;
  inputGrads: { x: Enc };
  paramGrads: Record<string, Enc>;
}
interface Step { mode: 'train' | 'eval'; input: Enc; upstream: Enc; output: Enc; inputGrad: Enc; paramGrads: Record<string, Enc>; stateAfter: Record<string, Enc> }
interface BatchNormCase { name: string; layer: string; config: BatchNormOptions & { numFeatures: number }; state: Record<string, Enc>; steps: Step[] }

const fixture = JSON.parse(readFileSync(new URL('../../nn/fixtures/conv.json', import.meta.url), 'utf8')) as {
  conv: Case[]; pool: Case[]; norm: Case[]; batchnorm: BatchNormCase[];
};

function toTensor(e: Enc, requiresGrad = false): Tensor {
  const values = e.data.map((v) => Number(v));
  const data = e.dtype === 'bool' ? Uint8Array.from(values) : e.dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  return tensor(data, { shape: e.shape, dtype: e.dtype, requiresGrad });
}

let worst = 0;
async function expectClose(t: Tensor | null | undefined, e: Enc, label: string): Promise<void> {
  expect(t, `${label} missing`).toBeTruthy();
  expect([...(t as Tensor).shape], `${label} shape`).toEqual(e.shape);
  const got = await (t as Tensor).data();
  e.data.forEach((w, i) => {
    const want = Number(w);
    const err = Math.abs(got[i] - want);
    worst = Math.max(worst, err);
    if (!(err <= 1e-5 + 1e-5 * Math.abs(want))) expect.fail(`${label}[${i}]: got ${got[i]}, want ${want} (err ${err})`);
  });
}

type Layer = Module & { forward(x: Tensor): Tensor };
function build(c: Pick<Case, 'layer' | 'config'>): Layer {
  const { in: inC, out: outC, kernelSize, outputSize, startDim, endDim, numGroups, numChannels, ...rest } = c.config as {
    in: number; out: number; kernelSize: number | number[]; outputSize: number | (number | null)[]; startDim?: number; endDim?: number;
    numGroups: number; numChannels: number;
  };
  switch (c.layer) {
    case 'Conv1d': return new Conv1d(inC, outC, kernelSize, rest as ConvOptions);
    case 'Conv2d': return new Conv2d(inC, outC, kernelSize, rest as ConvOptions);
    case 'ConvTranspose2d': return new ConvTranspose2d(inC, outC, kernelSize, rest as ConvTransposeOptions);
    case 'MaxPool1d': return new MaxPool1d(kernelSize, rest);
    case 'MaxPool2d': return new MaxPool2d(kernelSize, rest);
    case 'AvgPool1d': return new AvgPool1d(kernelSize, rest);
    case 'AvgPool2d': return new AvgPool2d(kernelSize, rest);
    case 'AdaptiveAvgPool2d': return new AdaptiveAvgPool2d(outputSize);
    case 'Flatten': return new Flatten(startDim, endDim);
    case 'GroupNorm': return new GroupNorm(numGroups, numChannels, rest);
    default: throw new Error(`unknown layer ${c.layer}`);
  }
}

function loadState(m: Module, state: Record<string, Enc>): void {
  const dict = new Map(Object.entries(state).map(([k, e]) => [k, toTensor(e)]));
  m.loadStateDict(dict);
  for (const t of dict.values()) t.dispose();
}

async function useWebGPU(): Promise<void> {
  registerBackend({ name: 'webgpu-conv', priority: 0, async: true, create: () => new WebGPUBackend(device!, {}, 'webgpu-conv') });
  await setBackend('webgpu-conv');
}

describe.skipIf(!device)('@heed/nn conv, pooling and norm layers on WebGPU match PyTorch 1.13', () => {
  for (const c of [...fixture.conv, ...fixture.pool, ...fixture.norm]) {
    it(c.name, async () => {
      await useWebGPU();
      const m = build(c);
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

  for (const c of fixture.batchnorm) {
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
    console.log(`nn conv/pool/norm on WebGPU: max abs error vs PyTorch ${worst.toExponential(2)}`);
    expect(worst).toBeGreaterThan(0);
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
