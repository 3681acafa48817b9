#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Trains a small encoder-decoder transformer (@heed/models Seq2SeqTransformer, byte-level BPE)
// to translate numbers written in words between Indonesian, German, Portuguese, Italian and
// Spanish (data from npm `n2words`), then reports exact-match accuracy on HELD-OUT numbers
// (never seen in training in any language), writes a loss curve and a cross-attention
// heatmap (SVG), a checkpoint (exact `--resume`) and the final model with its tokenizer.
// Data-parallel: `--ranks N` trains on N worker threads, `mpirun -np N node train.mjs` on N
// processes (../data-parallel.mjs); each global batch is split across the ranks, the loss is
// normalised by the all-reduced global token count and DistributedDataParallel sums the
// gradients, so any world size trains the same model; rank 0 alone writes the files.
// Run `node examples/translate-numbers/train.mjs --help` for the options.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bucketLength, getBackend, noGrad, tidy } from '@heed/core';
import { DistributedDataParallel, saveFile } from '@heed/nn';
import { padBatch, saveModel } from '@heed/models';
import {
  Rng, TRAINED_STEPS_KEY, chooseStepMode, ensureDir, guardRunOutput, heatmapSvg, lossCurveSvg, parsePositiveInt, parseTrainingArgs,
  resolveEndStep, resumeTraining, runFiles, saveTrainingCheckpoint, selectBackend, stepReport, terminalProgress, trainLoop, writeTextFile,
} from '@heed/train/node';
import { allReduceNumbers, failIfAsked, rankSeed, rankSlice, ranksBlocker, runDataParallel, syncStreamOffsets } from '../data-parallel.mjs';
import { CODES, DIRECTIONS, LANGUAGES, sampleExample, sourceText, splitNumbers, targetText } from './data.mjs';
import { createRun, encodeBatch, encodeSource as encodeSourceWith, encodeTarget, makeOptimizer } from './task.mjs';

const parseProbability = (v) => {
  const x = Number(v);
  if (!(x >= 0 && x < 1)) throw new Error(`expected a probability in [0, 1), got '${v}'`);
  return x;
};

const parseArgs = (argv) => parseTrainingArgs({
  argv,
  compiledSteps: true,
  name: 'translate-numbers',
  description: 'Train a seq2seq transformer to translate numbers in words between id, de, pt, it and es; report held-out exact match.',
  outDir: fileURLToPath(new URL('../out/translate-numbers/', import.meta.url)),
  defaults: { steps: 600, batchSize: 64, lr: 3e-3, checkpointEvery: 200, evalEvery: 100, maxNumber: 1000, heldOut: 150, vocabSize: 500, dModel: 64, layers: 2, evalLimit: 0, beamSize: 4 },
  quickDefaults: { steps: 40, batchSize: 32, checkpointEvery: 20, evalEvery: 20, evalLimit: 60 },
  presets: {
    large: { description: 'the harder task: numbers 0..9999, ~4 min on 2 cores', values: { maxNumber: 10000, heldOut: 500, vocabSize: 1000, steps: 1000, evalEvery: 250, checkpointEvery: 250 } },
  },
  extra: (p) => p
    .option('--max-number <n>', 'numbers 0..n-1 are used', parsePositiveInt)
    .option('--held-out <n>', 'how many numbers are held out for evaluation (all 20 directions each)', parsePositiveInt)
    .option('--vocab-size <n>', 'BPE vocabulary size (special tokens and 256 bytes included)', parsePositiveInt)
    .option('--d-model <n>', 'model width', parsePositiveInt)
    .option('--layers <n>', 'encoder layers = decoder layers', parsePositiveInt)
    .option('--beam-size <n>', 'beam width of the beam-search evaluation', parsePositiveInt)
    .option('--eval-limit <n>', 'evaluate at most n held-out translations (0 = all)', (v) => Number(v))
    .option('--dropout <p>', 'dropout probability of the transformer (0 = deterministic runs; a resumed run keeps its own)', parseProbability, 0)
    .option('--ranks <n>', 'data-parallel ranks as worker threads, each with its own CPU backend; each global batch is split across them ' +
      '(under `mpirun -np N` the ranks come from mpirun)', parsePositiveInt, 1)
    .option('--accumulate <k>', 'micro-batches per rank and step (gradient accumulation: the first k-1 backward passes run under DDP noSync)', parsePositiveInt, 1)
    .option('--bucket', 'eager steps: pad every batch to a bucket length (16, 24, 32, 48 or 64 tokens); compiled steps pad to the longest training example (one shape, one trace)', false)
    .option('--grad-dump <dir>', 'write the all-reduced gradients of every step to <dir>/step-<n>.safetensors (equivalence checks)'),
});

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
    settings = {
      maxNumber: opts.maxNumber, heldOut: opts.heldOut, vocabSize: opts.vocabSize, dModel: opts.dModel, layers: opts.layers,
      batchSize: opts.batchSize, lr: opts.lr, totalSteps: opts.steps, seed: opts.seed, dropout: opts.dropout,
    };
    ({ model, optimizer, scheduler, tokenizer, generator, rng } = createRun(settings));
  }
  // Every rank draws the same global batches (same data RNG); dropout streams differ per rank.
  generator.seed = rankSeed(generator.seed, rank);
  const streamStart = generator.offset;
  const { train, heldOut } = splitNumbers({ maxNumber: settings.maxNumber, heldOut: settings.heldOut, seed: settings.seed });
  // Compiled steps (the default) pad every batch to the longest training source and target: one
  // batch shape, so one trace replays every step (the padding is masked: the eager loss up to float rounding).
  const stepMode = chooseStepMode({
    compile: opts.compile,
    blockers: [
      ranksBlocker(worldSize),
      { when: opts.accumulate > 1, reason: `--accumulate ${opts.accumulate}: the micro-batches' backward passes run outside one step` },
      { when: Boolean(opts.gradDump), reason: '--grad-dump reads the gradients between backward and the update' },
    ],
    detail: 'one trace: batches padded to the longest training example',
  });
  const ddp = stepMode.compiled ? null : await DistributedDataParallel.create(model, group, { reduceOp: 'sum' });
  const endStep = resolveEndStep(opts, settings);
  const micro = opts.accumulate;
  if (settings.batchSize < worldSize * micro) {
    throw new Error(`the batch size ${settings.batchSize} is smaller than ranks x accumulate = ${worldSize * micro}; every micro-batch needs an example.`);
  }
  log(`translate-numbers on '${backend}': numbers 0..${settings.maxNumber - 1}, ${train.length} for training, ${heldOut.length} held out ` +
    `(x ${DIRECTIONS.length} directions); BPE vocab ${tokenizer.vocabSize}; ${model.numParameters().toLocaleString('en')} parameters; steps ${startStep + 1}..${endStep}` +
    (worldSize > 1 || micro > 1 ? `; ${worldSize} rank(s) (${group.backend}) x ${micro} micro-batch(es) per global batch of ${settings.batchSize}` : ''));
  log(stepMode.line);
  if (lead) await guardRunOutput(opts, endStep);

  const encodeSource = (e) => encodeSourceWith(tokenizer, e);

  // A fixed held-out batch for the validation loss curve (its own RNG: training data order is untouched).
  const valRng = new Rng(12345);
  const valItems = Array.from({ length: 128 }, () => sampleExample(heldOut, valRng));
  const { src: valSrc, tgt: valTgt } = encodeBatch(tokenizer, valItems);

  // This rank's part of each global batch, in `micro` micro-batches; every loss is a sum over its
  // target tokens divided by the global token count, so the summed gradients are the global mean's.
  let earlierLoss = 0;
  async function batchLoss(step) {
    failIfAsked(rank, step, startStep);
    const items = Array.from({ length: settings.batchSize }, () => sampleExample(train, rng));
    const [from, to] = rankSlice(items.length, rank, worldSize);
    const parts = Array.from({ length: micro }, (_, i) => items.slice(...rankSlice(to - from, i, micro).map((j) => from + j)));
    const counts = parts.map((part) => part.reduce((n, e) => n + encodeTarget(tokenizer, e).length - 1, 0));
    const batches = parts.map((part) => encodeBatch(tokenizer, part, opts.bucket ? bucketPadLength : undefined));
    const padded = batches.reduce((n, { src, tgt }) => n + src.size + tgt.size, 0);
    // The global target-token count normalises the loss; the global padded size is the step's tokens (for tokens/s).
    const [globalTokens, globalPadded] = await allReduceNumbers(group, [counts.reduce((a, b) => a + b, 0), padded]);
    const lossOf = (i) => {
      const mean = model.loss(batches[i].src, batches[i].tgt);
      const loss = counts[i] === globalTokens ? mean : tidy(() => mean.mul(counts[i] / globalTokens));
      if (loss !== mean) mean.dispose();
      return loss;
    };
    const disposeBatch = (i) => { batches[i].src.dispose(); batches[i].tgt.dispose(); };
    earlierLoss = 0;
    for (let i = 0; i < micro - 1; i++) {
      const loss = lossOf(i);
      ddp.noSync(() => loss.backward());
      earlierLoss += (await loss.data())[0];
      loss.dispose();
      disposeBatch(i);
    }
    return { loss: lossOf(micro - 1), tokens: globalPadded, dispose: () => disposeBatch(micro - 1) };
  }

  async function afterBackward(step) {
    await ddp.finishGradSync();
    await syncStreamOffsets(group, generator);
    if (lead && opts.gradDump) {
      await ensureDir(opts.gradDump);
      await saveFile(join(opts.gradDump, `step-${step}.safetensors`), new Map(model.namedParameters().filter(([, p]) => p.grad).map(([k, p]) => [k, p.grad])));
    }
  }

  // --bucket (eager): padded to a bucket length (the padding is masked: same loss up to float rounding).
  const LENGTH_BUCKETS = [16, 24, 32, 48, 64];
  const bucketPadLength = (longest) => bucketLength(longest, LENGTH_BUCKETS);

  // Compiled steps: every batch padded to the longest training source and target, found once (a
  // source's length does not depend on its target language: each language tag is one special token).
  function longestExample() {
    let src = 0; let tgt = 0;
    for (const n of train) {
      for (const code of CODES) {
        src = Math.max(src, encodeSource({ n, from: code, to: CODES.find((c) => c !== code) }).length);
        tgt = Math.max(tgt, encodeTarget(tokenizer, { n, to: code }).length);
      }
    }
    return { src, tgt };
  }
  const longest = stepMode.compiled ? longestExample() : null;

  // Compiled steps: one rank, one micro-batch; the batch is built outside the compiled step and
  // `model.loss` (forward, backward, clipping, AdamW's capturable step) replays on one batch shape.
  const compiled = !stepMode.compiled ? undefined : {
    batch: (step) => {
      failIfAsked(rank, step, startStep);
      const items = Array.from({ length: settings.batchSize }, () => sampleExample(train, rng));
      const { src, tgt } = encodeBatch(tokenizer, items, longest);
      return { inputs: [src, tgt], tokens: src.size + tgt.size, dispose: () => { src.dispose(); tgt.dispose(); } };
    },
    loss: (src, tgt) => model.loss(src, tgt),
  };

  const result = await trainLoop({
    model, optimizer, scheduler, startStep, endStep, history,
    progress: terminalProgress({ total: endStep, start: startStep, label: 'translate', quiet: opts.quiet || !lead }),
    ...(compiled ? { compiled } : { batchLoss, afterBackward, reduceLoss: async (value) => (await allReduceNumbers(group, [earlierLoss + value]))[0] }),
    evalEvery: opts.evalEvery,
    onEval: !lead ? undefined : async (step, log) => {
      model.eval();
      const loss = noGrad(() => model.loss(valSrc, valTgt));
      const value = (await loss.data())[0];
      loss.dispose();
      history.push({ step, loss: value, series: 'held-out' });
      log(`step ${step}: held-out loss ${value.toFixed(4)}`);
    },
    checkpointEvery: opts.checkpointEvery,
    onCheckpoint: !lead ? undefined : (step) => saveTrainingCheckpoint(ckptPath, { model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings }),
  });
  // Every rank's dropout stream (seed, first and next counter) for the summary: the tests check
  // that the ranks' streams differ and that a rerun draws the same ones.
  const own = new Array(3 * worldSize).fill(0);
  own.splice(3 * rank, 3, generator.seed, streamStart, generator.offset);
  const flat = await allReduceNumbers(group, own);
  const dropoutStreams = Array.from({ length: worldSize }, (_, r) => ({ seed: flat[3 * r], startOffset: flat[3 * r + 1], endOffset: flat[3 * r + 2] }));
  ddp?.dispose();
  if (!lead) return;

  // Exact-match accuracy on held-out numbers, every direction (greedy), and beam search on a subset.
  const evalStart = performance.now();
  let items = heldOut.flatMap((n) => DIRECTIONS.map(([from, to]) => ({ n, from, to })));
  if (opts.evalLimit > 0) items = new Rng(99).shuffle(items).slice(0, opts.evalLimit);
  const maxLen = 24;
  async function exactMatch(list, decode) {
    let correct = 0;
    const errors = [];
    const ok = [];
    for (let i = 0; i < list.length; i += 500) {
      const chunk = list.slice(i, i + 500);
      const outs = await decode(chunk.map(encodeSource));
      outs.forEach((ids, j) => {
        const want = targetText(chunk[j].n, chunk[j].to);
        const got = tokenizer.decode(ids);
        ok.push(got === want);
        if (got === want) correct++;
        else errors.push({ source: sourceText(chunk[j].n, chunk[j].from, chunk[j].to), got, want });
      });
    }
    return { correct, total: list.length, accuracy: correct / list.length, errors, ok };
  }
  const greedy = await exactMatch(items, (src) => model.greedyDecode(src, { maxLen }));
  // Beam search on a random subset, compared with greedy on the same subset.
  const beamIndex = new Rng(7).shuffle(items.map((_, i) => i)).slice(0, Math.min(items.length, opts.quick ? 20 : 500));
  const beam = await exactMatch(beamIndex.map((i) => items[i]), (src) => model.beamSearch(src, { maxLen, beamSize: opts.beamSize }));
  const greedyOnBeamSubset = beamIndex.filter((i) => greedy.ok[i]).length;
  const evalSeconds = (performance.now() - evalStart) / 1000;

  // Figures: loss curves, and the last decoder layer's cross-attention for one held-out input.
  const lossPath = files.lossCurve;
  await writeTextFile(lossPath, await lossCurveSvg({ title: 'translate-numbers: token cross-entropy', points: history }));
  const example = { n: heldOut[Math.floor(heldOut.length / 2)], from: 'de', to: 'es' };
  const srcIds = encodeSource(example);
  const [outIds] = await model.greedyDecode([srcIds], { maxLen });
  const tgtIn = [tokenizer.bosId, ...outIds];
  const maps = model.attentionMaps(padBatch([srcIds], tokenizer.padId), padBatch([tgtIn], tokenizer.padId));
  const lastCross = maps.cross[maps.cross.length - 1];
  const matrix = (await lastCross.array())[0];
  for (const t of [...maps.cross, ...maps.encoder]) t.dispose();
  const attnPath = files.attention;
  await writeTextFile(attnPath, await heatmapSvg({
    title: `cross-attention (last decoder layer): ${LANGUAGES.de.words(example.n)} -> ${tokenizer.decode(outIds)}`,
    matrix, rows: tgtIn.map((id) => tokenizer.idToToken(id)), cols: srcIds.map((id) => tokenizer.idToToken(id)),
    rowTitle: 'generated token (decoder input)', colTitle: 'source token',
  }));

  const modelPath = files.model;
  await saveModel(modelPath, model, { tokenizer, extra: { heldOutExactMatch: greedy.accuracy, [TRAINED_STEPS_KEY]: endStep } });
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  const report = stepReport(result, endStep - startStep, { cacheCounts: true });
  const summary = {
    example: 'translate-numbers', backend: getBackend().name, steps: endStep, batchSize: settings.batchSize,
    numbers: settings.maxNumber, trainNumbers: train.length, heldOutNumbers: heldOut.length,
    ranks: worldSize, transport: group.backend, accumulate: micro, dropout: settings.dropout, dropoutStreams,
    trainSeconds: result.seconds, tokensPerSecond: result.tokensPerSecond, samplesPerSecond: (endStep - startStep) * settings.batchSize / result.seconds,
    finalTrainLoss: result.lastLoss, trainLosses: history.filter((h) => h.series === 'train').map((h) => h.loss),
    heldOutGreedy: { correct: greedy.correct, total: greedy.total, accuracy: greedy.accuracy },
    heldOutBeam: { beamSize: opts.beamSize, correct: beam.correct, total: beam.total, accuracy: beam.accuracy, greedyCorrectOnSameSubset: greedyOnBeamSubset },
    stepsPerSecond: report.stepsPerSecond, compiled: result.compileStats ?? null,
    evalSeconds, files: { checkpoint: ckptPath, model: modelPath, lossCurve: lossPath, attention: attnPath },
  };
  await writeTextFile(files.summary, `${JSON.stringify(summary, null, 2)}\n`);

  console.log(`\ntrained ${endStep - startStep} steps in ${result.seconds.toFixed(1)} s (${report.stepsPerSecond.toFixed(2)} steps/s, ${Math.round(result.tokensPerSecond)} tokens/s), final loss ${result.lastLoss.toFixed(4)}`);
  if (report.compiledLine) console.log(report.compiledLine);
  console.log(`held-out exact match (greedy): ${pct(greedy.accuracy)} (${greedy.correct}/${greedy.total} translations of ${heldOut.length} unseen numbers)`);
  console.log(`held-out exact match (beam ${opts.beamSize}): ${pct(beam.accuracy)} (${beam.correct}/${beam.total} random held-out translations; greedy on the same: ${greedyOnBeamSubset}/${beam.total})`);
  for (const e of items.slice(0, 4)) {
    const [ids] = await model.greedyDecode([encodeSource(e)], { maxLen });
    console.log(`  ${sourceText(e.n, e.from, e.to)}  ->  ${tokenizer.decode(ids)}`);
  }
  if (greedy.errors.length > 0) {
    console.log(`some errors (${greedy.errors.length}):`);
    for (const e of greedy.errors.slice(0, 3)) console.log(`  ${e.source}  ->  ${e.got}   (expected: ${e.want})`);
  }
  console.log(`\nwrote:\n  loss curve      ${lossPath}\n  attention map   ${attnPath}\n  checkpoint      ${ckptPath}\n  model+tokenizer ${modelPath}\n  summary         ${files.summary}`);
  tidy(() => { valSrc.dispose(); valTgt.dispose(); });
}
