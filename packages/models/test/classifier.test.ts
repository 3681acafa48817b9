// SPDX-License-Identifier: MIT
// TransformerClassifier: training lowers the loss on an order-dependent task (is token 4
// before token 5?) for both poolings; padding does not change predictions; a saved model
// reloads and predicts the same; attention maps include the CLS position.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, noGrad, registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW } from '@heed/nn';
import { TransformerClassifier, loadModel, padBatch, saveModel, type Pooling } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

/** Sequences containing tokens 4 and 5 once each among fillers 6..9; label 1 when 4 comes first. */
function data(seed: number, n: number): { seqs: number[][]; labels: number[] } {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const seqs: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(rnd() * 4);
    const seq = Array.from({ length: len }, () => 6 + Math.floor(rnd() * 4));
    const a = Math.floor(rnd() * len);
    let b = Math.floor(rnd() * len);
    if (b === a) b = (a + 1) % len;
    seq[a] = 4;
    seq[b] = 5;
    seqs.push(seq);
    labels.push(a < b ? 1 : 0);
  }
  return { seqs, labels };
}

async function train(pooling: Pooling): Promise<{ model: TransformerClassifier; losses: number[] }> {
  const model = new TransformerClassifier({ vocabSize: 10, numClasses: 2, dModel: 32, nhead: 4, numLayers: 2, dropout: 0, pooling, generator: new Generator(2) });
  const opt = new AdamW(model, { lr: 3e-3 });
  const losses: number[] = [];
  for (let step = 0; step < 80; step++) {
    const { seqs, labels } = data(step + 10, 32);
    const ids = padBatch(seqs, 0);
    const y = tensor(labels, { dtype: 'int32' });
    const loss = model.loss(ids, y);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push((await loss.data())[0]);
    for (const t of [loss, ids, y]) t.dispose();
  }
  return { model, losses };
}

async function accuracy(model: TransformerClassifier): Promise<number> {
  const { seqs, labels } = data(4242, 100);
  const probs = await model.predictProba(padBatch(seqs, 0));
  return probs.filter((p, i) => (p[1] > p[0] ? 1 : 0) === labels[i]).length / labels.length;
}

describe('TransformerClassifier', () => {
  for (const pooling of ['mean', 'cls'] as const) {
    it(`learns an order-dependent label with ${pooling} pooling`, async () => {
      const { model, losses } = await train(pooling);
      const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
      const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
      expect(first).toBeGreaterThan(0.6);
      expect(last).toBeLessThan(first * 0.6);
      expect(await accuracy(model)).toBeGreaterThan(0.8);

      // Padding changes nothing.
      model.eval();
      const short = noGrad(() => model.forward(padBatch([[6, 4, 7, 5]], 0)));
      const padded = noGrad(() => model.forward(padBatch([[6, 4, 7, 5, 0, 0, 0]], 0)));
      const [a, b] = [await short.data(), await padded.data()];
      expect(Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1])).toBeLessThan(1e-5);

      // Save, reload, same predictions; attention maps cover CLS when used.
      const path = join(mkdtempSync(join(tmpdir(), 'heed-clf-')), 'clf.safetensors');
      await saveModel(path, model);
      const loaded = await loadModel(path);
      if (loaded.kind !== 'classifier') throw new Error(`expected a classifier, got ${loaded.kind}`);
      expect(loaded.tokenizer).toBeNull();
      const ids = padBatch(data(7, 10).seqs, 0);
      expect(await loaded.model.predictProba(ids)).toEqual(await model.predictProba(ids));
      const maps = model.attentionMaps(ids);
      const L = ids.shape[1] + (pooling === 'cls' ? 1 : 0);
      expect(maps[0].shape).toEqual([10, L, L]);
      for (const t of [...maps, ids, short, padded]) t.dispose();
      loaded.model.dispose();
      model.dispose();
    }, 60_000);
  }

  it('validates its configuration', () => {
    expect(() => new TransformerClassifier({ vocabSize: 10, numClasses: 2, pooling: 'max' as Pooling })).toThrow(/pooling must be 'mean' or 'cls'/);
    expect(() => new TransformerClassifier({ vocabSize: 10, numClasses: 0 })).toThrow(/numClasses must be a positive integer/);
  });
});
