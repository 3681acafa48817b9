// SPDX-License-Identifier: MIT
// Module reflection and bookkeeping: parameters/buffers/children found from properties in
// PyTorch's order, snake_case keys and overrides, tied weights, strict/non-strict and atomic
// loadStateDict, train/eval, zeroGrad, freezing, deep clones, moving between backends,
// disposal, modules built inside tidy, and the optimizer/safetensors interfaces.
import { describe, expect, it } from 'vitest';
import {
  Generator, HeedError, memory, noGrad, ones, randn, registerBackend, setBackend, tensor, tidy, zeros, type Tensor,
} from '@heed/core';
import { CpuBackend, cpuBackend } from '@heed/backend-cpu';
import {
  AdamW, Dropout, Embedding, LayerNorm, Linear, Module, MultiheadAttention, SGD, Sequential, buffer, deserializeCheckpoint, isBuffer,
  isParameter, loadSafetensors, parameter, saveSafetensors, serializeCheckpoint, toSnakeCase,
} from '../src/index.js';

registerBackend(cpuBackend);
// A second, independent CPU backend under another name, to test moving modules between backends.
registerBackend({
  name: 'cpu-b', priority: 0,
  create: () => Object.defineProperty(new CpuBackend(), 'name', { value: 'cpu-b' }),
});
await setBackend('cpu');

class Block extends Module {
  scale = parameter(ones([3]));
  fc = new Linear(3, 3, { generator: new Generator(1) });
  runningMean = buffer(zeros([3]));
  cache = buffer(zeros([2]), { persistent: false });
  plain: Tensor = zeros([1]); // not marked: not part of the module state
  missing: Tensor | null = null;
  forward(x: Tensor): Tensor {
    return tidy(() => this.fc.forward(x.mul(this.scale)).add(this.runningMean));
  }
}

class Net extends Module {
  selfAttn = new MultiheadAttention(4, 2, { generator: new Generator(2) });
  block = new Block();
  outProjWeight = parameter(randn([2, 3], { generator: new Generator(3) }));
  norm1 = new LayerNorm(3);
}

describe('reflection and keys', () => {
  it('finds parameters, buffers and children in PyTorch order with snake_case keys', () => {
    const net = new Net();
    expect([...net.stateDict().keys()]).toEqual([
      'out_proj_weight',
      'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'block.scale', 'block.running_mean', 'block.fc.weight', 'block.fc.bias',
      'norm1.weight', 'norm1.bias',
    ]);
    expect(net.namedParameters().map(([k]) => k)).toEqual([
      'out_proj_weight', 'self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias',
      'block.scale', 'block.fc.weight', 'block.fc.bias', 'norm1.weight', 'norm1.bias',
    ]);
    expect(net.namedBuffers().map(([k]) => k)).toEqual(['block.running_mean', 'block.cache']);
    expect(net.namedChildren().map(([k]) => k)).toEqual(['self_attn', 'block', 'norm1']);
    expect(net.namedModules().map(([k]) => k)).toEqual(['', 'self_attn', 'self_attn.out_proj', 'block', 'block.fc', 'norm1']);
    expect(net.numParameters()).toBe(4 * 12 + 12 + 4 * 4 + 4 + 3 + 9 + 3 + 6 + 6);
    expect(isParameter(net.block.scale)).toBe(true);
    expect(isBuffer(net.block.cache)).toBe(true);
    expect(isParameter(net.block.plain)).toBe(false);
    expect(net.parameters().every((p) => p.requiresGrad && p.isLeaf)).toBe(true);
    expect(toSnakeCase('multiheadAttn')).toBe('multihead_attn');
    expect(toSnakeCase('linear1')).toBe('linear1');
    expect(toSnakeCase('qProjWeight')).toBe('q_proj_weight');
    expect(String(net)).toContain('(self_attn): MultiheadAttention(embedDim=4');
    net.dispose();
  });

  it('lets a module override its state keys', () => {
    class Custom extends Module {
      w = parameter(zeros([2]));
      protected override stateKey(prop: string): string {
        return prop === 'w' ? 'weight' : super.stateKey(prop);
      }
    }
    const m = new Custom();
    expect([...m.stateDict().keys()]).toEqual(['weight']);
    m.dispose();
  });

  it('lists a tied parameter once in parameters() but under both keys in stateDict()', () => {
    class Tied extends Module {
      embed = new Embedding(5, 3, { generator: new Generator(4) });
      head = new Linear(3, 5, { bias: false });
      constructor() {
        super();
        this.head.weight.dispose();
        this.head.weight = this.embed.weight;
      }
    }
    const m = new Tied();
    expect(m.namedParameters().map(([k]) => k)).toEqual(['embed.weight']);
    expect([...m.stateDict().keys()]).toEqual(['embed.weight', 'head.weight']);
    expect(m.numParameters()).toBe(15);
    const copy = m.clone();
    expect(copy.head.weight).toBe(copy.embed.weight);
    expect(copy.embed.weight).not.toBe(m.embed.weight);
    m.dispose();
    copy.dispose();
  });

  it('apply() visits children before parents (post-order, like PyTorch)', () => {
    const net = new Net();
    const order: string[] = [];
    const names = new Map(net.namedModules().map(([k, m]) => [m, k]));
    net.apply((m) => order.push(names.get(m)!));
    expect(order).toEqual(['self_attn.out_proj', 'self_attn', 'block.fc', 'block', 'norm1', '']);
    net.dispose();
  });

  it('keeps parameters alive when built inside tidy', () => {
    const lin = tidy(() => new Linear(2, 2));
    expect(lin.weight.isDisposed).toBe(false);
    expect(lin.bias!.isDisposed).toBe(false);
    lin.dispose();
    expect(lin.weight.isDisposed).toBe(true);
  });
});

describe('loadStateDict', () => {
  it('copies values in place, keeping tensor identity', () => {
    const a = new Linear(3, 2, { generator: new Generator(5) });
    const b = new Linear(3, 2, { generator: new Generator(6) });
    const w = b.weight;
    const result = b.loadStateDict(a.stateDict());
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.weight).toBe(w);
    expect(Array.from(b.weight.dataSync())).toEqual(Array.from(a.weight.dataSync()));
    expect(b.weight.requiresGrad).toBe(true);
    // A Record works too.
    b.loadStateDict({ weight: zeros([2, 3]), bias: ones([2]) });
    expect(Array.from(b.bias!.dataSync())).toEqual([1, 1]);
    a.dispose();
    b.dispose();
  });

  it('strict mode rejects missing and unexpected keys and changes nothing', () => {
    const m = new Linear(3, 2, { generator: new Generator(7) });
    const before = Array.from(m.weight.dataSync());
    expect(() => m.loadStateDict({ weight: zeros([2, 3]) })).toThrow(/missing keys \[bias\]/);
    expect(() => m.loadStateDict({ weight: zeros([2, 3]), bias: zeros([2]), extra: zeros([1]) })).toThrow(/unexpected keys \[extra\]/);
    expect(() => m.loadStateDict({ weight: zeros([2, 3]), bias: zeros([3]) })).toThrow(/'bias': expected \[2\] float32, got \[3\] float32/);
    expect(Array.from(m.weight.dataSync())).toEqual(before);
    const r = m.loadStateDict({ weight: zeros([2, 3]), extra: zeros([1]) }, { strict: false });
    expect(r).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['extra'] });
    expect(Array.from(m.weight.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    m.dispose();
  });

  it('round-trips through safetensors', async () => {
    const a = new Sequential(new Linear(4, 3, { generator: new Generator(8) }), new LayerNorm(3));
    const b = new Sequential(new Linear(4, 3, { generator: new Generator(9) }), new LayerNorm(3));
    const bytes = await saveSafetensors(a.stateDict());
    const { tensors } = loadSafetensors(bytes);
    expect([...tensors.keys()].sort()).toEqual(['0.bias', '0.weight', '1.bias', '1.weight']);
    b.loadStateDict(tensors);
    for (const t of tensors.values()) t.dispose();
    const x = randn([2, 4]);
    tidy(() => expect(Array.from(b.forward(x).dataSync())).toEqual(Array.from(a.forward(x).dataSync())));
    for (const t of [x]) t.dispose();
    a.dispose();
    b.dispose();
  });
});

describe('modes, gradients, copies, devices', () => {
  it('train()/eval() reach every descendant and switch dropout', () => {
    const m = new Sequential(new Linear(4, 4), new Dropout(0.5, { generator: new Generator(10) }));
    expect(m.training).toBe(true);
    m.eval();
    expect(m.modules().map((x) => x.training)).toEqual([false, false, false]);
    const x = ones([64, 4]);
    tidy(() => {
      const e1 = m.forward(x).dataSync();
      const e2 = m.forward(x).dataSync();
      expect(Array.from(e1)).toEqual(Array.from(e2));
      m.train();
      const t = m.forward(x).dataSync();
      expect(t.filter((v) => v === 0).length).toBeGreaterThan(40);
      // Kept values are scaled by 1/(1-p) = 2.
      const i = t.findIndex((v) => v !== 0);
      expect(t[i]).toBeCloseTo(2 * e1[i], 5);
    });
    x.dispose();
    m.dispose();
  });

  it('zeroGrad clears gradients; requiresGrad_(false) freezes', () => {
    const m = new Linear(3, 1, { generator: new Generator(11) });
    const x = ones([2, 3]);
    tidy(() => m.forward(x).sum().backward());
    expect(Array.from(m.weight.grad!.dataSync())).toEqual([2, 2, 2]);
    expect(Array.from(m.bias!.grad!.dataSync())).toEqual([2]);
    const g = m.weight.grad!;
    m.zeroGrad();
    expect(m.weight.grad).toBeNull();
    expect(g.isDisposed).toBe(true);
    m.requiresGrad_(false);
    expect(m.parameters().some((p) => p.requiresGrad)).toBe(false);
    const y = m.forward(x);
    expect(y.requiresGrad).toBe(false);
    y.dispose();
    x.dispose();
    m.dispose();
  });

  it('works with the optimizers through namedParameters()', () => {
    const m = new Linear(2, 1, { generator: new Generator(12) });
    noGrad(() => { m.weight.assign(tensor([[1, 2]])); m.bias!.assign(tensor([0.5])); });
    const opt = new SGD(m, { lr: 0.1 });
    const x = tensor([[1, 1]]);
    tidy(() => m.forward(x).sum().backward());
    opt.step();
    expect(Array.from(m.weight.dataSync())).toEqual([Math.fround(0.9), Math.fround(1.9)]);
    expect(Array.from(m.bias!.dataSync())).toEqual([0.4000000059604645]);
    x.dispose();
    m.dispose();
  });

  it('works with checkpoints (HasStateDict) including the optimizer state', async () => {
    const a = new Sequential(new Linear(3, 2, { generator: new Generator(20) }));
    const optA = new AdamW(a, { lr: 0.01 });
    const x = ones([1, 3]);
    tidy(() => a.forward(x).sum().backward());
    optA.step();
    const bytes = await serializeCheckpoint({ model: a, optimizer: optA, step: 1 });
    const b = new Sequential(new Linear(3, 2, { generator: new Generator(21) }));
    const optB = new AdamW(b, { lr: 0.01 });
    const info = deserializeCheckpoint(bytes, { model: b, optimizer: optB });
    expect(info.step).toBe(1);
    expect(Array.from((b.at(0) as Linear).weight.dataSync())).toEqual(Array.from((a.at(0) as Linear).weight.dataSync()));
    x.dispose();
    a.dispose();
    b.dispose();
  });

  it('clone() makes an independent deep copy', () => {
    const a = new Net();
    const b = a.clone();
    expect(b).toBeInstanceOf(Net);
    expect([...b.stateDict().keys()]).toEqual([...a.stateDict().keys()]);
    const pa = a.parameters();
    const pb = b.parameters();
    pa.forEach((p, i) => {
      expect(pb[i]).not.toBe(p);
      expect(Array.from(pb[i].dataSync())).toEqual(Array.from(p.dataSync()));
      expect(pb[i].requiresGrad).toBe(true);
    });
    noGrad(() => b.block.fc.weight.assign(zeros([3, 3])));
    expect(a.block.fc.weight.dataSync().some((v) => v !== 0)).toBe(true);
    b.eval();
    expect(a.training).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('to() moves parameters and buffers to another backend in place', () => {
    const m = new Block();
    const before = Array.from(m.fc.weight.dataSync());
    m.to('cpu-b');
    for (const t of [...m.parameters(), ...m.buffers()]) expect(t.backend.name).toBe('cpu-b');
    expect(m.parameters().every((p) => p.requiresGrad && p.isLeaf && isParameter(p))).toBe(true);
    expect(Array.from(m.fc.weight.dataSync())).toEqual(before);
    const x = ones([1, 3], { backend: 'cpu-b' });
    tidy(() => expect(m.forward(x).backend.name).toBe('cpu-b'));
    x.dispose();
    m.dispose();
  });

  it('dispose() frees every parameter and buffer', () => {
    const before = memory().numTensors;
    const m = new Net();
    expect(memory().numTensors).toBeGreaterThan(before);
    m.block.plain.dispose(); // not owned by the module
    m.dispose();
    expect(memory().numTensors).toBe(before);
  });

  it('parameter() rejects non-leaf and non-float tensors', () => {
    const a = ones([2]).requiresGrad_();
    const b = a.mul(2);
    expect(() => parameter(b)).toThrow(HeedError);
    const i = zeros([2], { dtype: 'int32' });
    expect(() => parameter(i)).toThrow(/float32/);
    for (const t of [a, b, i]) t.dispose();
  });
});
