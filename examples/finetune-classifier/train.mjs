#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Fine-tunes a downloaded BERT checkpoint with a new two-class head on the sentiment
// sentences of examples/sentiment (plain, negated, "X, but Y", "although X, Y"), tokenized by
// the checkpoint's own tokenizer.json (AutoTokenizer). The model comes from
// BertForSequenceClassification.fromPretrainedEncoder(DIR, { numLabels: 2 }) (HF's
// from_pretrained(DIR, num_labels=2, ignore_mismatched_sizes=True): the head, and the pooler
// when the checkpoint has none, initialised as Hugging Face does). Reports test accuracy
// overall and per sentence kind against the majority class, writes a loss curve, a training
// checkpoint (exact `--resume`) and the fine-tuned model with savePretrained (config.json,
// model.safetensors, tokenizer.json), which it reloads with AutoModelForSequenceClassification
// and checks. `--model DIR` is required; nothing is downloaded.
// Run `node examples/finetune-classifier/train.mjs --help` for the options.
import { fileURLToPath } from 'node:url';
import { Generator, getBackend, noGrad, tensor } from '@heed/core';
import { AdamW, CosineAnnealingLR, decayMatricesOnly } from '@heed/nn';
import { AutoModelForSequenceClassification, BertForSequenceClassification } from '@heed/models';
import {
  DataLoader, attachGenerator, disposeBatch, lossCurveSvg, parsePositiveInt, parseTrainingArgs, resolveEndStep, selectBackend,
  terminalProgress, trainLoop, writeTextFile,
} from '@heed/train/node';
import { KINDS, buildDataset } from '../sentiment/data.mjs';
import { accuracyOf, majorityBaseline } from '../sentiment/baselines.mjs';
import {
  checkResumable, fail, fineTuneFiles, readFineTuneSettings, guardFineTuneOutput, loadTokenizerFor, restoreFineTuneCheckpoint, saveAndReload, saveFineTuneCheckpoint,
} from './pretrained-run.mjs';

const opts = parseTrainingArgs({
  name: 'finetune-classifier',
  description: 'Fine-tune a downloaded BERT checkpoint (--model DIR) with a new 2-class head on the sentiment sentences; report test accuracy.',
  outDir: fileURLToPath(new URL('../out/finetune-classifier/', import.meta.url)),
  defaults: { steps: 300, batchSize: 16, lr: 3e-5, checkpointEvery: 100, evalEvery: 50, trainSize: 4000, testSize: 500, maxLength: 64 },
  quickDefaults: { steps: 10, batchSize: 8, checkpointEvery: 5, evalEvery: 5, trainSize: 64, testSize: 32 },
  extra: (p) => p
    .option('--model <dir>', 'a BERT checkpoint folder (any BERT head or BertModel): config.json, model.safetensors, tokenizer.json (required)')
    .option('--tokenizer <dir>', 'folder of tokenizer.json (default: --model)')
    .option('--train-size <n>', 'training sentences', parsePositiveInt)
    .option('--test-size <n>', 'test sentences (distinct from training)', parsePositiveInt)
    .option('--max-length <n>', 'sentences are cut to this many tokens, special tokens included', parsePositiveInt),
});
if (opts.model === undefined) {
  fail('--model <dir> is required: a BERT checkpoint folder with config.json, model.safetensors and tokenizer.json ' +
    '(e.g. `huggingface-cli download google-bert/bert-base-uncased config.json model.safetensors tokenizer.json tokenizer_config.json --local-dir bert`).');
}
const files = fineTuneFiles(opts.out);
const backend = await selectBackend(opts.backend, opts);

function makeOptimizer(model, s) {
  const optimizer = new AdamW(model, { lr: s.lr, weightDecay: 0.01, weightDecayFilter: decayMatricesOnly });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: s.totalSteps, warmupSteps: Math.max(1, Math.round(s.totalSteps * 0.1)), minLr: 0 });
  return { optimizer, scheduler };
}

let settings = {
  model: opts.model, tokenizer: opts.tokenizer ?? opts.model, trainSize: opts.trainSize, testSize: opts.testSize, maxLength: opts.maxLength,
  batchSize: opts.batchSize, lr: opts.lr, totalSteps: opts.steps, seed: opts.seed,
};
let startStep = 0; let history = []; let generator;
if (opts.resume) {
  checkResumable(files.checkpoint);
  settings = readFineTuneSettings(files.checkpoint);
}
const model = await BertForSequenceClassification.fromPretrainedEncoder(settings.model, { numLabels: 2 });
if (model.numLabels !== 2) fail(`${settings.model}: expected a 2-label classification head, got ${model.numLabels} labels.`);
const tokenizer = await loadTokenizerFor(model, settings.tokenizer);
const { optimizer, scheduler } = makeOptimizer(model, settings);
if (opts.resume) {
  ({ step: startStep, generator, history } = await restoreFineTuneCheckpoint(files.checkpoint, { model, optimizer, scheduler }));
  console.log(`resumed from ${files.checkpoint} at step ${startStep}`);
} else {
  generator = new Generator(settings.seed);
  attachGenerator(model, generator);
}
const endStep = resolveEndStep(opts, settings);
const { train, test } = buildDataset({ trainSize: settings.trainSize, testSize: settings.testSize, seed: settings.seed });
console.log(`finetune-classifier on '${backend}': ${model.constructor.name} from ${settings.model} (${model.numParameters().toLocaleString('en')} parameters, ` +
  `vocabulary ${tokenizer.vocabSize}); ${train.length} training / ${test.length} test sentences; steps ${startStep + 1}..${endStep}`);
guardFineTuneOutput(opts, endStep);

const encode = (texts) => tokenizer.encodeBatch(texts, { padding: true, truncation: true, maxLength: settings.maxLength, returnTensors: 'heed' });
const loader = new DataLoader({ length: train.length, get: (i) => train[i] }, {
  batchSize: settings.batchSize, shuffle: true, seed: settings.seed + 1, dropLast: true, prefetch: 1,
  collate: (items) => ({ ...encode(items.map((s) => s.text)), labels: tensor(items.map((s) => s.label), { dtype: 'int32' }) }),
});
let epoch = Math.floor(startStep / loader.length);
let batches = loader.epoch({ epoch, start: startStep % loader.length });
async function nextBatch() {
  let r = await batches.next();
  if (r.done) {
    batches = loader.epoch({ epoch: ++epoch });
    r = await batches.next();
  }
  return r.value;
}
const forward = (m, b) => m.forward(b.inputIds, { attentionMask: b.attentionMask, tokenTypeIds: b.tokenTypeIds, labels: b.labels });

/** Loss and accuracy (overall and per kind) on `data` (default: the test sentences), in batches of 64, in eval mode. */
async function evaluate(data = test) {
  model.eval();
  const predictions = [];
  let lossSum = 0;
  for (let i = 0; i < data.length; i += 64) {
    const chunk = data.slice(i, i + 64);
    const b = { ...encode(chunk.map((s) => s.text)), labels: tensor(chunk.map((s) => s.label), { dtype: 'int32' }) };
    const { loss, logits } = noGrad(() => forward(model, b));
    lossSum += (await loss.data())[0] * chunk.length;
    const rows = await logits.array();
    predictions.push(...rows.map((r) => (r[1] > r[0] ? 1 : 0)));
    loss.dispose();
    logits.dispose();
    disposeBatch(b);
  }
  const byText = new Map(data.map((s, i) => [s.text, predictions[i]]));
  return { loss: lossSum / data.length, ...accuracyOf((text) => byText.get(text), data) };
}

// At most 256 training sentences, evaluated before and after: what the model learnt from them.
const trainProbe = train.slice(0, 256);
const before = startStep === 0 ? await evaluate() : null;
const trainBefore = startStep === 0 ? await evaluate(trainProbe) : null;
const result = await trainLoop({
  model, optimizer, scheduler, startStep, endStep, history,
  progress: terminalProgress({ total: endStep, start: startStep, label: 'finetune', quiet: opts.quiet }),
  batchLoss: async () => {
    const b = await nextBatch();
    return { loss: forward(model, b).loss, tokens: b.inputIds.size, dispose: () => disposeBatch(b) };
  },
  evalEvery: opts.evalEvery,
  onEval: async (step, log) => {
    const e = await evaluate();
    history.push({ step, loss: e.loss, series: 'test' });
    log(`step ${step}: test loss ${e.loss.toFixed(4)}, test accuracy ${(100 * e.accuracy).toFixed(1)}%`);
  },
  checkpointEvery: opts.checkpointEvery,
  onCheckpoint: (step) => saveFineTuneCheckpoint(files.checkpoint, { model, optimizer, scheduler, step, generator, history, settings }),
});
await batches.return();
const after = await evaluate();
const trainAfter = await evaluate(trainProbe);
const majority = accuracyOf(majorityBaseline(train), test);

// Save with savePretrained, reload, and compare the logits of a test batch exactly.
const probe = encode(test.slice(0, 8).map((s) => s.text));
const reloadMaxAbsDiff = await saveAndReload(model, tokenizer, files.model,
  (dir) => AutoModelForSequenceClassification.fromPretrained(dir), (m) => m.forward(probe.inputIds, { attentionMask: probe.attentionMask, tokenTypeIds: probe.tokenTypeIds }).logits);
disposeBatch(probe);
await writeTextFile(files.lossCurve, await lossCurveSvg({ title: 'finetune-classifier: cross-entropy', points: history }));

const trainLosses = history.filter((p) => p.series === 'train').map((p) => p.loss);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const summary = {
  example: 'finetune-classifier', backend: getBackend().name, model: settings.model, architecture: model.constructor.name,
  parameters: model.numParameters(), steps: endStep, batchSize: settings.batchSize, trainSize: train.length, testSize: test.length,
  trainSeconds: result.seconds, tokensPerSecond: result.tokensPerSecond, finalTrainLoss: result.lastLoss,
  // Mean train loss over the first and the last epoch's worth of steps (the same sentences each epoch).
  trainLossFirstEpoch: mean(trainLosses.slice(0, loader.length)), trainLossLastEpoch: mean(trainLosses.slice(-loader.length)),
  trainSetLossBefore: trainBefore?.loss ?? null, trainSetLossAfter: trainAfter.loss,
  testLossBefore: before?.loss ?? null, testLossAfter: after.loss, testAccuracyBefore: before?.accuracy ?? null,
  testAccuracy: after.accuracy, accuracyByKind: after.byKind, majorityBaseline: majority.accuracy, reloadMaxAbsDiff,
  files: { checkpoint: files.checkpoint, model: files.model, lossCurve: files.lossCurve },
};
await writeTextFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);

const pct = (x) => `${(100 * x).toFixed(1)}%`;
console.log(`\ntrained ${endStep - startStep} steps in ${result.seconds.toFixed(1)} s (${Math.round(result.tokensPerSecond)} tokens/s), final train loss ${result.lastLoss.toFixed(4)}`);
console.log(`test accuracy on ${test.length} unseen sentences: ${pct(after.accuracy)}${before ? ` (before fine-tuning ${pct(before.accuracy)})` : ''}; majority class ${pct(majority.accuracy)}`);
console.log(`  per kind: ${KINDS.map((k) => `${k.name} ${pct(after.byKind[k.name] ?? NaN)}`).join(', ')}`);
console.log(`saved with savePretrained and reloaded: largest logit difference ${reloadMaxAbsDiff}`);
console.log(`\nwrote:\n  loss curve      ${files.lossCurve}\n  checkpoint      ${files.checkpoint}\n  model           ${files.model}\n  summary         ${files.summary}`);
