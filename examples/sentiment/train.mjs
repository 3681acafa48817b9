#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Trains a transformer sentiment classifier (@heed/models TransformerClassifier) on review
// sentences built from the AFINN-165 lexicon (see data.mjs: plain statements, negations,
// "X, but Y" and "although X, Y"), and compares its test accuracy, overall and per sentence
// kind, with three baselines: the majority class, the AFINN word-sum rule and a bag-of-words
// logistic regression. Training batches come from a @heed/train DataLoader (shuffled epochs of
// the training sentences, padded per batch by padCollate, prefetched). Writes a loss curve, a
// self-attention heatmap (SVG), a checkpoint (exact `--resume`) and the model with its tokenizer.
// Data-parallel: `--ranks N` trains on N worker threads, `mpirun -np N node train.mjs` on N
// processes (../data-parallel.mjs); every rank iterates the same shuffled global batches and
// collates only its slice, the loss is its sentences' cross-entropy sum over the global count
// and DistributedDataParallel sums the gradients, so any world size trains the same model;
// rank 0 alone prints and writes the files.
// Run `node examples/sentiment/train.mjs --help` for the options.
import { fileURLToPath } from 'node:url';
import { Generator, getBackend, noGrad, padToBucket, tensor, tidy } from '@heed/core';
import { AdamW, CosineAnnealingLR, DistributedDataParallel, decayMatricesOnly } from '@heed/nn';
import { BpeTokenizer, TransformerClassifier, padBatch, saveModel } from '@heed/models';
import {
  DataLoader, Rng, TRAINED_STEPS_KEY, chooseStepMode, disposeBatch, padCollate, attachGenerator, guardRunOutput, heatmapSvg, lossCurveSvg, parsePositiveInt, parseTrainingArgs,
  resolveEndStep, resumeTraining, runFiles, saveTrainingCheckpoint, selectBackend, stepReport, terminalProgress, trainLoop, writeTextFile,
} from '@heed/train/node';
import { allReduceNumbers, failIfAsked, rankSeed, rankSlice, ranksBlocker, runDataParallel, syncStreamOffsets } from '../data-parallel.mjs';
import { KINDS, buildDataset } from './data.mjs';
import { accuracyOf, afinnBaseline, bagOfWordsBaseline, majorityBaseline } from './baselines.mjs';

const parseArgs = (argv) => parseTrainingArgs({
  argv,
  compiledSteps: 'opt-in',
  name: 'sentiment',
  description: 'Train a transformer sentiment classifier on AFINN-built review sentences; compare with majority, AFINN-sum and bag-of-words baselines.',
  outDir: fileURLToPath(new URL('../out/sentiment/', import.meta.url)),
  defaults: { steps: 500, batchSize: 64, lr: 2e-3, checkpointEvery: 250, evalEvery: 100, trainSize: 8000, testSize: 1000, dModel: 64, layers: 2, pooling: 'mean', dropout: 0.1 },
  quickDefaults: { steps: 30, batchSize: 32, checkpointEvery: 15, evalEvery: 15, trainSize: 1000, testSize: 200, dModel: 32, layers: 1 },
  extra: (p) => p
    .option('--train-size <n>', 'training sentences', parsePositiveInt)
    .option('--test-size <n>', 'test sentences (distinct from training)', parsePositiveInt)
    .option('--d-model <n>', 'model width', parsePositiveInt)
    .option('--layers <n>', 'encoder layers', parsePositiveInt)
    .option('--pooling <kind>', "'mean' or 'cls'")
    .option('--dropout <p>', 'dropout probability (0 = deterministic runs; a resumed run keeps its own)', Number)
    .option('--ranks <n>', 'data-parallel ranks as worker threads, each with its own CPU backend; each global batch is split across them ' +
      '(under `mpirun -np N` the ranks come from mpirun)', parsePositiveInt, 1),
});

function makeOptimizer(model, _generator, s) {
  const optimizer = new AdamW(model, { lr: s.lr, weightDecay: 0.01, weightDecayFilter: decayMatricesOnly });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: s.totalSteps, warmupSteps: Math.max(1, Math.round(s.totalSteps * 0.05)), minLr: s.lr * 0.05 });
  return { optimizer, scheduler };
}

await runDataParallel(parseArgs, trainRank);

/**
 * One rank of the run (the only rank of a plain run).
 * @param {ReturnType<typeof parseArgs>} opts @param {import('@heed/distributed').ProcessGroup} group
 */
async function trainRank(opts, group) {
  const { rank, worldSize } = group;
  const lead = rank === 0;
  const log = lead ? console.log : () => {};
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
    log(`resumed from ${ckptPath} at step ${startStep}`);
  }
  if (!settings) {
    settings = {
      trainSize: opts.trainSize, testSize: opts.testSize, dModel: opts.dModel, layers: opts.layers, pooling: opts.pooling,
      batchSize: opts.batchSize, lr: opts.lr, totalSteps: opts.steps, seed: opts.seed, dropout: opts.dropout,
    };
  }
  const { train, test } = buildDataset({ trainSize: settings.trainSize, testSize: settings.testSize, seed: settings.seed });
  if (!opts.resume) {
    tokenizer = BpeTokenizer.train(train.map((s) => s.text), { vocabSize: 600 });
    generator = new Generator(settings.seed);
    model = new TransformerClassifier({
      vocabSize: tokenizer.vocabSize, numClasses: 2, dModel: settings.dModel, nhead: 4, numLayers: settings.layers, dimFeedforward: 2 * settings.dModel,
      dropout: settings.dropout, maxLen: 64, pooling: settings.pooling, activation: 'relu', generator,
    });
    attachGenerator(model, generator);
    ({ optimizer, scheduler } = makeOptimizer(model, generator, settings));
    rng = new Rng(settings.seed + 1); // its state is the DataLoader's shuffle seed (saved in checkpoints)
  }
  // Every rank draws the same global batches (same shuffle seed); dropout streams differ per rank.
  generator.seed = rankSeed(generator.seed, rank);
  // Compiled steps (opt-in, `--compile`: no clear speed-up measured at these sizes): batches padded to two lengths, two traces.
  const stepMode = chooseStepMode({
    compile: opts.compile,
    off: opts.explicit.has('compile') ? '--no-compile' : 'the default here, no clear speed-up measured; --compile for compiled steps',
    blockers: [ranksBlocker(worldSize)],
    detail: 'two traces: batches padded to 4/5 of the longest training sentence or to it',
  });
  const ddp = stepMode.compiled ? null : await DistributedDataParallel.create(model, group, { reduceOp: 'sum' });
  const endStep = resolveEndStep(opts, settings);
  if (settings.batchSize < worldSize) throw new Error(`the batch size ${settings.batchSize} is smaller than the ${worldSize} ranks; every rank needs a sentence.`);
  log(`sentiment on '${backend}': ${train.length} training / ${test.length} test sentences, BPE vocab ${tokenizer.vocabSize}, ` +
    `${model.numParameters().toLocaleString('en')} parameters, ${settings.pooling} pooling; steps ${startStep + 1}..${endStep}` +
    (worldSize > 1 ? `; ${worldSize} rank(s) (${group.backend}) per global batch of ${settings.batchSize}` : ''));
  log(stepMode.line);
  if (lead) await guardRunOutput(opts, endStep);

  const encode = (texts) => padBatch(texts.map((t) => tokenizer.encode(t)), tokenizer.padId);
  const testIds = encode(test.map((s) => s.text));
  const testLabels = tensor(test.map((s) => s.label), { dtype: 'int32' });

  // The training data: each sentence tokenized once; shuffled epochs (the order of epoch e
  // depends only on the seed and e, so a resumed run continues with the same batches), short
  // last batches dropped; each rank collates its slice of a global batch, padded to its longest sentence.
  const trainItems = train.map((s) => ({ inputIds: tokenizer.encode(s.text), label: s.label }));
  const pad = padCollate({ padId: tokenizer.padId });
  const loader = new DataLoader({ length: trainItems.length, get: (i) => trainItems[i] }, {
    batchSize: settings.batchSize, shuffle: true, seed: rng.state, dropLast: true, prefetch: 1,
    collate: (items) => pad(items.slice(...rankSlice(items.length, rank, worldSize))),
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

  async function testAccuracy() {
    const probs = await model.predictProba(testIds);
    const predictions = probs.map((p) => (p[1] > p[0] ? 1 : 0));
    const byText = new Map(test.map((s, i) => [s.text, predictions[i]]));
    return accuracyOf((text) => byText.get(text), test);
  }

  // A rank's loss is the cross-entropy sum over its sentences divided by the global count, so the
  // summed gradients (and the all-reduced losses) are the global batch mean's.
  // Compiled steps (one rank): every batch padded (masked by the padding id: same loss up to float
  // rounding) to one of two lengths, 4/5 of the longest training sentence (most batches: ~7% more
  // tokens than their own longest) or the longest, so two traces replay every step.
  const longest = Math.max(...trainItems.map((item) => item.inputIds.length));
  const lengthBuckets = [...new Set([Math.ceil(longest * 0.8), longest])];
  const compiled = !stepMode.compiled ? undefined : {
    batch: async (step) => {
      failIfAsked(rank, step, startStep);
      const batch = await nextBatch();
      const ids = padToBucket(batch.inputIds, 1, lengthBuckets, tokenizer.padId);
      const labels = batch.labels;
      const dispose = () => { if (ids !== batch.inputIds) ids.dispose(); disposeBatch(batch); };
      return { inputs: [ids, labels], tokens: batch.inputIds.size, dispose };
    },
    loss: (ids, labels) => model.loss(ids, labels),
  };
  const eagerStep = {
    batchLoss: async (step) => {
      failIfAsked(rank, step, startStep);
      const batch = await nextBatch(); // { inputIds, attentionMask, labels }: this rank's slice, ours to dispose
      const count = batch.labels.shape[0];
      const [globalCount, globalTokens] = await allReduceNumbers(group, [count, batch.inputIds.size]);
      const mean = model.loss(batch.inputIds, batch.labels);
      const loss = count === globalCount ? mean : tidy(() => mean.mul(count / globalCount));
      if (loss !== mean) mean.dispose();
      return { loss, tokens: globalTokens, dispose: () => disposeBatch(batch) };
    },
    afterBackward: async () => {
      await ddp.finishGradSync();
      await syncStreamOffsets(group, generator);
    },
    reduceLoss: async (value) => (await allReduceNumbers(group, [value]))[0],
  };
  const result = await trainLoop({
    model, optimizer, scheduler, startStep, endStep, history,
    progress: terminalProgress({ total: endStep, start: startStep, label: 'sentiment', quiet: opts.quiet || !lead }),
    ...(compiled ? { compiled } : eagerStep),
    evalEvery: opts.evalEvery,
    onEval: !lead ? undefined : async (step, log) => {
      model.eval();
      const loss = noGrad(() => model.loss(testIds, testLabels));
      const value = (await loss.data())[0];
      loss.dispose();
      history.push({ step, loss: value, series: 'test' });
      const { accuracy } = await testAccuracy();
      log(`step ${step}: test loss ${value.toFixed(4)}, test accuracy ${(100 * accuracy).toFixed(1)}%`);
    },
    checkpointEvery: opts.checkpointEvery,
    onCheckpoint: !lead ? undefined : (step) => saveTrainingCheckpoint(ckptPath, { model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings }),
  });
  await batches.return(); // disposes the batch prefetched for a step that will not run
  ddp?.dispose();
  if (!lead) {
    testIds.dispose();
    testLabels.dispose();
    return;
  }

  // Accuracy table: the transformer against the baselines, overall and per sentence kind.
  const rows = [
    ['transformer', await testAccuracy()],
    ['majority class', accuracyOf(majorityBaseline(train), test)],
    ['AFINN word sum', accuracyOf(afinnBaseline(), test)],
    ['bag-of-words logistic regression', accuracyOf(bagOfWordsBaseline(train), test)],
  ];
  const pct = (x) => `${(100 * x).toFixed(1)}%`.padStart(7);
  const kinds = KINDS.map((k) => k.name);
  const table = [
    `${'method'.padEnd(34)}${'all'.padStart(7)}${kinds.map((k) => k.padStart(10)).join('')}`,
    ...rows.map(([name, r]) => `${name.padEnd(34)}${pct(r.accuracy)}${kinds.map((k) => pct(r.byKind[k] ?? NaN).padStart(10)).join('')}`),
  ];

  // Figures.
  const lossPath = files.lossCurve;
  await writeTextFile(lossPath, await lossCurveSvg({ title: 'sentiment: cross-entropy', points: history }));
  const probeText = 'the plot was not bad, but the ending was awful';
  const probeIds = tokenizer.encode(probeText);
  const probe = padBatch([probeIds], tokenizer.padId);
  const maps = model.attentionMaps(probe);
  const matrix = (await maps[maps.length - 1].array())[0];
  const [probeProba] = await model.predictProba(probe);
  for (const m of maps) m.dispose();
  probe.dispose();
  const labels = [...(settings.pooling === 'cls' ? ['[CLS]'] : []), ...probeIds.map((i) => tokenizer.idToToken(i))];
  const attnPath = files.attention;
  await writeTextFile(attnPath, await heatmapSvg({
    title: `self-attention, last layer: "${probeText}" (P(positive) = ${probeProba[1].toFixed(3)})`, matrix, rows: labels, cols: labels,
  }));

  const modelPath = files.model;
  await saveModel(modelPath, model, { tokenizer, extra: { testAccuracy: rows[0][1].accuracy, [TRAINED_STEPS_KEY]: endStep } });
  const report = stepReport(result, endStep - startStep);
  const summary = {
    example: 'sentiment', backend: getBackend().name, steps: endStep, batchSize: settings.batchSize, trainSize: train.length, testSize: test.length,
    ranks: worldSize, transport: group.backend, dropout: settings.dropout,
    stepsPerSecond: report.stepsPerSecond, compiled: result.compileStats ?? null,
    trainSeconds: result.seconds, tokensPerSecond: result.tokensPerSecond, samplesPerSecond: (endStep - startStep) * settings.batchSize / result.seconds,
    finalTrainLoss: result.lastLoss, trainLosses: history.filter((h) => h.series === 'train').map((h) => h.loss),
    accuracy: Object.fromEntries(rows.map(([name, r]) => [name, r])),
    files: { checkpoint: ckptPath, model: modelPath, lossCurve: lossPath, attention: attnPath },
  };
  await writeTextFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);
  testIds.dispose();
  testLabels.dispose();

  console.log(`\ntrained ${endStep - startStep} steps in ${result.seconds.toFixed(1)} s (${report.stepsPerSecond.toFixed(2)} steps/s, ${Math.round(result.tokensPerSecond)} tokens/s), final train loss ${result.lastLoss.toFixed(4)}`);
  if (report.compiledLine) console.log(report.compiledLine);
  console.log(`test accuracy on ${test.length} unseen sentences:\n  ${table.join('\n  ')}`);
  console.log(`"${probeText}": P(positive) = ${probeProba[1].toFixed(3)}`);
  console.log(`\nwrote:\n  loss curve      ${lossPath}\n  attention map   ${attnPath}\n  checkpoint      ${ckptPath}\n  model+tokenizer ${modelPath}\n  summary         ${files.summary}`);
}
