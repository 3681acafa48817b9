#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Trains a small GPT (@heed/models, causal decoder-only transformer) as a character-level
// language model on the multilingual corpus shipped in examples/char-lm/corpus.txt, reports
// the validation loss (nats per character and bits per character) on held-out lines, samples
// text in several languages with the kv-cache, and writes a loss curve, a causal
// self-attention heatmap (SVG), a checkpoint (exact `--resume`) and the model with its tokenizer.
// Data-parallel: `--ranks N` trains on N worker threads, `mpirun -np N node train.mjs` on N
// processes (../data-parallel.mjs); every rank draws the same global batch of windows and
// trains on its slice of the rows, the loss is its token sum over the global token count and
// DistributedDataParallel sums the gradients, so any world size trains the same model; rank 0
// alone prints and writes the files.
// Run `node examples/char-lm/train.mjs --help` for the options.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Generator, getBackend, noGrad, tensor, tidy } from '@heed/core';
import { AdamW, CosineAnnealingLR, DistributedDataParallel, decayMatricesOnly } from '@heed/nn';
import { BpeTokenizer, CharTokenizer, GPT, saveModel } from '@heed/models';
import {
  Rng, TRAINED_STEPS_KEY, attachGenerator, chooseStepMode, guardRunOutput, heatmapSvg, lossCurveSvg, parsePositiveInt, parseTrainingArgs,
  resolveEndStep, resumeTraining, runFiles, saveTrainingCheckpoint, selectBackend, stepReport, terminalProgress, trainLoop, writeTextFile,
} from '@heed/train/node';
import { allReduceNumbers, failIfAsked, rankSeed, rankSlice, ranksBlocker, runDataParallel, syncStreamOffsets } from '../data-parallel.mjs';

const parseArgs = (argv) => parseTrainingArgs({
  argv,
  compiledSteps: true,
  name: 'char-lm',
  description: 'Train a small GPT on the multilingual corpus in examples/char-lm/corpus.txt; report validation loss and sample text.',
  outDir: fileURLToPath(new URL('../out/char-lm/', import.meta.url)),
  defaults: { steps: 600, batchSize: 32, lr: 6e-3, checkpointEvery: 200, evalEvery: 100, context: 64, dModel: 64, layers: 3, tokenizer: 'char', dropout: 0, activation: 'relu', sampleLength: 120, temperature: 0.8, topK: 10, valWindows: 128 },
  quickDefaults: { steps: 20, batchSize: 8, checkpointEvery: 10, evalEvery: 10, context: 32, dModel: 32, layers: 1, dropout: 0, sampleLength: 30, valWindows: 16 },
  extra: (p) => p
    .option('--context <n>', 'context length (tokens)', parsePositiveInt)
    .option('--d-model <n>', 'model width', parsePositiveInt)
    .option('--layers <n>', 'transformer blocks', parsePositiveInt)
    .option('--tokenizer <kind>', "'char' or 'bpe' (byte-level BPE with 512 ids)")
    .option('--dropout <p>', 'dropout probability', Number)
    .option('--activation <name>', "feed-forward activation: 'gelu', 'gelu_tanh', 'relu', 'silu'")
    .option('--sample-length <n>', 'characters/tokens to sample per prompt', parsePositiveInt)
    .option('--temperature <x>', 'sampling temperature (0 = greedy)', Number)
    .option('--top-k <n>', 'sample among the k most likely tokens', parsePositiveInt)
    .option('--val-windows <n>', 'validation windows of `context` tokens', parsePositiveInt)
    .option('--ranks <n>', 'data-parallel ranks as worker threads, each with its own CPU backend; each global batch is split across them ' +
      '(under `mpirun -np N` the ranks come from mpirun)', parsePositiveInt, 1),
});

const corpusPath = fileURLToPath(new URL('./corpus.txt', import.meta.url));
const lines = (await readFile(corpusPath, 'utf8')).split('\n').filter((l) => l.length > 0);

/** Validation lines: a seeded 10% of the corpus lines (the rest trains). */
function splitLines(seed) {
  const order = new Rng(seed ^ 0xc0ffee).shuffle(lines.map((_, i) => i));
  const nVal = Math.round(lines.length * 0.1);
  const val = new Set(order.slice(0, nVal));
  return { train: lines.filter((_, i) => !val.has(i)), val: lines.filter((_, i) => val.has(i)) };
}

function makeOptimizer(model, _generator, s) {
  const optimizer = new AdamW(model, { lr: s.lr, betas: [0.9, 0.95], weightDecay: 0.1, weightDecayFilter: decayMatricesOnly });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: s.totalSteps, warmupSteps: Math.max(1, Math.round(s.totalSteps * 0.05)), minLr: s.lr * 0.1 });
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
  } else {
    settings = { context: opts.context, dModel: opts.dModel, layers: opts.layers, dropout: opts.dropout, activation: opts.activation, batchSize: opts.batchSize, lr: opts.lr, totalSteps: opts.steps, seed: opts.seed, tokenizer: opts.tokenizer };
    const { train } = splitLines(settings.seed);
    if (settings.tokenizer === 'char') tokenizer = CharTokenizer.fromCorpus(lines.map((l) => `${l}\n`));
    else if (settings.tokenizer === 'bpe') tokenizer = BpeTokenizer.train(train, { vocabSize: 512 });
    else throw new Error(`--tokenizer must be 'char' or 'bpe', got '${settings.tokenizer}'.`);
    generator = new Generator(settings.seed);
    model = new GPT({
      vocabSize: tokenizer.vocabSize, dModel: settings.dModel, nhead: 4, numLayers: settings.layers, maxLen: settings.context,
      dropout: settings.dropout, activation: settings.activation, generator,
    });
    attachGenerator(model, generator);
    ({ optimizer, scheduler } = makeOptimizer(model, generator, settings));
    rng = new Rng(settings.seed + 1);
  }
  const { train, val } = splitLines(settings.seed);
  const trainIds = Int32Array.from(tokenizer.encode(train.map((l) => `${l}\n`).join('')));
  const valIds = Int32Array.from(tokenizer.encode(val.map((l) => `${l}\n`).join('')));
  const ctx = settings.context;
  // Every rank draws the same global batches (same data RNG); dropout streams differ per rank.
  generator.seed = rankSeed(generator.seed, rank);
  // Compiled steps (the default): every batch is [batchSize, ctx + 1], so one trace replays every step.
  const stepMode = chooseStepMode({
    compile: opts.compile,
    blockers: [ranksBlocker(worldSize)],
    detail: 'one trace: fixed windows',
  });
  const ddp = stepMode.compiled ? null : await DistributedDataParallel.create(model, group, { reduceOp: 'sum' });
  const endStep = resolveEndStep(opts, settings);
  if (settings.batchSize < worldSize) throw new Error(`the batch size ${settings.batchSize} is smaller than the ${worldSize} ranks; every rank needs a window.`);
  log(`char-lm on '${backend}': ${lines.length} corpus lines (${train.length} train, ${val.length} validation), ` +
    `${trainIds.length.toLocaleString('en')} training tokens, ${tokenizer.constructor.name} vocab ${tokenizer.vocabSize}, ` +
    `${model.numParameters().toLocaleString('en')} parameters, context ${ctx}; steps ${startStep + 1}..${endStep}` +
    (worldSize > 1 ? `; ${worldSize} rank(s) (${group.backend}) per global batch of ${settings.batchSize}` : ''));
  log(stepMode.line);
  if (lead) await guardRunOutput(opts, endStep);

  /** `[rows, ctx + 1]` windows starting at the given offsets of `ids`. */
  function windows(ids, starts) {
    const data = new Int32Array(starts.length * (ctx + 1));
    starts.forEach((s, i) => data.set(ids.subarray(s, s + ctx + 1), i * (ctx + 1)));
    return tensor(data, { shape: [starts.length, ctx + 1], dtype: 'int32' });
  }

  // Validation: evenly spaced windows over the held-out lines (fixed, independent of the data RNG).
  const nVal = Math.min(opts.valWindows, Math.floor((valIds.length - 1) / ctx));
  const valStarts = Array.from({ length: nVal }, (_, i) => Math.floor((i * (valIds.length - ctx - 1)) / Math.max(1, nVal - 1)));
  async function validationLoss() {
    model.eval();
    let total = 0;
    for (let i = 0; i < valStarts.length; i += 64) {
      const batch = windows(valIds, valStarts.slice(i, i + 64));
      const loss = noGrad(() => model.loss(batch));
      total += (await loss.data())[0] * batch.shape[0];
      loss.dispose();
      batch.dispose();
    }
    return total / valStarts.length;
  }

  // A rank's rows of the global batch; its loss is their token sum over the global token count
  // (every window has `ctx` targets), so the summed gradients (and all-reduced losses) are the global mean's.
  // Compiled steps (one rank): every batch is [batchSize, ctx + 1], so one trace replays every step.
  const compiled = !stepMode.compiled ? undefined : {
    batch: (step) => {
      failIfAsked(rank, step, startStep);
      const batch = windows(trainIds, Array.from({ length: settings.batchSize }, () => rng.int(trainIds.length - ctx - 1)));
      return { inputs: [batch], tokens: batch.shape[0] * ctx, dispose: () => batch.dispose() };
    },
    loss: (batch) => model.loss(batch),
  };
  const eagerStep = {
    batchLoss: async (step) => {
      failIfAsked(rank, step, startStep);
      const starts = Array.from({ length: settings.batchSize }, () => rng.int(trainIds.length - ctx - 1));
      const batch = windows(trainIds, starts.slice(...rankSlice(starts.length, rank, worldSize)));
      const [globalTokens] = await allReduceNumbers(group, [batch.shape[0] * ctx]);
      const mean = model.loss(batch);
      const loss = batch.shape[0] * ctx === globalTokens ? mean : tidy(() => mean.mul((batch.shape[0] * ctx) / globalTokens));
      if (loss !== mean) mean.dispose();
      return { loss, tokens: globalTokens, dispose: () => batch.dispose() };
    },
    afterBackward: async () => {
      await ddp.finishGradSync();
      await syncStreamOffsets(group, generator);
    },
    reduceLoss: async (value) => (await allReduceNumbers(group, [value]))[0],
  };
  const result = await trainLoop({
    model, optimizer, scheduler, startStep, endStep, history,
    progress: terminalProgress({ total: endStep, start: startStep, label: 'char-lm', quiet: opts.quiet || !lead }),
    ...(compiled ? { compiled } : eagerStep),
    evalEvery: opts.evalEvery,
    onEval: !lead ? undefined : async (step, log) => {
      const v = await validationLoss();
      history.push({ step, loss: v, series: 'validation' });
      log(`step ${step}: validation loss ${v.toFixed(4)} nats/token`);
    },
    checkpointEvery: opts.checkpointEvery,
    onCheckpoint: !lead ? undefined : (step) => saveTrainingCheckpoint(ckptPath, { model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings }),
  });
  ddp?.dispose();
  if (!lead) return;

  const valLoss = history.filter((h) => h.series === 'validation').at(-1)?.loss ?? (await validationLoss());
  const charsPerToken = val.map((l) => `${l}\n`).join('').length / valIds.length;
  const bitsPerChar = valLoss / Math.LN2 / charsPerToken;

  // Samples from prompts in several languages (seeded, kv-cache generation).
  const prompts = ['The village ', 'Das Dorf ', 'El mercado ', 'Il pescatore ', 'Quinze mais ', 'Di desa itu ', 'Trois plus '];
  const sampleGen = new Generator(opts.seed + 7);
  const samples = [];
  for (const prompt of opts.quick ? prompts.slice(0, 2) : prompts) {
    const ids = tokenizer.encode(prompt);
    const outIds = await model.generate(ids.slice(-ctx), { maxNewTokens: opts.sampleLength, temperature: opts.temperature, topK: opts.topK, generator: sampleGen });
    samples.push(prompt + tokenizer.decode(outIds));
  }

  // Figures.
  const lossPath = files.lossCurve;
  await writeTextFile(lossPath, await lossCurveSvg({ title: 'char-lm: cross-entropy (nats/token)', points: history }));
  const probe = tokenizer.encode('Zwei plus drei ist fünf.').slice(0, ctx);
  const probeT = tensor(Int32Array.from(probe), { shape: [1, probe.length], dtype: 'int32' });
  const maps = model.attentionMaps(probeT);
  const matrix = (await maps[maps.length - 1].array())[0];
  for (const m of maps) m.dispose();
  probeT.dispose();
  const labels = probe.map((i) => tokenizer.idToToken(i));
  const attnPath = files.attention;
  await writeTextFile(attnPath, await heatmapSvg({ title: 'causal self-attention, last block (heads averaged)', matrix, rows: labels, cols: labels }));

  const modelPath = files.model;
  await saveModel(modelPath, model, { tokenizer, extra: { validationLoss: valLoss, [TRAINED_STEPS_KEY]: endStep } });
  const report = stepReport(result, endStep - startStep);
  const summary = {
    example: 'char-lm', backend: getBackend().name, steps: endStep, batchSize: settings.batchSize, context: ctx,
    parameters: model.numParameters(), trainTokens: trainIds.length, validationTokens: valIds.length,
    ranks: worldSize, transport: group.backend, dropout: settings.dropout,
    stepsPerSecond: report.stepsPerSecond, compiled: result.compileStats ?? null,
    trainSeconds: result.seconds, tokensPerSecond: result.tokensPerSecond, samplesPerSecond: (endStep - startStep) * settings.batchSize / result.seconds,
    finalTrainLoss: result.lastLoss, trainLosses: history.filter((h) => h.series === 'train').map((h) => h.loss),
    validationLoss: valLoss, bitsPerChar, uniformLoss: Math.log(tokenizer.vocabSize), samples,
    files: { checkpoint: ckptPath, model: modelPath, lossCurve: lossPath, attention: attnPath },
  };
  await writeTextFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);

  console.log(`\ntrained ${endStep - startStep} steps in ${result.seconds.toFixed(1)} s (${report.stepsPerSecond.toFixed(2)} steps/s, ${Math.round(result.tokensPerSecond)} tokens/s), final train loss ${result.lastLoss.toFixed(4)}`);
  if (report.compiledLine) console.log(report.compiledLine);
  console.log(`validation loss ${valLoss.toFixed(4)} nats/token = ${bitsPerChar.toFixed(3)} bits/char (uniform guess: ${Math.log(tokenizer.vocabSize).toFixed(3)} nats)`);
  console.log('samples (temperature', opts.temperature, 'top-k', `${opts.topK}):`);
  for (const s of samples) console.log(`  ${JSON.stringify(s)}`);
  console.log(`\nwrote:\n  loss curve      ${lossPath}\n  attention map   ${attnPath}\n  checkpoint      ${ckptPath}\n  model+tokenizer ${modelPath}\n  summary         ${files.summary}`);
}
