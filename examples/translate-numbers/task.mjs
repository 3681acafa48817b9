// SPDX-License-Identifier: MIT
// The translate-numbers run, shared by the Node script (train.mjs) and the browser demo
// (examples/browser): the tokenizer, model, optimizer and schedule built from a run's
// settings, the encoding of one example, and one training batch. Runs in Node and in a Web
// Worker (no node: imports).
// Invariants: the same settings give the same tokenizer, initial weights, optimizer and data
// order on every platform; a batch's tensors are released by the `dispose` it returns.
import { Generator } from '@heed/core';
import { AdamW, CosineAnnealingLR } from '@heed/nn';
import { BpeTokenizer, Seq2SeqTransformer, padBatch } from '@heed/models';
import { Rng, attachGenerator } from '@heed/train';
import { TAGS, sampleExample, sourceText, splitNumbers, targetText, tokenizerCorpus } from './data.mjs';

/**
 * The settings of a run (stored in checkpoints; the defaults are the Node script's).
 *
 * @example
 * const settings = { ...DEFAULT_SETTINGS, totalSteps: 100 };
 */
export const DEFAULT_SETTINGS = {
  maxNumber: 1000, heldOut: 150, vocabSize: 500, dModel: 64, layers: 2, batchSize: 64, lr: 3e-3, totalSteps: 600, seed: 0, dropout: 0.0,
};

/**
 * Optimizer and schedule for a model (the same on resume): AdamW, 5% warmup, cosine decay.
 *
 * @example
 * const { optimizer, scheduler } = makeOptimizer(model, generator, settings);
 * @param {import('@heed/models').AnyModel} model @param {Generator} _generator @param {typeof DEFAULT_SETTINGS} s
 */
export function makeOptimizer(model, _generator, s) {
  const optimizer = new AdamW(model, { lr: s.lr, betas: [0.9, 0.98], weightDecay: 0.01 });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: s.totalSteps, warmupSteps: Math.max(1, Math.round(s.totalSteps * 0.05)), minLr: s.lr * 0.05 });
  return { optimizer, scheduler };
}

/**
 * A fresh run: the number split, a BPE tokenizer trained on the training numbers only, the
 * model (dropout stream attached), its optimizer and schedule, and the data RNG.
 *
 * @example
 * const run = createRun({ ...DEFAULT_SETTINGS, totalSteps: 40 });
 * @param {typeof DEFAULT_SETTINGS} settings
 */
export function createRun(settings) {
  const { train } = splitNumbers({ maxNumber: settings.maxNumber, heldOut: settings.heldOut, seed: settings.seed });
  const tokenizer = BpeTokenizer.train(tokenizerCorpus(train), { vocabSize: settings.vocabSize, extraSpecialTokens: TAGS });
  const generator = new Generator(settings.seed);
  const model = new Seq2SeqTransformer({
    srcVocabSize: tokenizer.vocabSize, tgtVocabSize: tokenizer.vocabSize, shareEmbeddings: true, dModel: settings.dModel, nhead: 4,
    numEncoderLayers: settings.layers, numDecoderLayers: settings.layers, dimFeedforward: 2 * settings.dModel, dropout: settings.dropout,
    maxLen: 64, generator,
  });
  attachGenerator(model, generator);
  const { optimizer, scheduler } = makeOptimizer(model, generator, settings);
  return { tokenizer, generator, model, optimizer, scheduler, rng: new Rng(settings.seed + 1) };
}

/**
 * Token ids of an example's source (`<de> <es> zweihundertdrei`).
 *
 * @example
 * encodeSource(tokenizer, { n: 203, from: 'de', to: 'es' });
 * @param {import('@heed/models').Tokenizer} tokenizer @param {{ n: number, from: string, to: string }} e
 */
export function encodeSource(tokenizer, e) {
  return tokenizer.encode(sourceText(e.n, e.from, e.to));
}

/**
 * Token ids of an example's target, with BOS and EOS (teacher forcing).
 *
 * @example
 * encodeTarget(tokenizer, { n: 203, from: 'de', to: 'es' });
 * @param {import('@heed/models').Tokenizer} tokenizer @param {{ n: number, to: string }} e
 */
export function encodeTarget(tokenizer, e) {
  return tokenizer.encode(targetText(e.n, e.to), { addBos: true, addEos: true });
}

/**
 * Padded source/target tensors of a list of examples. Without `padLength` each side is padded to
 * its longest sequence; with `{ src, tgt }` to those fixed lengths (one batch shape, e.g. for a
 * compiled step); with a function, to `padLength(longest)` for each side's longest sequence (e.g.
 * a bucket length).
 *
 * @example
 * const { src, tgt } = encodeBatch(tokenizer, items);
 * const fixed = encodeBatch(tokenizer, items, { src: 12, tgt: 16 });
 * const bucketed = encodeBatch(tokenizer, items, (longest) => bucketLength(longest, [16, 24, 32]));
 * @param {import('@heed/models').Tokenizer} tokenizer @param {{ n: number, from: string, to: string }[]} items
 * @param {{ src: number, tgt: number } | ((longest: number) => number)} [padLength]
 */
export function encodeBatch(tokenizer, items, padLength) {
  const pad = (seqs, side) => {
    const length = typeof padLength === 'function' ? padLength(Math.max(...seqs.map((q) => q.length))) : padLength?.[side];
    return padBatch(seqs, tokenizer.padId, length);
  };
  const src = pad(items.map((e) => encodeSource(tokenizer, e)), 'src');
  const tgt = pad(items.map((e) => encodeTarget(tokenizer, e)), 'tgt');
  return { src, tgt };
}

/**
 * One training batch drawn with `rng` from the training numbers, as trainLoop's `batchLoss` wants it.
 *
 * @example
 * await trainLoop({ ...run, batchLoss: () => trainingBatch(run.model, run.tokenizer, train, run.rng, 64) });
 * @param {Seq2SeqTransformer} model @param {import('@heed/models').Tokenizer} tokenizer
 * @param {number[]} numbers @param {Rng} rng @param {number} batchSize
 */
export function trainingBatch(model, tokenizer, numbers, rng, batchSize) {
  const items = Array.from({ length: batchSize }, () => sampleExample(numbers, rng));
  const { src, tgt } = encodeBatch(tokenizer, items);
  return { loss: model.loss(src, tgt), tokens: src.size + tgt.size, dispose: () => { src.dispose(); tgt.dispose(); } };
}
