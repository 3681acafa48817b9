// SPDX-License-Identifier: MIT
// Layers against PyTorch 1.13 fixtures (packages/nn/fixtures/layers.json, from
// scripts/fixtures/gen_nn_fixtures.py): Linear, LayerNorm, RMSNorm (reference formula),
// Embedding with paddingIdx, activation modules, the sinusoid table; plus weight init
// statistics and seeding, PyTorch's default inits, Dropout, containers, positional
// encodings and memory hygiene.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Generator, HeedError, checkLeaks, noGrad, ones, randn, registerBackend, setBackend, tensor, tidy, zeros, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  Dropout, Embedding, GELU, Identity, LayerNorm, LearnedPositionalEmbedding, Linear, type Module, ModuleDict, ModuleList, RMSNorm, ReLU,
  Sequential, SiLU, Sigmoid, SinusoidalPositionalEncoding, Tanh, calculateFanInAndFanOut, calculateGain, constant_, kaimingNormal,
  kaimingUniform, normal_, ones_, uniform_, xavierNormal, xavierUniform, zeros_,
} from '../src/index.js';
import { FixtureChecker, toTensor, type Enc } from './fixture-tensors.js';

registerBackend(cpuBackend);
await setBackend('cpu');

interface Case {
  name: string;
  config: Record<string, unknown>;
  keys?: string[];
  state?: Record<string, Enc>;
  inputs: Record<string, Enc>;
  upstream?: Enc;
  output?: Enc;
  inputGrads?: Record<string, Enc>;
  paramGrads?: Record<string, Enc>;
  table?: Enc;
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/layers.json', import.meta.url), 'utf8')) as { cases: Case[] };
const byName = (name: string): Case => fixture.cases.find((c) => c.name === name)!;

const checker = new FixtureChecker();
const { expectClose } = checker;

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const v = Array.from(t.dataSync());
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
}

const modulesFor: Record<string, () => Module & { forward(x: Tensor): Tensor }> = {
  linear: () => new Linear(5, 3),
  linear_no_bias: () => new Linear(4, 2, { bias: false }),
  layernorm: () => new LayerNorm(6, { eps: 1e-5 }),
  layernorm_2d: () => new LayerNorm([3, 4], { eps: 1e-6 }),
  rmsnorm: () => new RMSNorm(6, { eps: 1e-6 }),
  embedding_padding: () => new Embedding(5, 3, { paddingIdx: 0 }),
  act_gelu: () => new GELU(),
  act_gelu_tanh: () => new GELU({ approximate: 'tanh' }),
  act_silu: () => new SiLU(),
  act_relu: () => new ReLU(),
  act_tanh: () => new Tanh(),
  act_sigmoid: () => new Sigmoid(),
};

describe('layers match PyTorch 1.13', () => {
  for (const [name, make] of Object.entries(modulesFor)) {
    it(name, async () => {
      const c = byName(name);
      const m = make();
      expect([...m.stateDict().keys()]).toEqual(c.keys);
      const dict = new Map(Object.entries(c.state!).map(([k, e]) => [k, toTensor(e)]));
      m.loadStateDict(dict);
      for (const t of dict.values()) t.dispose();
      const inputs = Object.fromEntries(Object.entries(c.inputs).map(([k, e]) => [k, toTensor(e, e.dtype === 'float32')]));
      const x = Object.values(inputs)[0];
      await checkLeaks(() => {
        tidy(() => {
          const out = m.forward(x);
          expectClose(out, c.output!, `${name} output`);
          out.mul(toTensor(c.upstream!)).sum().backward();
        });
        return [x, ...m.parameters()].map((t) => t.grad);
      });
      for (const [k, e] of Object.entries(c.inputGrads!)) expectClose(inputs[k].grad, e, `${name} grad ${k}`);
      for (const [k, p] of m.namedParameters()) expectClose(p.grad, c.paramGrads![k], `${name} grad ${k}`);
      m.dispose();
      x.dispose();
    });
  }

  it('embedding gives the padding row no gradient', () => {
    const c = byName('embedding_padding');
    const grad = c.paramGrads!.weight.data.map(Number);
    expect(grad.slice(0, 3)).toEqual([0, 0, 0]);
    expect(grad.slice(3).some((g) => g !== 0)).toBe(true);
  });

  it('sinusoid table matches the PyTorch tutorial formula', () => {
    const c = byName('sinusoid');
    const pe = new SinusoidalPositionalEncoding(6, { maxLen: 7 });
    expectClose(pe.pe, c.table!, 'pe');
    expect([...pe.stateDict().keys()]).toEqual([]); // non-persistent buffer
    pe.dispose();
  });

  it('reports the max error', () => {
    console.log(`layers: max abs error ${checker.maxAbs.toExponential(2)}`);
    expect(checker.maxAbs).toBeLessThan(1e-5);
  });
});

describe('init', () => {
  it('gains and fans follow torch.nn.init', () => {
    expect(calculateGain('linear')).toBe(1);
    expect(calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.0001)), 12);
    expect(calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(calculateGain('selu')).toBe(0.75);
    expect(calculateFanInAndFanOut([8, 4])).toEqual([4, 8]);
    expect(calculateFanInAndFanOut([8, 4, 3, 3])).toEqual([36, 72]);
    expect(() => calculateFanInAndFanOut([5])).toThrow(/rank >= 2/);
  });

  it('draws with the right bounds and spread, in place, reproducibly', () => {
    const w = zeros([200, 300]).requiresGrad_();
    const id = w.id;
    const a = Math.sqrt(6 / 500);
    let s = stats(xavierUniform(w, { generator: new Generator(1) }));
    expect(w.id).toBe(id);
    expect(w.requiresGrad).toBe(true);
    expect(s.min).toBeGreaterThanOrEqual(-a);
    expect(s.max).toBeLessThan(a);
    expect(s.std).toBeCloseTo(a / Math.sqrt(3), 3);
    s = stats(xavierNormal(w, { gain: 2, generator: new Generator(2) }));
    expect(s.std).toBeCloseTo(2 * Math.sqrt(2 / 500), 3);
    expect(Math.abs(s.mean)).toBeLessThan(3e-3);
    s = stats(kaimingUniform(w, { nonlinearity: 'relu', generator: new Generator(3) }));
    expect(s.max).toBeLessThan(Math.sqrt(2) * Math.sqrt(3 / 300));
    expect(s.std).toBeCloseTo(Math.sqrt(2 / 300), 3);
    s = stats(kaimingNormal(w, { mode: 'fan_out', nonlinearity: 'relu', generator: new Generator(4) }));
    expect(s.std).toBeCloseTo(Math.sqrt(2 / 200), 3);
    s = stats(uniform_(w, -2, 3, new Generator(5)));
    expect(s.min).toBeGreaterThanOrEqual(-2);
    expect(s.mean).toBeCloseTo(0.5, 1);
    s = stats(normal_(w, 1, 0.5, new Generator(6)));
    expect(s.mean).toBeCloseTo(1, 2);
    expect(s.std).toBeCloseTo(0.5, 2);
    const first = Array.from(kaimingUniform(w, { generator: new Generator(7) }).dataSync().slice(0, 10));
    const again = Array.from(kaimingUniform(w, { generator: new Generator(7) }).dataSync().slice(0, 10));
    expect(again).toEqual(first);
    expect(Array.from(constant_(zeros([3]), 0.5).dataSync())).toEqual([0.5, 0.5, 0.5]);
    expect(Array.from(ones_(zeros([2])).dataSync())).toEqual([1, 1]);
    expect(Array.from(zeros_(ones([2])).dataSync())).toEqual([0, 0]);
    expect(() => kaimingUniform(zeros([3]))).toThrow(HeedError);
    w.dispose();
  });

  it('leaves no temporaries behind', async () => {
    const w = zeros([10, 10]);
    await checkLeaks(() => { xavierUniform(w); kaimingNormal(w); normal_(w); constant_(w, 1); });
    w.dispose();
  });

  it('Linear and Embedding use PyTorch default inits; a generator seeds them', () => {
    const lin = new Linear(64, 32, { generator: new Generator(8) });
    const bound = 1 / Math.sqrt(64);
    const ws = stats(lin.weight);
    expect(ws.max).toBeLessThan(bound);
    expect(ws.min).toBeGreaterThanOrEqual(-bound);
    expect(ws.std).toBeCloseTo(bound / Math.sqrt(3), 2);
    expect(stats(lin.bias!).max).toBeLessThan(bound);
    const lin2 = new Linear(64, 32, { generator: new Generator(8) });
    expect(Array.from(lin2.weight.dataSync())).toEqual(Array.from(lin.weight.dataSync()));
    const emb = new Embedding(100, 50, { paddingIdx: -1, generator: new Generator(9) });
    expect(emb.paddingIdx).toBe(99);
    const es = stats(emb.weight);
    expect(es.std).toBeCloseTo(1, 1);
    expect(Array.from(emb.weight.dataSync().slice(99 * 50))).toEqual(new Array(50).fill(0));
    expect(() => new Embedding(4, 2, { paddingIdx: 4 })).toThrow(/paddingIdx/);
    for (const m of [lin, lin2, emb]) m.dispose();
  });
});

describe('Embedding', () => {
  it('looks up any id shape and skips the padding row in backward', () => {
    const emb = new Embedding(4, 2, { paddingIdx: 1, generator: new Generator(10) });
    const ids = tensor([[1, 2], [3, 1]], { dtype: 'int32' });
    tidy(() => {
      const out = emb.forward(ids);
      expect(out.shape).toEqual([2, 2, 2]);
      const w = emb.weight.dataSync();
      expect(Array.from(out.dataSync().slice(2, 4))).toEqual(Array.from(w.slice(4, 6)));
      out.sum().backward();
    });
    expect(Array.from(emb.weight.grad!.dataSync())).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(() => emb.forward(tensor([1, 2]))).toThrow(/int32/);
    ids.dispose();
    emb.dispose();
  });
});

describe('Dropout', () => {
  it('zeroes about p of the values and scales the rest in training; identity in eval', () => {
    const d = new Dropout(0.25, { generator: new Generator(11) });
    const x = ones([100, 100]);
    tidy(() => {
      const y = d.forward(x).dataSync();
      const zeros = y.filter((v) => v === 0).length / y.length;
      expect(zeros).toBeGreaterThan(0.22);
      expect(zeros).toBeLessThan(0.28);
      expect(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
      d.eval();
      expect(d.forward(x).dataSync().every((v) => v === 1)).toBe(true);
    });
    expect(() => new Dropout(1.5)).toThrow(/\[0, 1\]/);
    x.dispose();
  });
});

describe('containers', () => {
  it('Sequential chains layers with index keys and leaves only the output alive', async () => {
    const mlp = new Sequential(new Linear(4, 8, { generator: new Generator(12) }), new ReLU(), new Identity(), new Linear(8, 2, { generator: new Generator(13) }));
    expect([...mlp.stateDict().keys()]).toEqual(['0.weight', '0.bias', '3.weight', '3.bias']);
    expect(mlp.length).toBe(4);
    const x = randn([3, 4], { generator: new Generator(14) });
    // Without a graph to keep (noGrad), only the output survives.
    const out = await checkLeaks(() => noGrad(() => mlp.forward(x)));
    const ref = tidy(() => mlp.at(3).forward(mlp.at(0).forward(x).relu()));
    expect(Array.from(out.dataSync())).toEqual(Array.from(ref.dataSync()));
    await checkLeaks(() => {
      tidy(() => mlp.forward(x).sum().backward());
      return mlp.parameters().map((p) => p.grad);
    });
    for (const t of [x, out, ref]) t.dispose();
    mlp.dispose();
  });

  it('ModuleList and ModuleDict expose their children under indices and names', () => {
    const list = new ModuleList([new Linear(2, 2), new LayerNorm(2)]).append(new Linear(2, 1));
    expect([...list.stateDict().keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.weight', '2.bias']);
    expect(list.at(-1)).toBeInstanceOf(Linear);
    expect([...list].length).toBe(3);
    expect(() => list.at(3)).toThrow(/out of range/);
    const dict = new ModuleDict({ cls: new Linear(2, 3), reg: new Linear(2, 1, { bias: false }) });
    expect([...dict.stateDict().keys()]).toEqual(['cls.weight', 'cls.bias', 'reg.weight']);
    expect(dict.keys()).toEqual(['cls', 'reg']);
    expect(() => dict.get('nope')).toThrow(/no module named 'nope'/);
    const extra = new Linear(1, 1);
    expect(() => dict.set('a.b', extra)).toThrow(/no '\.'/);
    extra.dispose();
    const copy = dict.clone();
    expect(copy.get('cls')).not.toBe(dict.get('cls'));
    expect(copy.get('cls').weight).not.toBe(dict.get('cls').weight);
    list.dispose();
    dict.dispose();
    copy.dispose();
  });
});

describe('positional encodings', () => {
  it('Sinusoidal adds pe[offset : offset + L] along the position axis', () => {
    const pe = new SinusoidalPositionalEncoding(4, { maxLen: 10 });
    const x = zeros([3, 2, 4]);
    tidy(() => {
      const y = pe.forward(x, { offset: 2 }).dataSync();
      // [L, N, D]: both batch entries get row 2 + l.
      const sin = (p: number, i: number) => Math.sin(p / Math.pow(10000, i / 4));
      const cos = (p: number, i: number) => Math.cos(p / Math.pow(10000, i / 4));
      for (let l = 0; l < 3; l++) {
        for (let n = 0; n < 2; n++) {
          const o = (l * 2 + n) * 4;
          expect(y[o]).toBeCloseTo(sin(l + 2, 0), 6);
          expect(y[o + 1]).toBeCloseTo(cos(l + 2, 0), 6);
          expect(y[o + 2]).toBeCloseTo(sin(l + 2, 2), 6);
          expect(y[o + 3]).toBeCloseTo(cos(l + 2, 2), 6);
        }
      }
      expect(() => pe.forward(x, { offset: 8 })).toThrow(/raise maxLen/);
    });
    x.dispose();
    pe.dispose();
  });

  it('Learned adds its trained table and gets gradients', () => {
    const pos = new LearnedPositionalEmbedding(6, 2, { batchFirst: true, generator: new Generator(15) });
    expect([...pos.stateDict().keys()]).toEqual(['weight']);
    const x = zeros([2, 3, 2]);
    tidy(() => {
      const y = pos.forward(x, { offset: 1 });
      const w = pos.weight.dataSync();
      expect(Array.from(y.dataSync().slice(0, 6))).toEqual(Array.from(w.slice(2, 8)));
      y.sum().backward();
    });
    expect(Array.from(pos.weight.grad!.dataSync())).toEqual([0, 0, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0]);
    x.dispose();
    pos.dispose();
  });
});
