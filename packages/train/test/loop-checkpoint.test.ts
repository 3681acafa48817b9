// SPDX-License-Identifier: MIT
// trainLoop and training checkpoints on a real (tiny) Seq2SeqTransformer with dropout, CPU
// backend: the loss falls on a copy task; evaluation and checkpoints run at their cadence and
// at the last step; shouldStop stops between steps; a step leaks no tensors; a non-finite loss
// is a HeedError; and 3 steps + checkpoint bytes + restore + 3 steps gives the same weights,
// bit for bit, as 6 steps at once (data RNG, dropout stream, AdamW moments and the schedule
// all restored).
import { describe, expect, it } from 'vitest';
import { Generator, HeedError, memory, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW, CosineAnnealingLR, saveSafetensors } from '@heed/nn';
import { CharTokenizer, Seq2SeqTransformer, padBatch, type AnyModel } from '@heed/models';
import {
  Rng, attachGenerator, isDue, readTrainingCheckpointInfo, restoreTrainingCheckpoint, serializeTrainingCheckpoint, trainLoop,
  type LossPoint, type MakeOptimizer, type TrainingSettings,
} from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const WORDS = ['abc', 'bca', 'cab', 'aabb', 'bbcc', 'acab', 'cbca', 'ab', 'ca', 'bcc'];
const tokenizer = CharTokenizer.fromCorpus(WORDS);
const settings: TrainingSettings = { lr: 1e-2, totalSteps: 6, batchSize: 6 };

const makeOptimizer: MakeOptimizer = (model, _generator, s) => {
  const optimizer = new AdamW(model, { lr: s.lr as number });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: s.totalSteps as number, warmupSteps: 1 });
  return { optimizer, scheduler };
};

function freshRun(seed = 0) {
  const generator = new Generator(seed);
  const model = new Seq2SeqTransformer({
    srcVocabSize: tokenizer.vocabSize, tgtVocabSize: tokenizer.vocabSize, shareEmbeddings: true, dModel: 16, nhead: 2,
    numEncoderLayers: 1, numDecoderLayers: 1, dimFeedforward: 32, dropout: 0.2, maxLen: 16, generator,
  });
  attachGenerator(model, generator);
  return { model, generator, rng: new Rng(seed + 1), ...makeOptimizer(model, generator, settings) };
}

/** A copy-task batch drawn with `rng`. */
function batchLoss(model: Seq2SeqTransformer, rng: Rng, n: number) {
  const items = Array.from({ length: n }, () => WORDS[rng.int(WORDS.length)]);
  const src = padBatch(items.map((w) => tokenizer.encode(w)), tokenizer.padId);
  const tgt = padBatch(items.map((w) => tokenizer.encode(w, { addBos: true, addEos: true })), tokenizer.padId);
  return { loss: model.loss(src, tgt), tokens: src.size + tgt.size, dispose: () => { src.dispose(); tgt.dispose(); } };
}

async function weights(model: AnyModel): Promise<Float32Array[]> {
  return Promise.all([...model.stateDict().values()].map(async (t) => Float32Array.from(await t.data())));
}

describe('isDue', () => {
  it('is due every n steps and at the end', () => {
    expect([1, 2, 3, 4, 5].filter((s) => isDue(s, 2, 5))).toEqual([2, 4, 5]);
    expect([1, 2, 3].filter((s) => isDue(s, undefined, 3))).toEqual([3]);
    expect([1, 2, 3].filter((s) => isDue(s, 0, 3, false))).toEqual([]);
  });
});

describe('trainLoop', () => {
  it('lowers the loss, runs eval/checkpoints at their cadence, leaks nothing per step', async () => {
    const { model, rng } = freshRun();
    const optimizer = new AdamW(model, { lr: 1e-2 });
    const history: LossPoint[] = [];
    const evals: number[] = [];
    const checkpoints: number[] = [];
    const live: number[] = [];
    const logged: string[] = [];
    const result = await trainLoop({
      model, optimizer, startStep: 0, endStep: 25, history, batchLoss: () => batchLoss(model, rng, 8),
      evalEvery: 10, onEval: (step, log) => { evals.push(step); log(`eval ${step}`); },
      checkpointEvery: 12, onCheckpoint: (step) => { checkpoints.push(step); },
      onStep: () => { live.push(memory().numTensors); },
      progress: { update: () => undefined, log: (l) => logged.push(l), stop: () => logged.push('stop') },
    });
    expect(history.map((h) => h.step)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect(history.every((h) => h.series === 'train')).toBe(true);
    const first = history.slice(0, 3).reduce((a, h) => a + h.loss, 0) / 3;
    const last = history.slice(-3).reduce((a, h) => a + h.loss, 0) / 3;
    expect(last).toBeLessThan(0.8 * first);
    expect(evals).toEqual([10, 20, 25]);
    expect(checkpoints).toEqual([12, 24, 25]);
    expect(logged).toEqual(['eval 10', 'eval 20', 'eval 25', 'stop']);
    expect(new Set(live.slice(1)).size).toBe(1); // after the optimizer's state exists, the count stays flat
    expect(result).toMatchObject({ lastStep: 25, stopped: false, lastLoss: history[24].loss });
    expect(result.tokensPerSecond).toBeGreaterThan(0);
  });

  it('stops between steps when shouldStop says so, and rejects a non-finite loss', async () => {
    const { model, optimizer, rng } = freshRun();
    const history: LossPoint[] = [];
    let steps = 0;
    const r = await trainLoop({
      model, optimizer, startStep: 0, endStep: 10, history, batchLoss: () => batchLoss(model, rng, 4),
      onStep: () => { steps++; }, shouldStop: () => steps >= 3,
    });
    expect(r).toMatchObject({ lastStep: 3, stopped: true });
    expect(history.length).toBe(3);
    const before = memory().numTensors;
    await expect(trainLoop({
      model, optimizer, startStep: 3, endStep: 4, history,
      batchLoss: () => {
        const b = batchLoss(model, rng, 4);
        return { tokens: b.tokens, loss: b.loss.mul(NaN), dispose: () => { b.loss.dispose(); b.dispose(); } };
      },
    })).rejects.toThrow(HeedError);
    expect(memory().numTensors).toBe(before);
  });
});

describe('training checkpoints', () => {
  it('3 steps + checkpoint + restore + 3 steps = 6 steps at once, bit for bit', async () => {
    const straight = freshRun(5);
    const h1: LossPoint[] = [];
    await trainLoop({ ...straight, startStep: 0, endStep: 6, history: h1, batchLoss: () => batchLoss(straight.model, straight.rng, 6) });

    const first = freshRun(5);
    const h2: LossPoint[] = [];
    let bytes: Uint8Array | null = null;
    await trainLoop({
      ...first, startStep: 0, endStep: 3, history: h2, batchLoss: () => batchLoss(first.model, first.rng, 6),
      onCheckpoint: async (step) => { bytes = await serializeTrainingCheckpoint({ ...first, step, tokenizer, history: h2, settings }); },
    });
    first.model.dispose();
    const info = readTrainingCheckpointInfo(bytes!);
    expect(info.step).toBe(3);
    expect(info.extra.kind).toBe('seq2seq');
    expect(info.extra.settings).toEqual(settings);
    const r = restoreTrainingCheckpoint(bytes!, makeOptimizer);
    expect(r.step).toBe(3);
    expect(r.tokenizer.encode('abc')).toEqual(tokenizer.encode('abc'));
    const rng = new Rng(0);
    rng.state = r.rngState;
    await trainLoop({ ...r, startStep: r.step, endStep: 6, history: r.history, batchLoss: () => batchLoss(r.model as Seq2SeqTransformer, rng, 6) });

    expect(r.history.map((h) => h.loss)).toEqual(h1.map((h) => h.loss));
    const [a, b] = [await weights(straight.model), await weights(r.model)];
    expect(b.length).toBe(a.length);
    a.forEach((w, i) => expect(b[i]).toEqual(w));
  });

  it('names the problem when the bytes are not a training checkpoint', async () => {
    const plain = await saveSafetensors(new Map(), { format: 'pt' });
    expect(() => readTrainingCheckpointInfo(plain, 'x.safetensors')).toThrow(/x\.safetensors is not a Heed training checkpoint/);
  });
});
