// SPDX-License-Identifier: MIT
// The from-scratch summarization run: the BPE tokenizer (trained on the training reports and
// headlines only), the Seq2SeqTransformer, its optimizer and schedule, the encoding of a
// report and its headline, and the DataLoader of shuffled training epochs.
// Invariants: the same settings give the same tokenizer, initial weights and data order; the
// order of epoch e depends only on the seed and e, so `--resume` continues with the same
// batches; a batch's tensors are released by the `dispose` of its step.
import { Generator } from '@heed/core';
import { AdamW, CosineAnnealingLR, decayMatricesOnly } from '@heed/nn';
import { BpeTokenizer, Seq2SeqTransformer, padBatch } from '@heed/models';
import { DataLoader, attachGenerator, disposeBatch } from '@heed/train';

/**
 * Optimizer and schedule (the same on resume): AdamW, 5% warmup, cosine decay to 5%.
 *
 * @example
 * const { optimizer, scheduler } = makeOptimizer(model, generator, settings);
 * @param {import('@heed/models').AnyModel} model @param {Generator} _generator @param {{ lr: number, totalSteps: number }} s
 */
export function makeOptimizer(model, _generator, s) {
  const optimizer = new AdamW(model, { lr: s.lr, betas: [0.9, 0.98], weightDecay: 0.01, weightDecayFilter: decayMatricesOnly });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: s.totalSteps, warmupSteps: Math.max(1, Math.round(s.totalSteps * 0.05)), minLr: s.lr * 0.05 });
  return { optimizer, scheduler };
}

/**
 * A fresh model, tokenizer and optimizer for the settings.
 *
 * @example
 * const { model, tokenizer } = createRun(settings, train);
 * @param {{ vocabSize: number, dModel: number, layers: number, seed: number, lr: number, totalSteps: number, maxLen: number }} settings
 * @param {{ text: string, headline: string }[]} train
 */
export function createRun(settings, train) {
  const tokenizer = BpeTokenizer.train(train.flatMap((r) => [r.text, r.headline]), { vocabSize: settings.vocabSize });
  const generator = new Generator(settings.seed);
  const model = new Seq2SeqTransformer({
    srcVocabSize: tokenizer.vocabSize, tgtVocabSize: tokenizer.vocabSize, shareEmbeddings: true, dModel: settings.dModel, nhead: 4,
    numEncoderLayers: settings.layers, numDecoderLayers: settings.layers, dimFeedforward: 2 * settings.dModel, dropout: 0.0,
    maxLen: settings.maxLen, generator,
  });
  attachGenerator(model, generator);
  const { optimizer, scheduler } = makeOptimizer(model, generator, settings);
  return { tokenizer, generator, model, optimizer, scheduler };
}

/**
 * Token ids of a report (source) and of its headline (target, with BOS and EOS), the report
 * cut to `maxLen` tokens.
 *
 * @example
 * const { src, tgt } = encodePair(tokenizer, report, 128);
 * @param {import('@heed/models').Tokenizer} tokenizer @param {{ text: string, headline: string }} r @param {number} maxLen
 */
export function encodePair(tokenizer, r, maxLen) {
  return { src: tokenizer.encode(r.text).slice(0, maxLen), tgt: tokenizer.encode(r.headline, { addBos: true, addEos: true }).slice(0, maxLen) };
}

/**
 * The training batches: shuffled epochs of the encoded training pairs, each batch padded to
 * its longest report and headline, short last batches dropped.
 *
 * @example
 * const batches = trainingBatches(pairs, { batchSize: 32, seed: 1, padId: 0, startStep: 0 });
 * const { src, tgt } = await batches.next();
 * @param {{ src: number[], tgt: number[] }[]} pairs
 * @param {{ batchSize: number, seed: number, padId: number, startStep: number }} o
 */
export function trainingBatches(pairs, { batchSize, seed, padId, startStep }) {
  const loader = new DataLoader({ length: pairs.length, get: (i) => pairs[i] }, {
    batchSize, shuffle: true, seed, dropLast: true, prefetch: 1,
    collate: (items) => ({ src: padBatch(items.map((p) => p.src), padId), tgt: padBatch(items.map((p) => p.tgt), padId) }),
  });
  let epoch = Math.floor(startStep / loader.length);
  let batches = loader.epoch({ epoch, start: startStep % loader.length });
  return {
    async next() {
      let r = await batches.next();
      if (r.done) {
        batches = loader.epoch({ epoch: ++epoch });
        r = await batches.next();
      }
      return r.value;
    },
    /** Disposes the batch prefetched for a step that will not run. */
    close: () => batches.return(),
    dispose: disposeBatch,
  };
}
