// SPDX-License-Identifier: MIT
// `summarize/train.mjs --model DIR`: fine-tunes a downloaded BART checkpoint
// (AutoModelForSeq2SeqLM.fromPretrained + the checkpoint's tokenizer.json via AutoTokenizer)
// on the same generated reports, as transformers' run_summarization.py does: the report is
// the encoder input, the headline's token ids (with the tokenizer's special tokens, padding
// set to -100) are the labels, and the model shifts them right into its decoder inputs. Then
// it reports ROUGE-1/2/L of `model.generate()` on the held-out reports against the lead
// baseline, saves the model and tokenizer with savePretrained and checks the reload.
// Invariants: nothing is downloaded; `--resume` continues bit for bit (pretrained-run.mjs).
import { Generator, getBackend, tensor } from '@heed/core';
import { AdamW, CosineAnnealingLR, decayMatricesOnly } from '@heed/nn';
import { AutoModelForSeq2SeqLM } from '@heed/models';
import {
  DataLoader, attachGenerator, corpusRouge, disposeBatch, lossCurveSvg, resolveEndStep, selectBackend, terminalProgress, trainLoop, writeTextFile,
} from '@heed/train/node';
import {
  fineTuneFiles, guardFineTuneOutput, loadTokenizerFor, readFineTuneSettings, restoreFineTuneCheckpoint, saveAndReload, saveFineTuneCheckpoint,
} from '../finetune-classifier/pretrained-run.mjs';
import { buildDataset, leadSentence } from './data.mjs';

function makeOptimizer(model, s) {
  const optimizer = new AdamW(model, { lr: s.lr, weightDecay: 0.01, weightDecayFilter: decayMatricesOnly });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: s.totalSteps, warmupSteps: Math.max(1, Math.round(s.totalSteps * 0.05)), minLr: 0 });
  return { optimizer, scheduler };
}

/**
 * Runs the `--model DIR` fine-tuning with the parsed options of train.mjs.
 *
 * @example
 * await finetunePretrained(opts); // opts from parseTrainingArgs, opts.model = 'checkpoints/bart-base'
 * @param {import('@heed/train/node').TrainingArgs} opts
 */
export async function finetunePretrained(opts) {
  const files = fineTuneFiles(opts.out);
  const backend = await selectBackend(opts.backend, opts);
  let settings = {
    model: opts.model, tokenizer: opts.tokenizer ?? opts.model, trainSize: opts.trainSize, testSize: opts.testSize, maxLen: opts.maxLen,
    maxTargetLength: opts.maxTargetLength, batchSize: opts.batchSize, lr: opts.lr, totalSteps: opts.steps, seed: opts.seed,
  };
  if (opts.resume) settings = readFineTuneSettings(files.checkpoint);
  const model = await AutoModelForSeq2SeqLM.fromPretrained(settings.model);
  const tokenizer = await loadTokenizerFor(model, settings.tokenizer);
  const { optimizer, scheduler } = makeOptimizer(model, settings);
  let startStep = 0; let history = []; let generator;
  if (opts.resume) {
    ({ step: startStep, generator, history } = await restoreFineTuneCheckpoint(files.checkpoint, { model, optimizer, scheduler }));
    console.log(`resumed from ${files.checkpoint} at step ${startStep}`);
  } else {
    generator = new Generator(settings.seed);
    attachGenerator(model, generator);
  }
  // Inputs never exceed the model's learned positions (max_position_embeddings).
  const positions = model.config.max_position_embeddings ?? Infinity;
  const maxLen = Math.min(settings.maxLen, positions);
  const maxTargetLength = Math.min(settings.maxTargetLength, positions);
  const endStep = resolveEndStep(opts, settings);
  const { train, test } = buildDataset({ trainSize: settings.trainSize, testSize: settings.testSize, seed: settings.seed });
  console.log(`summarize --model on '${backend}': ${model.constructor.name} from ${settings.model} (${model.numParameters().toLocaleString('en')} parameters, ` +
    `vocabulary ${tokenizer.vocabSize}); ${train.length} training / ${test.length} held-out reports; steps ${startStep + 1}..${endStep}`);
  guardFineTuneOutput(opts, endStep);

  const encodeReports = (reports) => tokenizer.encodeBatch(reports.map((r) => r.text), { padding: true, truncation: true, maxLength: maxLen, returnTensors: 'heed' });
  const labelsOf = (reports) => {
    const { inputIds, attentionMask } = tokenizer.encodeBatch(reports.map((r) => r.headline), { padding: true, truncation: true, maxLength: maxTargetLength });
    return tensor(inputIds.map((row, i) => row.map((id, j) => (attentionMask[i][j] === 1 ? id : -100))), { dtype: 'int32' });
  };
  const batchOf = (reports) => {
    const { inputIds, attentionMask } = encodeReports(reports);
    return { inputIds, attentionMask, labels: labelsOf(reports) };
  };
  const loader = new DataLoader({ length: train.length, get: (i) => train[i] }, {
    batchSize: settings.batchSize, shuffle: true, seed: settings.seed + 1, dropLast: true, prefetch: 1, collate: batchOf,
  });
  let epoch = Math.floor(startStep / loader.length);
  let batches = loader.epoch({ epoch, start: startStep % loader.length });
  const nextBatch = async () => {
    let r = await batches.next();
    if (r.done) {
      batches = loader.epoch({ epoch: ++epoch });
      r = await batches.next();
    }
    return r.value;
  };
  const forward = (b) => model.forward(b.inputIds, { attentionMask: b.attentionMask, labels: b.labels });

  const result = await trainLoop({
    model, optimizer, scheduler, startStep, endStep, history,
    progress: terminalProgress({ total: endStep, start: startStep, label: 'summarize', quiet: opts.quiet }),
    batchLoss: async () => {
      const b = await nextBatch();
      return { loss: forward(b).loss, tokens: b.inputIds.size + b.labels.size, dispose: () => disposeBatch(b) };
    },
    checkpointEvery: opts.checkpointEvery,
    onCheckpoint: (step) => saveFineTuneCheckpoint(files.checkpoint, { model, optimizer, scheduler, step, generator, history, settings }),
  });
  await batches.return();

  // ROUGE of generate() on the held-out reports, against the lead sentence.
  const headlines = [];
  for (let i = 0; i < test.length; i += 32) {
    const { inputIds, attentionMask } = encodeReports(test.slice(i, i + 32));
    const out = await model.generate(inputIds, { attentionMask, maxNewTokens: maxTargetLength - 1, numBeams: opts.beamSize });
    headlines.push(...out.map((ids) => tokenizer.decode(ids, { skipSpecialTokens: true }).trim()));
    inputIds.dispose();
    attentionMask.dispose();
  }
  const references = test.map((r) => r.headline);
  const scores = corpusRouge(headlines, references);
  const lead = corpusRouge(test.map(leadSentence), references);

  const probe = batchOf(test.slice(0, 4));
  const reloadMaxAbsDiff = await saveAndReload(model, tokenizer, files.model,
    (dir) => AutoModelForSeq2SeqLM.fromPretrained(dir), (m) => m.forward(probe.inputIds, { attentionMask: probe.attentionMask, labels: probe.labels }).logits);
  disposeBatch(probe);
  await writeTextFile(files.lossCurve, await lossCurveSvg({ title: 'summarize --model: headline token cross-entropy', points: history }));

  const trainLosses = history.filter((p) => p.series === 'train').map((p) => p.loss);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const pts = (s) => ({ rouge1: 100 * s.rouge1.f1, rouge2: 100 * s.rouge2.f1, rougeL: 100 * s.rougeL.f1 });
  const summary = {
    example: 'summarize', mode: 'pretrained', backend: getBackend().name, model: settings.model, architecture: model.constructor.name,
    parameters: model.numParameters(), steps: endStep, batchSize: settings.batchSize, trainSize: train.length, testSize: test.length,
    trainSeconds: result.seconds, tokensPerSecond: result.tokensPerSecond, finalTrainLoss: result.lastLoss,
    trainLossFirstEpoch: mean(trainLosses.slice(0, loader.length)), trainLossLastEpoch: mean(trainLosses.slice(-loader.length)),
    rouge: pts(scores), leadBaseline: pts(lead), rougeLMargin: 100 * (scores.rougeL.f1 - lead.rougeL.f1), beamSize: opts.beamSize, reloadMaxAbsDiff,
    examples: test.slice(0, 3).map((r, i) => ({ report: r.text, reference: r.headline, model: headlines[i] })),
    files: { checkpoint: files.checkpoint, model: files.model, lossCurve: files.lossCurve },
  };
  await writeTextFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);

  const f = (x) => x.toFixed(1).padStart(6);
  console.log(`\ntrained ${endStep - startStep} steps in ${result.seconds.toFixed(1)} s (${Math.round(result.tokensPerSecond)} tokens/s), final loss ${result.lastLoss.toFixed(4)}`);
  console.log(`ROUGE F1 on ${test.length} held-out reports     R-1    R-2    R-L`);
  console.log(`  fine-tuned model (${opts.beamSize > 1 ? `beam ${opts.beamSize}` : 'greedy'})        ${f(summary.rouge.rouge1)} ${f(summary.rouge.rouge2)} ${f(summary.rouge.rougeL)}`);
  console.log(`  lead sentence baseline           ${f(summary.leadBaseline.rouge1)} ${f(summary.leadBaseline.rouge2)} ${f(summary.leadBaseline.rougeL)}`);
  console.log(`saved with savePretrained and reloaded: largest logit difference ${reloadMaxAbsDiff}`);
  console.log(`\nwrote:\n  loss curve      ${files.lossCurve}\n  checkpoint      ${files.checkpoint}\n  model           ${files.model}\n  summary         ${files.summary}`);
}
