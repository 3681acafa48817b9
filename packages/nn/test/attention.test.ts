// SPDX-License-Identifier: MIT
// MultiheadAttention against PyTorch 1.13 fixtures (packages/nn/fixtures/mha.json, from
// scripts/fixtures/gen_nn_fixtures.py): outputs, weights, input and parameter gradients and
// state-dict keys for every mask kind, kdim/vdim, per-head weights, no bias, unbatched input.
// Also: fully masked rows give zeros, isCausal equals the explicit mask, kv-cache decoding
// equals full causal attention (with and without RoPE), static cross-attention caches, RoPE
// against the reference formulas, attention dropout in train/eval, memory hygiene, errors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Generator, HeedError, checkLeaks, concat, noGrad, randn, registerBackend, setBackend, tensor, tidy, type Tensor,
} from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { KVCache, MultiheadAttention, RotaryEmbedding, generateSquareSubsequentMask } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

type Num = number | string | boolean;
interface Enc { shape: number[]; dtype: 'float32' | 'bool' | 'int32'; data: Num[] }
interface MhaCase {
  name: string;
  config: { embedDim: number; numHeads: number; kdim: number; vdim: number; bias: boolean; batchFirst: boolean };
  selfAttention: boolean;
  keys: string[];
  state: Record<string, Enc>;
  inputs: Record<string, Enc>;
  attnMask: Enc | null;
  keyPaddingMask: Enc | null;
  options: { needWeights: boolean; averageAttnWeights: boolean; isCausal: boolean };
  upstream: Enc;
  upstreamWeights: Enc | null;
  output: Enc;
  weights: Enc | null;
  inputGrads: Record<string, Enc>;
  paramGrads: Record<string, Enc>;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/mha.json', import.meta.url), 'utf8')) as { cases: MhaCase[] };
const ATOL = 1e-5;
const RTOL = 1e-5;

function toTensor(e: Enc, requiresGrad = false): Tensor {
  const values = e.data.map((v) => (typeof v === 'string' ? Number(v) : Number(v)));
  const data = e.dtype === 'bool' ? Uint8Array.from(values) : e.dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  return tensor(data, { shape: e.shape, dtype: e.dtype, requiresGrad });
}

const stats = { maxAbs: 0, maxRel: 0, maxScaled: 0 };
/** Asserts |got - want| <= ATOL + RTOL |want| elementwise; tracks the max errors. */
function expectClose(t: Tensor | null, e: Enc, label: string): void {
  expect(t, `${label} missing`).not.toBeNull();
  expect([...(t as Tensor).shape], `${label} shape`).toEqual(e.shape);
  const got = (t as Tensor).dataSync();
  const scale = Math.max(1e-30, ...e.data.map((w) => Math.abs(Number(w))).filter(Number.isFinite));
  e.data.forEach((w, i) => {
    const want = Number(w);
    const err = Math.abs(got[i] - want);
    stats.maxAbs = Math.max(stats.maxAbs, err);
    stats.maxScaled = Math.max(stats.maxScaled, err / scale);
    if (Math.abs(want) > 1e-3) stats.maxRel = Math.max(stats.maxRel, err / Math.abs(want));
    if (!(err <= ATOL + RTOL * Math.abs(want))) expect.fail(`${label}[${i}]: got ${got[i]}, want ${want} (err ${err})`);
  });
}

function buildMha(c: MhaCase): MultiheadAttention {
  const m = new MultiheadAttention(c.config.embedDim, c.config.numHeads, {
    kdim: c.config.kdim, vdim: c.config.vdim, bias: c.config.bias, batchFirst: c.config.batchFirst,
  });
  const dict = new Map(Object.entries(c.state).map(([k, e]) => [k, toTensor(e)]));
  m.loadStateDict(dict);
  for (const t of dict.values()) t.dispose();
  return m;
}

describe('MultiheadAttention matches PyTorch 1.13', () => {
  it('covers the planned cases', () => {
    expect(fixture.cases.map((c) => c.name)).toEqual([
      'no_mask_self', 'no_mask_cross', 'bool_attn_mask', 'additive_mask_2d', 'additive_mask_3d', 'bool_mask_3d', 'key_padding_mask',
      'key_padding_and_attn_mask', 'causal', 'kdim_vdim', 'per_head_weights', 'no_weights', 'no_bias', 'unbatched',
    ]);
  });

  for (const c of fixture.cases) {
    it(c.name, async () => {
      const m = buildMha(c);
      expect([...m.stateDict().keys()]).toEqual(c.keys);
      expect(m.namedParameters().map(([k]) => k)).toEqual(Object.keys(c.paramGrads));
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, e]) => [k, toTensor(e, true)]));
      const [q, k, v] = c.selfAttention ? [inputs.x, inputs.x, inputs.x] : [inputs.query, inputs.key, inputs.value];
      const attnMask = c.attnMask ? toTensor(c.attnMask) : null;
      const keyPaddingMask = c.keyPaddingMask ? toTensor(c.keyPaddingMask) : null;
      // Only the gradients may survive forward + backward inside tidy.
      await checkLeaks(() => {
        tidy(() => {
          const { output, weights } = m.forward(q, k, v, { attnMask, keyPaddingMask, ...c.options });
          expectClose(output, c.output, 'output');
          if (c.weights) expectClose(weights, c.weights, 'weights');
          else expect(weights).toBeNull();
          let loss = output.mul(toTensor(c.upstream)).sum();
          if (c.upstreamWeights && weights) loss = loss.add(weights.mul(toTensor(c.upstreamWeights)).sum());
          loss.backward();
        });
        return [...new Set([q, k, v]), ...m.parameters()].map((t) => t.grad);
      }, `mha ${c.name}`);
      for (const [name, e] of Object.entries(c.inputGrads)) expectClose(inputs[name].grad, e, `grad ${name}`);
      for (const [name, p] of m.namedParameters()) expectClose(p.grad, c.paramGrads[name], `grad ${name}`);
      m.dispose();
      for (const t of [...Object.values(inputs), attnMask, keyPaddingMask]) t?.dispose();
    });
  }

  it('reports the max error', () => {
    console.log(`mha: max abs error ${stats.maxAbs.toExponential(2)}, max rel error (|want| > 1e-3) ${stats.maxRel.toExponential(2)}, ` +
      `max error relative to the tensor's largest value ${stats.maxScaled.toExponential(2)}`);
    expect(stats.maxAbs).toBeLessThan(1e-5);
  });
});

describe('MultiheadAttention semantics', () => {
  it('gives zeros (not NaN) for fully masked rows, with zero gradients there', () => {
    const m = new MultiheadAttention(8, 2, { generator: new Generator(1) });
    const x = randn([3, 1, 8], { generator: new Generator(2) }).requiresGrad_();
    // Row 1 may attend nothing (bool: true = not allowed); additive -inf masks behave the same.
    const boolMask = tensor([[false, true, true], [true, true, true], [false, false, true]]);
    const floatMask = tensor([[0, -Infinity, -Infinity], [-Infinity, -Infinity, -Infinity], [0, 0, -Infinity]]);
    for (const mask of [boolMask, floatMask]) {
      tidy(() => {
        const { output, weights } = m.forward(x, x, x, { attnMask: mask });
        const w = weights!.dataSync();
        expect(Array.from(w.slice(3, 6))).toEqual([0, 0, 0]);
        expect(w[0]).toBeCloseTo(1, 6);
        const out = output.dataSync();
        const bias = m.outProj.bias!.dataSync();
        // The masked row's attention output is zero, so the layer outputs out_proj's bias there.
        for (let j = 0; j < 8; j++) expect(out[8 + j]).toBeCloseTo(bias[j], 6);
        expect(out.every((val) => Number.isFinite(val))).toBe(true);
        output.sum().backward();
      });
      expect(x.grad!.dataSync().every((g) => Number.isFinite(g))).toBe(true);
      x.grad!.dispose();
      x.grad = null;
    }
    m.dispose();
  });

  it('isCausal equals the explicit causal mask (float and bool)', () => {
    const m = new MultiheadAttention(8, 4, { batchFirst: true, generator: new Generator(3) });
    const x = randn([2, 5, 8], { generator: new Generator(4) });
    tidy(() => {
      const a = m.forward(x, x, x, { isCausal: true }).output.dataSync();
      const b = m.forward(x, x, x, { attnMask: generateSquareSubsequentMask(5) }).output.dataSync();
      const triu = tensor(Array.from({ length: 5 }, (_, i) => Array.from({ length: 5 }, (_, j) => j > i)));
      const c = m.forward(x, x, x, { attnMask: triu }).output.dataSync();
      const full = m.forward(x, x, x).output.dataSync();
      for (let i = 0; i < a.length; i++) {
        expect(a[i]).toBeCloseTo(b[i], 6);
        expect(a[i]).toBeCloseTo(c[i], 6);
      }
      expect(a.some((val, i) => Math.abs(val - full[i]) > 1e-3)).toBe(true);
    });
    expect(Array.from(generateSquareSubsequentMask(3).dataSync())).toEqual([0, -Infinity, -Infinity, 0, 0, -Infinity, 0, 0, 0]);
    m.dispose();
  });

  it('applies attention dropout only in training', () => {
    const m = new MultiheadAttention(8, 2, { dropout: 0.5, generator: new Generator(5) });
    const x = randn([4, 2, 8], { generator: new Generator(6) });
    tidy(() => {
      m.eval();
      const a = m.forward(x, x, x).weights!.dataSync();
      const a2 = m.forward(x, x, x).weights!.dataSync();
      expect(Array.from(a)).toEqual(Array.from(a2));
      m.train();
      const t = m.forward(x, x, x, { averageAttnWeights: false }).weights!.dataSync();
      // Dropped weights are exactly 0, kept ones scaled by 2: rows no longer sum to 1.
      expect(t.filter((w) => w === 0).length).toBeGreaterThan(t.length / 5);
      const rowSums = Array.from({ length: t.length / 4 }, (_, r) => Array.from(t.slice(r * 4, r * 4 + 4)).reduce((s, w) => s + w, 0));
      expect(rowSums.some((s) => Math.abs(s - 1) > 0.05)).toBe(true);
    });
    m.dispose();
  });

  it('rejects bad shapes and configurations with clear errors', () => {
    expect(() => new MultiheadAttention(10, 3)).toThrow(/multiple of numHeads/);
    const m = new MultiheadAttention(8, 2);
    const x = randn([3, 2, 8]);
    expect(() => m.forward(x, randn([3, 2, 6]), x)).toThrow(HeedError);
    expect(() => m.forward(x, x, x, { attnMask: tensor([[true, false]]) })).toThrow(/attnMask must be \[L, S\]/);
    expect(() => m.forward(x, x, x, { keyPaddingMask: tensor([[true, false, false]]) })).toThrow(/keyPaddingMask must be \[2, 3\]/);
    expect(() => m.forward(x, randn([4, 3, 8]), randn([4, 3, 8]))).toThrow(/batch sizes/);
    m.dispose();
    x.dispose();
  });
});

describe('kv-cache', () => {
  for (const withRope of [false, true]) {
    it(`step-by-step decoding equals full causal attention${withRope ? ' (with RoPE)' : ''}`, async () => {
      const m = new MultiheadAttention(8, 2, { batchFirst: true, generator: new Generator(7) });
      const rotary = withRope ? new RotaryEmbedding(4) : null;
      const x = randn([2, 6, 8], { generator: new Generator(8) });
      const full = tidy(() => m.forward(x, x, x, { isCausal: true, needWeights: false, rotary }).output);
      const cache = new KVCache();
      const steps: Tensor[] = [];
      await checkLeaks(() => noGrad(() => {
        // Two positions in the first call (a prompt), then one at a time.
        for (const [start, len] of [[0, 2], [2, 1], [3, 1], [4, 1], [5, 1]]) {
          steps.push(tidy(() => {
            const xs = x.narrow(1, start, len);
            return m.forward(xs, xs, xs, { cache, isCausal: true, needWeights: false, rotary }).output;
          }));
        }
        return { steps, keys: cache.keys, values: cache.values };
      }));
      expect(cache.length).toBe(6);
      const stepped = tidy(() => concat(steps, 1));
      const a = full.dataSync();
      const b = stepped.dataSync();
      for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
      cache.dispose();
      expect(cache.keys).toBeNull();
      for (const t of [...steps, stepped, full, x]) t.dispose();
      m.dispose();
      rotary?.dispose();
    });
  }

  it('a static cache reuses the projected memory for cross-attention', () => {
    const m = new MultiheadAttention(8, 2, { generator: new Generator(9) });
    const mem = randn([5, 2, 8], { generator: new Generator(10) });
    const q = randn([3, 2, 8], { generator: new Generator(11) });
    const cache = new KVCache({ static: true });
    tidy(() => {
      const ref = m.forward(q, mem, mem).output.dataSync();
      const first = m.forward(q, mem, mem, { cache }).output.dataSync();
      expect(cache.filled).toBe(true);
      // The memory argument is ignored once filled: pass garbage, get the same result.
      const junk = randn([5, 2, 8]);
      const second = m.forward(q, junk, junk, { cache }).output.dataSync();
      for (let i = 0; i < ref.length; i++) {
        expect(first[i]).toBeCloseTo(ref[i], 6);
        expect(second[i]).toBeCloseTo(ref[i], 6);
      }
    });
    expect(cache.length).toBe(5);
    cache.dispose();
    m.dispose();
  });
});

describe('RotaryEmbedding', () => {
  const layers = JSON.parse(readFileSync(new URL('../fixtures/layers.json', import.meta.url), 'utf8')) as {
    cases: { name: string; config: { dim: number; offset: number }; inputs: { x: Enc }; half: Enc; interleaved: Enc }[];
  };
  const ropeCase = layers.cases.find((c) => c.name === 'rope')!;

  for (const style of ['half', 'interleaved'] as const) {
    it(`matches the ${style === 'half' ? 'LLaMA rotate_half' : 'GPT-J interleaved'} formula (PyTorch reference)`, () => {
      const rope = new RotaryEmbedding(ropeCase.config.dim, { style, maxLen: 16 });
      const x = toTensor(ropeCase.inputs.x);
      tidy(() => expectClose(rope.rotate(x, { offset: ropeCase.config.offset }), ropeCase[style], `rope ${style}`));
      x.dispose();
      rope.dispose();
    });
  }

  it('matches a direct complex-rotation reference and preserves relative positions', () => {
    const dim = 6;
    const rope = new RotaryEmbedding(dim, { style: 'interleaved', base: 100, maxLen: 32 });
    const x = randn([1, 4, dim], { generator: new Generator(12) });
    const got = tidy(() => rope.rotate(x, { offset: 2 }).dataSync());
    const xs = x.dataSync();
    for (let p = 0; p < 4; p++) {
      for (let i = 0; i < dim / 2; i++) {
        const theta = (p + 2) * Math.pow(100, (-2 * i) / dim);
        const [a, b] = [xs[p * dim + 2 * i], xs[p * dim + 2 * i + 1]];
        expect(got[p * dim + 2 * i]).toBeCloseTo(a * Math.cos(theta) - b * Math.sin(theta), 5);
        expect(got[p * dim + 2 * i + 1]).toBeCloseTo(a * Math.sin(theta) + b * Math.cos(theta), 5);
      }
    }
    // q·k after rotation depends only on the position difference.
    const q = randn([1, 1, dim], { generator: new Generator(13) });
    const k = randn([1, 1, dim], { generator: new Generator(14) });
    const dot = (pq: number, pk: number) => tidy(() => rope.rotate(q, { offset: pq }).mul(rope.rotate(k, { offset: pk })).sum().dataSync()[0]);
    expect(dot(7, 3)).toBeCloseTo(dot(4, 0), 4);
    expect(dot(10, 10)).toBeCloseTo(dot(0, 0), 4);
    expect(() => rope.rotate(x, { offset: 30 })).toThrow(/exceed maxLen/);
    for (const t of [x, q, k]) t.dispose();
    rope.dispose();
  });
});
