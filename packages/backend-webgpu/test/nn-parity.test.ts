// SPDX-License-Identifier: MIT
// @heed/nn on WebGPU against the PyTorch 1.13 fixtures of packages/nn (encoder/decoder layers,
// post/pre-norm, relu/gelu, masks, and the 2+2-layer nn.Transformer): outputs and gradients
// w.r.t. inputs and every parameter, read back asynchronously, to 1e-5 abs + 1e-5 relative.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend, tensor, tidy, type Tensor } from '@heed/core';
import { Transformer, TransformerDecoderLayer, TransformerEncoderLayer, type Module } from '@heed/nn';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device } from './gpu.js';

type Num = number | string | boolean;
interface Enc { shape: number[]; dtype: 'float32' | 'bool' | 'int32'; data: Num[] }
interface Case {
  name: string;
  kind?: 'encoder' | 'decoder';
  config: { dModel: number; nhead: number; dimFeedforward: number; activation: 'relu' | 'gelu'; batchFirst: boolean; normFirst: boolean };
  state: Record<string, Enc>;
  inputs: Record<string, Enc>;
  masks: Record<string, Enc>;
  upstream: Enc;
  output: Enc;
  inputGrads: Record<string, Enc>;
  paramGrads: Record<string, Enc>;
}

const fixture = JSON.parse(readFileSync(new URL('../../nn/fixtures/transformer.json', import.meta.url), 'utf8')) as { layers: Case[]; models: Case[] };

function toTensor(e: Enc, requiresGrad = false): Tensor {
  const values = e.data.map((v) => Number(v));
  const data = e.dtype === 'bool' ? Uint8Array.from(values) : e.dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  return tensor(data, { shape: e.shape, dtype: e.dtype, requiresGrad });
}

async function expectClose(t: Tensor | null, e: Enc, label: string): Promise<number> {
  expect(t, `${label} missing`).not.toBeNull();
  expect([...(t as Tensor).shape], `${label} shape`).toEqual(e.shape);
  const got = await (t as Tensor).data();
  let worst = 0;
  e.data.forEach((w, i) => {
    const want = Number(w);
    const err = Math.abs(got[i] - want);
    worst = Math.max(worst, err);
    if (!(err <= 1e-5 + 1e-5 * Math.abs(want))) expect.fail(`${label}[${i}]: got ${got[i]}, want ${want} (err ${err})`);
  });
  return worst;
}

function build(c: Case): { m: Module; run: (x: Record<string, Tensor>, k: Record<string, Tensor>) => Tensor } {
  const { dModel, nhead, dimFeedforward, activation, batchFirst, normFirst } = c.config;
  const options = { dimFeedforward, activation, batchFirst, normFirst, dropout: 0 };
  if (c.kind === 'encoder') {
    const m = new TransformerEncoderLayer(dModel, nhead, options);
    return { m, run: (x, k) => m.forward(x.src, { srcMask: k.srcMask, srcKeyPaddingMask: k.srcKeyPaddingMask }) };
  }
  if (c.kind === 'decoder') {
    const m = new TransformerDecoderLayer(dModel, nhead, options);
    return { m, run: (x, k) => m.forward(x.tgt, x.memory, { tgtMask: k.tgtMask, memoryKeyPaddingMask: k.memoryKeyPaddingMask }) };
  }
  const m = new Transformer({ dModel, nhead, numEncoderLayers: 2, numDecoderLayers: 2, ...options });
  return { m, run: (x, k) => m.forward(x.src, x.tgt, k) };
}

describe.skipIf(!device)('@heed/nn on WebGPU matches PyTorch 1.13', () => {
  let worst = 0;
  for (const c of [...fixture.layers, ...fixture.models]) {
    it(c.name, async () => {
      registerBackend({ name: 'webgpu-nn', priority: 0, async: true, create: () => new WebGPUBackend(device!, {}, 'webgpu-nn') });
      await setBackend('webgpu-nn');
      const { m, run } = build(c);
      const dict = new Map(Object.entries(c.state).map(([k, e]) => [k, toTensor(e)]));
      m.loadStateDict(dict);
      for (const t of dict.values()) t.dispose();
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, e]) => [k, toTensor(e, true)]));
      const masks = Object.fromEntries(Object.entries(c.masks).map(([k, e]) => [k, toTensor(e)]));
      const out = run(inputs, masks);
      worst = Math.max(worst, await expectClose(out, c.output, `${c.name} output`));
      tidy(() => out.mul(toTensor(c.upstream)).sum().backward());
      for (const [name, e] of Object.entries(c.inputGrads)) worst = Math.max(worst, await expectClose(inputs[name].grad, e, `${c.name} grad ${name}`));
      for (const [name, p] of m.namedParameters()) worst = Math.max(worst, await expectClose(p.grad, c.paramGrads[name], `${c.name} grad ${name}`));
      m.dispose();
      for (const t of [out, ...Object.values(inputs), ...Object.values(masks)]) t.dispose();
    });
  }
  it('reports the max abs error', () => {
    console.log(`nn on WebGPU: max abs error vs PyTorch ${worst.toExponential(2)}`);
    expect(worst).toBeGreaterThan(0);
  });
});
