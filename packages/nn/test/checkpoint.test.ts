// SPDX-License-Identifier: MIT
// Checkpoints: training N steps straight must equal training k steps, saving, loading into
// FRESH model/optimizer/scheduler objects and training N - k more, bit for bit (params, lr,
// optimizer state). Also: in-memory (browser) serialization, error cases, memory hygiene.
// The tiny model is defined here (two leaf tensors) so the test needs no nn Module.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, HeedError, checkLeaks, noGrad, randn, registerBackend, setBackend, tensor, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  AdamW, CosineAnnealingLR, SGD, StepLR, clipGradNorm, decayMatricesOnly, type HasNamedParameters, type LRScheduler,
} from '../src/optim/index.js';
import { deserializeCheckpoint, loadCheckpoint, saveCheckpoint, saveFile, serializeCheckpoint, type HasStateDict } from '../src/io/index.js';
import { mseLoss } from '../src/losses/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

type Dict = Map<string, Tensor> | Record<string, Tensor>;

/** y = tanh(x W^T + b): two leaf tensors, PyTorch-style state dict with copy-on-load. */
class TinyModel implements HasStateDict, HasNamedParameters {
  readonly w: Tensor;
  readonly b: Tensor;
  constructor(seed: number) {
    const g = new Generator(seed);
    this.w = randn([3, 4], { generator: g }).mul(0.5).requiresGrad_();
    this.b = randn([3], { generator: g }).mul(0.1).requiresGrad_();
  }
  namedParameters(): [string, Tensor][] {
    return [['weight', this.w], ['bias', this.b]];
  }
  forward(x: Tensor): Tensor {
    return x.matmul(this.w.transpose()).add(this.b).tanh();
  }
  stateDict(): Record<string, Tensor> {
    return { weight: this.w, bias: this.b };
  }
  loadStateDict(d: Dict, options: { strict?: boolean } = {}): void {
    const m = d instanceof Map ? d : new Map(Object.entries(d));
    const keys = [...m.keys()].sort();
    if ((options.strict ?? true) && keys.join() !== 'bias,weight') throw new HeedError('TinyModel.loadStateDict', `unexpected keys ${keys.join(', ')}`);
    noGrad(() => {
      this.w.assign(m.get('weight') as Tensor);
      this.b.assign(m.get('bias') as Tensor);
    });
  }
}

/** A deterministic batch for each step, so resuming at the wrong step would show. */
function batch(step: number): { x: Tensor; y: Tensor } {
  const g = new Generator(1000 + step);
  return { x: randn([5, 4], { generator: g }), y: randn([5, 3], { generator: g }).mul(0.5) };
}

interface Setup { model: TinyModel; optimizer: AdamW | SGD; scheduler: LRScheduler }
const setups: Record<string, (seed: number) => Setup> = {
  'AdamW (amsgrad, decay mask) + warmup cosine + clipping': (seed) => {
    const model = new TinyModel(seed);
    const optimizer = new AdamW(model, { lr: 0.05, weightDecay: 0.1, amsgrad: true, weightDecayFilter: decayMatricesOnly });
    return { model, optimizer, scheduler: new CosineAnnealingLR(optimizer, { totalSteps: 10, warmupSteps: 3, minLr: 0.001 }) };
  },
  'SGD (Nesterov, two groups) + StepLR + clipping': (seed) => {
    const model = new TinyModel(seed);
    const optimizer = new SGD([{ params: [['weight', model.w]] }, { params: [['bias', model.b]], lr: 0.3 }], { lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
    return { model, optimizer, scheduler: new StepLR(optimizer, { stepSize: 3, gamma: 0.5 }) };
  },
};

function train(s: Setup, from: number, to: number): void {
  for (let step = from; step < to; step++) {
    s.optimizer.zeroGrad();
    tidy(() => {
      const { x, y } = batch(step);
      mseLoss(s.model.forward(x), y).backward();
      clipGradNorm(s.model, 0.5);
    });
    s.optimizer.step();
    s.scheduler.step();
  }
}

const bits = (t: Tensor) => Array.from(new Uint32Array((t.dataSync() as Float32Array).slice().buffer));

describe('checkpoints resume training exactly', () => {
  const N = 10;
  const k = 4;
  for (const [name, make] of Object.entries(setups)) {
    it(name, async () => {
      const straight = make(1);
      train(straight, 0, N);

      const first = make(1);
      train(first, 0, k);
      const dir = mkdtempSync(join(tmpdir(), 'heed-ckpt-'));
      const path = join(dir, 'ckpt.safetensors');
      await saveCheckpoint(path, { model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, step: k, extra: { note: 'mid-run', losses: [1.5, 0.25] } });
      expect(readdirSync(dir)).toEqual(['ckpt.safetensors']);

      const resumed = make(2); // fresh objects, different initial weights
      expect(bits(resumed.model.w)).not.toEqual(bits(first.model.w));
      const info = await loadCheckpoint(path, resumed);
      expect(info).toEqual({ step: k, extra: { note: 'mid-run', losses: [1.5, 0.25] } });
      expect(bits(resumed.model.w)).toEqual(bits(first.model.w));
      expect(resumed.optimizer.paramGroups.map((g) => g.lr)).toEqual(first.optimizer.paramGroups.map((g) => g.lr));
      expect(resumed.scheduler.lastEpoch).toBe(k);
      train(resumed, info.step, N);

      expect(bits(resumed.model.w)).toEqual(bits(straight.model.w));
      expect(bits(resumed.model.b)).toEqual(bits(straight.model.b));
      expect(resumed.optimizer.paramGroups.map((g) => g.lr)).toEqual(straight.optimizer.paramGroups.map((g) => g.lr));
      const a = straight.optimizer.stateDict().state;
      const b = resumed.optimizer.stateDict().state;
      for (const i of [0, 1]) {
        for (const [key, v] of Object.entries(a[i])) {
          const other = b[i][key];
          if (typeof v === 'number') expect(other).toBe(v);
          else expect(bits(other as Tensor), `state ${i}.${key}`).toEqual(bits(v));
        }
      }
      // and the runs did move: the weights differ from the checkpoint's
      expect(bits(resumed.model.w)).not.toEqual(bits(first.model.w));
    });
  }
});

describe('checkpoint details', () => {
  it('serializes in memory and leaks nothing when loading', async () => {
    const s = setups['AdamW (amsgrad, decay mask) + warmup cosine + clipping'](3);
    train(s, 0, 2);
    const bytes = await serializeCheckpoint({ model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, step: 2 });
    const t = setups['AdamW (amsgrad, decay mask) + warmup cosine + clipping'](4);
    deserializeCheckpoint(bytes, t); // creates the optimizer state
    await checkLeaks(() => deserializeCheckpoint(bytes, t)); // replacing it frees the old state
    expect(bits(t.model.b)).toEqual(bits(s.model.b));
    const modelOnly = new TinyModel(9);
    expect(deserializeCheckpoint(bytes, { model: modelOnly })).toEqual({ step: 2, extra: undefined });
    expect(bits(modelOnly.w)).toEqual(bits(s.model.w));
  });

  it('rejects bad checkpoints and mismatched targets', async () => {
    const s = setups['SGD (Nesterov, two groups) + StepLR + clipping'](1);
    const modelOnly = await serializeCheckpoint({ model: s.model, step: 0 });
    expect(() => deserializeCheckpoint(modelOnly, s)).toThrow(/an optimizer was given but the checkpoint has no optimizer state/);
    await expect(serializeCheckpoint({ model: s.model, step: -1 })).rejects.toThrow(/step must be a non-negative integer/);
    const dir = mkdtempSync(join(tmpdir(), 'heed-ckpt-'));
    await saveFile(join(dir, 'plain.safetensors'), { weight: tensor([1]) });
    await expect(loadCheckpoint(join(dir, 'plain.safetensors'), { model: s.model })).rejects.toThrow(/not a Heed checkpoint/);
    const other = { stateDict: () => ({ weight: s.model.w }), loadStateDict: s.model.loadStateDict.bind(s.model) };
    const wrongKeys = await serializeCheckpoint({ model: other, step: 0 });
    expect(() => deserializeCheckpoint(wrongKeys, { model: s.model })).toThrow(/unexpected keys weight/);
    const adam = setups['AdamW (amsgrad, decay mask) + warmup cosine + clipping'](1);
    train(adam, 0, 1);
    const adamBytes = await serializeCheckpoint({ model: adam.model, optimizer: adam.optimizer, step: 1 });
    expect(() => deserializeCheckpoint(adamBytes, { model: s.model, optimizer: s.optimizer })).toThrow(/the dict has 1 param groups but the optimizer has 2/);
  });
});
