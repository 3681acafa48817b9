#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Trains an encoder-decoder transformer from scratch (@heed/models Seq2SeqTransformer,
// byte-level BPE) to write the one-line headline of short generated news reports in five
// languages (see data.mjs), then reports ROUGE-1/2/L F1 on held-out reports against the lead
// baseline (the report's first sentence). Writes a loss curve, a cross-attention heatmap
// (SVG), a checkpoint (exact `--resume`), the model with its tokenizer and summary.json.
// With `--model DIR` it fine-tunes a downloaded BART checkpoint instead (see pretrained.mjs).
// Run `node examples/summarize/train.mjs --help` for the options.
import { fileURLToPath } from 'node:url';
import { getBackend, noGrad } from '@heed/core';
import { padBatch, saveModel } from '@heed/models';
import {
  Rng, TRAINED_STEPS_KEY, corpusRouge, guardRunOutput, heatmapSvg, lossCurveSvg, parsePositiveInt, parseTrainingArgs,
  resolveEndStep, resumeTraining, runFiles, saveTrainingCheckpoint, selectBackend, terminalProgress, trainLoop, writeTextFile,
} from '@heed/train/node';
import { CODES, buildDataset, leadSentence } from './data.mjs';
import { createRun, encodePair, makeOptimizer, trainingBatches } from './task.mjs';

const OUT_DIR = fileURLToPath(new URL('../out/summarize/', import.meta.url));
const QUICK = { steps: 20, batchSize: 16, checkpointEvery: 10, evalEvery: 10, trainSize: 400, testSize: 40, vocabSize: 600, dModel: 32, layers: 1 };
const PRETRAINED = { lr: 5e-5, batchSize: 8, steps: 200, checkpointEvery: 50 };
const opts = parseTrainingArgs({
  name: 'summarize',
  description: 'Train a seq2seq transformer to write headlines of generated news reports in id, de, pt, it and es; report ROUGE-1/2/L against the lead-sentence baseline.',
  outDir: OUT_DIR,
  defaults: { steps: 400, batchSize: 32, lr: 2e-3, checkpointEvery: 200, evalEvery: 100, trainSize: 8000, testSize: 500, vocabSize: 1500, dModel: 64, layers: 2, maxLen: 128, beamSize: 1, maxTargetLength: 32 },
  quickDefaults: QUICK,
  extra: (p) => p
    .option('--train-size <n>', 'training reports', parsePositiveInt)
    .option('--test-size <n>', 'held-out reports (distinct from every training report)', parsePositiveInt)
    .option('--vocab-size <n>', 'BPE vocabulary size (special tokens and 256 bytes included)', parsePositiveInt)
    .option('--d-model <n>', 'model width', parsePositiveInt)
    .option('--layers <n>', 'encoder layers = decoder layers', parsePositiveInt)
    .option('--max-len <n>', 'reports are cut to this many tokens', parsePositiveInt)
    .option('--beam-size <n>', 'beam width of the evaluation decoding (1 = greedy)', parsePositiveInt)
    .option('--model <dir>', 'fine-tune a downloaded BART checkpoint (config.json, model.safetensors, tokenizer.json) instead of training ' +
      `from scratch; unless typed: --lr ${PRETRAINED.lr}, --batch-size ${PRETRAINED.batchSize}, --steps ${PRETRAINED.steps}, --out <default>-pretrained[-quick]`)
    .option('--tokenizer <dir>', 'with --model: the folder of tokenizer.json (default: --model)')
    .option('--max-target-length <n>', 'with --model: headlines are cut to (and generated up to) this many tokens', parsePositiveInt),
});

if (opts.model !== undefined) {
  // Fine-tuning defaults of a pretrained model (the options typed on the command line win).
  for (const [key, value] of Object.entries(PRETRAINED)) if (!opts.explicit.has(key) && !(opts.quick && key in QUICK)) opts[key] = value;
  if (!opts.explicit.has('out')) opts.out = `${OUT_DIR.replace(/[\\/]+$/, '')}-pretrained${opts.quick ? '-quick' : ''}`;
  const { finetunePretrained } = await import('./pretrained.mjs');
  await finetunePretrained(opts);
  process.exit(0);
}

const files = await runFiles(opts.out);
const ckptPath = files.checkpoint;
const backend = await selectBackend(opts.backend, opts);

let model; let optimizer; let scheduler; let tokenizer; let generator; let settings; let startStep = 0; let history = []; let rng;
if (opts.resume) {
  const r = await resumeTraining(ckptPath, makeOptimizer);
  ({ model, optimizer, scheduler, tokenizer, generator, settings, history } = r);
  startStep = r.step;
  rng = new Rng(0);
  rng.state = r.rngState;
  console.log(`resumed from ${ckptPath} at step ${startStep}`);
} else {
  settings = {
    trainSize: opts.trainSize, testSize: opts.testSize, vocabSize: opts.vocabSize, dModel: opts.dModel, layers: opts.layers, maxLen: opts.maxLen,
    batchSize: opts.batchSize, lr: opts.lr, totalSteps: opts.steps, seed: opts.seed,
  };
}
const { train, test } = buildDataset({ trainSize: settings.trainSize, testSize: settings.testSize, seed: settings.seed });
if (!opts.resume) {
  ({ model, optimizer, scheduler, tokenizer, generator } = createRun(settings, train));
  rng = new Rng(settings.seed + 1); // its state is the DataLoader's shuffle seed (saved in checkpoints)
}
const endStep = resolveEndStep(opts, settings);
console.log(`summarize on '${backend}': ${train.length} training / ${test.length} held-out reports in ${CODES.join(', ')}; BPE vocab ${tokenizer.vocabSize}; ` +
  `${model.numParameters().toLocaleString('en')} parameters; steps ${startStep + 1}..${endStep}`);
await guardRunOutput(opts, endStep);

const encode = (r) => encodePair(tokenizer, r, settings.maxLen);
const pairs = train.map(encode);
const batches = trainingBatches(pairs, { batchSize: settings.batchSize, seed: rng.state, padId: tokenizer.padId, startStep });
// A fixed held-out batch for the validation loss curve.
const valItems = test.slice(0, 128).map(encode);
const valSrc = padBatch(valItems.map((p) => p.src), tokenizer.padId);
const valTgt = padBatch(valItems.map((p) => p.tgt), tokenizer.padId);

const result = await trainLoop({
  model, optimizer, scheduler, startStep, endStep, history,
  progress: terminalProgress({ total: endStep, start: startStep, label: 'summarize', quiet: opts.quiet }),
  batchLoss: async () => {
    const batch = await batches.next();
    return { loss: model.loss(batch.src, batch.tgt), tokens: batch.src.size + batch.tgt.size, dispose: () => batches.dispose(batch) };
  },
  evalEvery: opts.evalEvery,
  onEval: async (step, log) => {
    model.eval();
    const loss = noGrad(() => model.loss(valSrc, valTgt));
    const value = (await loss.data())[0];
    loss.dispose();
    history.push({ step, loss: value, series: 'held-out' });
    log(`step ${step}: held-out loss ${value.toFixed(4)}`);
  },
  checkpointEvery: opts.checkpointEvery,
  onCheckpoint: (step) => saveTrainingCheckpoint(ckptPath, { model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings }),
});
await batches.close();

// ROUGE on the held-out reports: the model's headlines against the lead sentence.
const evalStart = performance.now();
const decodeLen = 32;
const headlines = [];
for (let i = 0; i < test.length; i += 100) {
  const src = test.slice(i, i + 100).map((r) => encode(r).src);
  const outs = opts.beamSize > 1 ? await model.beamSearch(src, { maxLen: decodeLen, beamSize: opts.beamSize }) : await model.greedyDecode(src, { maxLen: decodeLen });
  headlines.push(...outs.map((ids) => tokenizer.decode(ids)));
}
const references = test.map((r) => r.headline);
const scores = corpusRouge(headlines, references);
const lead = corpusRouge(test.map(leadSentence), references);
const keySentence = corpusRouge(test.map((r) => r.sentences[r.keyIndex]), references); // the best single sentence, for scale
const exactMatch = headlines.filter((h, i) => h === references[i]).length / test.length;
const byLanguage = Object.fromEntries(CODES.map((c) => {
  const idx = test.map((r, i) => (r.lang === c ? i : -1)).filter((i) => i >= 0);
  return [c, idx.length > 0 ? corpusRouge(idx.map((i) => headlines[i]), idx.map((i) => references[i])).rougeL.f1 : null];
}));
const evalSeconds = (performance.now() - evalStart) / 1000;

// Figures: loss curves, and the last decoder layer's cross-attention for one held-out report
// whose key sentence is not the first.
await writeTextFile(files.lossCurve, await lossCurveSvg({ title: 'summarize: headline token cross-entropy', points: history }));
const probe = test.find((r) => r.keyIndex > 0) ?? test[0];
const probeSrc = encode(probe).src;
const [probeOut] = await model.greedyDecode([probeSrc], { maxLen: decodeLen });
const tgtIn = [tokenizer.bosId, ...probeOut];
const maps = model.attentionMaps(padBatch([probeSrc], tokenizer.padId), padBatch([tgtIn], tokenizer.padId));
const matrix = (await maps.cross[maps.cross.length - 1].array())[0];
for (const t of [...maps.cross, ...maps.encoder]) t.dispose();
await writeTextFile(files.attention, await heatmapSvg({
  title: `cross-attention (last decoder layer): -> ${tokenizer.decode(probeOut)}`,
  matrix, rows: tgtIn.map((id) => tokenizer.idToToken(id)), cols: probeSrc.map((id) => tokenizer.idToToken(id)),
  rowTitle: 'generated token (decoder input)', colTitle: 'report token',
}));

await saveModel(files.model, model, { tokenizer, extra: { heldOutRougeL: scores.rougeL.f1, [TRAINED_STEPS_KEY]: endStep } });
const pts = (x) => 100 * x;
const rougeRow = (s) => ({ rouge1: pts(s.rouge1.f1), rouge2: pts(s.rouge2.f1), rougeL: pts(s.rougeL.f1) });
const summary = {
  example: 'summarize', backend: getBackend().name, steps: endStep, batchSize: settings.batchSize, trainSize: train.length, testSize: test.length,
  parameters: model.numParameters(), trainSeconds: result.seconds, tokensPerSecond: result.tokensPerSecond, finalTrainLoss: result.lastLoss,
  rouge: rougeRow(scores), leadBaseline: rougeRow(lead), keySentenceOracle: rougeRow(keySentence), rougeLMargin: pts(scores.rougeL.f1 - lead.rougeL.f1), exactMatch,
  rougeLByLanguage: Object.fromEntries(Object.entries(byLanguage).map(([k, v]) => [k, v === null ? null : pts(v)])),
  keyFirstShare: test.filter((r) => r.keyIndex === 0).length / test.length, beamSize: opts.beamSize,
  evalSeconds, wallSeconds: performance.now() / 1000,
  examples: test.slice(0, 5).map((r, i) => ({ report: r.text, reference: r.headline, model: headlines[i], lead: leadSentence(r) })),
  files: { checkpoint: ckptPath, model: files.model, lossCurve: files.lossCurve, attention: files.attention },
};
await writeTextFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
valSrc.dispose();
valTgt.dispose();

const f = (x) => x.toFixed(1).padStart(6);
console.log(`\ntrained ${endStep - startStep} steps in ${result.seconds.toFixed(1)} s (${Math.round(result.tokensPerSecond)} tokens/s), final loss ${result.lastLoss.toFixed(4)}`);
console.log(`ROUGE F1 on ${test.length} held-out reports     R-1    R-2    R-L`);
console.log(`  model (${opts.beamSize > 1 ? `beam ${opts.beamSize}` : 'greedy'})                   ${f(summary.rouge.rouge1)} ${f(summary.rouge.rouge2)} ${f(summary.rouge.rougeL)}`);
console.log(`  lead sentence baseline           ${f(summary.leadBaseline.rouge1)} ${f(summary.leadBaseline.rouge2)} ${f(summary.leadBaseline.rougeL)}`);
console.log(`  key sentence (extractive oracle) ${f(summary.keySentenceOracle.rouge1)} ${f(summary.keySentenceOracle.rouge2)} ${f(summary.keySentenceOracle.rougeL)}`);
console.log(`ROUGE-L margin over the lead baseline: ${summary.rougeLMargin.toFixed(1)} points; exact headline ${(100 * exactMatch).toFixed(1)}%`);
for (const e of summary.examples.slice(0, 3)) console.log(`  ${e.report}\n    -> ${e.model}   (reference: ${e.reference})`);
console.log(`\nwrote:\n  loss curve      ${files.lossCurve}\n  attention map   ${files.attention}\n  checkpoint      ${ckptPath}\n  model+tokenizer ${files.model}\n  summary         ${files.summary}`);
