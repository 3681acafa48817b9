// SPDX-License-Identifier: MIT
// Seq2SeqTransformer: training on a reversal task lowers the loss and the decoder learns it;
// kv-cache greedy decoding equals full recomputation; beam size 1 equals greedy; a saved
// model reloads (config, weights, tokenizer) and decodes identically; attention maps are
// distributions over the non-padding source positions; decoding leaks no tensors.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, memory, noGrad, registerBackend, setBackend, tidy } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW } from '@heed/nn';
import { CharTokenizer, Seq2SeqTransformer, loadModel, padBatch, saveModel } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

/** Deterministic reversal data: tokens 3..V-1, target = reversed source. */
function batchOf(seed: number, n: number, V: number): { src: number[][]; tgt: number[][] } {
  let s = seed;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const src: number[][] = [];
  const tgt: number[][] = [];
  for (let i = 0; i < n; i++) {
    const len = 2 + Math.floor(rnd() * 4);
    const seq = Array.from({ length: len }, () => 3 + Math.floor(rnd() * (V - 3)));
    src.push(seq);
    tgt.push([1, ...[...seq].reverse(), 2]);
  }
  return { src, tgt };
}

const V = 12;
let model: Seq2SeqTransformer;
const losses: number[] = [];

beforeAll(async () => {
  model = new Seq2SeqTransformer({
    srcVocabSize: V, tgtVocabSize: V, dModel: 32, nhead: 4, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 64,
    dropout: 0, maxLen: 16, generator: new Generator(3),
  });
  const opt = new AdamW(model, { lr: 3e-3 });
  for (let step = 0; step < 120; step++) {
    const { src, tgt } = batchOf(step + 1, 32, V);
    const loss = tidy(() => model.loss(padBatch(src, 0), padBatch(tgt, 0)));
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push((await loss.data())[0]);
    loss.dispose();
  }
}, 120_000);

describe('Seq2SeqTransformer', () => {
  it('lowers the teacher-forced loss and learns to reverse', async () => {
    const first = losses.slice(0, 5).reduce((a, b) => a + b) / 5;
    const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
    expect(first).toBeGreaterThan(2);
    expect(last).toBeLessThan(first * 0.4);
    const { src, tgt } = batchOf(999, 40, V);
    const out = await model.greedyDecode(src, { maxLen: 8 });
    const correct = out.filter((o, i) => o.join() === tgt[i].slice(1, -1).join()).length;
    expect(correct).toBeGreaterThanOrEqual(24);
  });

  it('greedy decoding with kv-caches equals full recomputation', async () => {
    const { src } = batchOf(77, 6, V);
    const cached = await model.greedyDecode(src, { maxLen: 8 });
    model.eval();
    const srcT = padBatch(src, 0);
    const full: number[][] = [];
    for (let i = 0; i < src.length; i++) {
      const seq = [1];
      for (let t = 0; t < 8; t++) {
        const logits = noGrad(() => tidy(() => model.forward(srcT.narrow(0, i, 1), padBatch([seq], 0)).select(1, seq.length - 1).logSoftmax(-1)));
        const row = await logits.data();
        logits.dispose();
        let best = 0;
        for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
        if (best === 2) break;
        seq.push(best);
      }
      full.push(seq.slice(1));
    }
    srcT.dispose();
    model.train();
    expect(cached).toEqual(full);
  });

  it('beam search with beam 1 equals greedy, and wider beams return valid sequences', async () => {
    const { src } = batchOf(123, 12, V);
    const greedy = await model.greedyDecode(src, { maxLen: 8 });
    expect(await model.beamSearch(src, { beamSize: 1, maxLen: 8 })).toEqual(greedy);
    const beam4 = await model.beamSearch(src, { beamSize: 4, maxLen: 8 });
    expect(beam4).toHaveLength(12);
    for (const seq of beam4) for (const t of seq) expect(t).toBeGreaterThanOrEqual(3);
  });

  it('decoding restores the training flag and leaks no tensors', async () => {
    const { src } = batchOf(5, 4, V);
    model.train();
    const before = memory().numTensors;
    await model.greedyDecode(src, { maxLen: 6 });
    await model.beamSearch(src, { beamSize: 3, maxLen: 6 });
    expect(memory().numTensors).toBe(before);
    expect(model.training).toBe(true);
  });

  it('two concurrent decodes of a model in training mode both run with dropout off', async () => {
    const noisy = new Seq2SeqTransformer({
      srcVocabSize: V, tgtVocabSize: V, dModel: 32, nhead: 4, numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 64,
      dropout: 0.5, maxLen: 16, generator: new Generator(7),
    });
    const { src } = batchOf(9, 4, V);
    noisy.eval();
    const shortRef = await noisy.greedyDecode(src, { maxLen: 1 });
    const longRef = await noisy.greedyDecode(src, { maxLen: 12 });
    noisy.train();
    // The short decode finishes first; the long one must not go on with dropout switched back on.
    const [shortOut, longOut] = await Promise.all([noisy.greedyDecode(src, { maxLen: 1 }), noisy.greedyDecode(src, { maxLen: 12 })]);
    expect(shortOut).toEqual(shortRef);
    expect(longOut).toEqual(longRef);
    expect(noisy.training).toBe(true);
  });

  it('saves and reloads with its tokenizer, decoding the same', async () => {
    const tok = CharTokenizer.fromCorpus(['abcdefgh']);
    expect(tok.vocabSize).toBe(V);
    const path = join(mkdtempSync(join(tmpdir(), 'heed-models-')), 'seq2seq.safetensors');
    await saveModel(path, model, { tokenizer: tok, extra: { note: 'test' } });
    const loaded = await loadModel(path);
    expect(loaded.kind).toBe('seq2seq');
    if (loaded.kind !== 'seq2seq') return;
    expect(loaded.model.config).toEqual(model.config);
    expect(loaded.extra).toEqual({ note: 'test' });
    expect(loaded.tokenizer?.encode('cab')).toEqual(tok.encode('cab'));
    const { src } = batchOf(31, 8, V);
    expect(await loaded.model.greedyDecode(src, { maxLen: 8 })).toEqual(await model.greedyDecode(src, { maxLen: 8 }));
    const a = noGrad(() => loaded.model.eval().forward(padBatch(src, 0), padBatch([[1, 5], [1, 6]].concat(src.slice(2).map(() => [1, 7])), 0)));
    const b = noGrad(() => model.eval().forward(padBatch(src, 0), padBatch([[1, 5], [1, 6]].concat(src.slice(2).map(() => [1, 7])), 0)));
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    model.train();
    loaded.model.dispose();
  });

  it('gives attention maps that are distributions over non-padding source tokens', async () => {
    const src = padBatch([[4, 5, 6, 7], [8, 9]], 0);
    const tgtIn = padBatch([[1, 7, 6], [1, 9, 8]], 0);
    const { encoder, cross } = model.attentionMaps(src, tgtIn);
    expect(encoder).toHaveLength(1);
    expect(cross[0].shape).toEqual([2, 3, 4]);
    const w = (await cross[0].array()) as number[][][];
    for (const row of w[0]) expect(row.reduce((a, b) => a + b)).toBeCloseTo(1, 5);
    for (const row of w[1]) {
      expect(row[2]).toBe(0);
      expect(row[3]).toBe(0);
      expect(row[0] + row[1]).toBeCloseTo(1, 5);
    }
    for (const t of [...encoder, ...cross, src, tgtIn]) t.dispose();
  });

  it('validates its configuration', () => {
    expect(() => new Seq2SeqTransformer({ srcVocabSize: 10, tgtVocabSize: 12, shareEmbeddings: true })).toThrow(/equal vocab sizes/);
    expect(() => new Seq2SeqTransformer({ srcVocabSize: 10, tgtVocabSize: 10, dModel: 30, nhead: 4 })).toThrow(/divisible by nhead/);
  });
});
