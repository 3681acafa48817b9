// SPDX-License-Identifier: MIT
// What the fine-tuning scripts share (finetune-classifier, and summarize with `--model`): the
// tokenizer of a downloaded checkpoint checked against the model's vocabulary, training
// checkpoints of a Hugging Face model (model, optimizer, schedule, step, dropout stream and
// loss history in one @heed/nn checkpoint file, for an exact `--resume`), the guard against
// overwriting a longer run, and the save -> reload check of the fine-tuned model.
// Invariants: a resumed run rebuilds the model from the same checkpoint folder and then loads
// every tensor of the training checkpoint (strict), so it continues bit for bit; the reload
// check compares the logits of the saved and the reloaded model exactly.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, noGrad } from '@heed/core';
import { loadCheckpoint, readSafetensorsHeader, saveCheckpoint } from '@heed/nn';
import { AutoTokenizer } from '@heed/models';
import { attachGenerator, ensureDir } from '@heed/train/node';

/**
 * The files of a fine-tuning run in its output folder.
 *
 * @example
 * const files = fineTuneFiles('examples/out/finetune-classifier');
 * @param {string} out
 */
export function fineTuneFiles(out) {
  return {
    checkpoint: join(out, 'checkpoint.safetensors'), model: join(out, 'model'), summary: join(out, 'summary.json'), lossCurve: join(out, 'loss.svg'),
  };
}

/**
 * Prints `error: message` and exits with status 2 (a usage error, like the other scripts).
 *
 * @example
 * fail('--model <dir> is required');
 * @param {string} message
 * @returns {never}
 */
export function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

/**
 * The tokenizer of a checkpoint folder (tokenizer.json), refused when it has more tokens than
 * the model's embedding rows.
 *
 * @example
 * const tokenizer = await loadTokenizerFor(model, opts.tokenizer ?? opts.model);
 * @param {{ config: { vocab_size?: number } }} model @param {string} dir
 */
export async function loadTokenizerFor(model, dir) {
  if (!existsSync(join(dir, 'tokenizer.json'))) {
    fail(`${dir} has no tokenizer.json; download it with the checkpoint (transformers' tokenizer.save_pretrained writes it), or pass --tokenizer <dir>.`);
  }
  const tokenizer = await AutoTokenizer.fromPretrained(dir);
  const rows = model.config.vocab_size;
  if (typeof rows === 'number' && tokenizer.vocabSize > rows) {
    fail(`the tokenizer in ${dir} has ${tokenizer.vocabSize} tokens but the model's embedding has ${rows} rows; use the tokenizer that came with the checkpoint.`);
  }
  return tokenizer;
}

/**
 * Refuses (exit 2) to start a run of `steps` steps in `out` when its summary.json records a
 * longer run, unless `--force`.
 *
 * @example
 * guardFineTuneOutput(opts, endStep);
 * @param {{ out: string, force: boolean }} opts @param {number} steps
 */
export function guardFineTuneOutput(opts, steps) {
  const path = fineTuneFiles(opts.out).summary;
  if (opts.force || !existsSync(path)) return;
  const previous = JSON.parse(readFileSync(path, 'utf8')).steps;
  if (typeof previous === 'number' && previous > steps) {
    fail(`${opts.out} holds a model trained for ${previous} steps; this run of ${steps} steps would overwrite it. Write elsewhere with --out <dir>, or pass --force to overwrite it.`);
  }
}

/**
 * Saves a training checkpoint of a pretrained model: weights, optimizer moments, schedule,
 * step, the dropout generator's seed and offset, the loss history and the run's settings.
 *
 * @example
 * await saveFineTuneCheckpoint(files.checkpoint, { model, optimizer, scheduler, step, generator, history, settings });
 * @param {string} path
 * @param {{ model: import('@heed/nn').Module, optimizer: import('@heed/nn').CheckpointOptimizer, scheduler: import('@heed/nn').CheckpointScheduler, step: number, generator: Generator, history: object[], settings: object }} s
 */
export async function saveFineTuneCheckpoint(path, s) {
  await ensureDir(join(path, '..'));
  await saveCheckpoint(path, {
    model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, step: s.step,
    extra: { generator: { seed: s.generator.seed, offset: s.generator.offset }, history: s.history, settings: s.settings },
  });
}

/**
 * Restores a checkpoint of {@link saveFineTuneCheckpoint} into a model freshly loaded from the
 * same folder and its new optimizer and schedule; returns the step, the generator (attached
 * to the model's dropouts), the history and the settings.
 *
 * @example
 * const { step, generator, history } = await restoreFineTuneCheckpoint(files.checkpoint, { model, optimizer, scheduler });
 * @param {string} path
 * @param {{ model: import('@heed/nn').Module, optimizer: import('@heed/nn').CheckpointOptimizer, scheduler: import('@heed/nn').CheckpointScheduler }} targets
 */
export async function restoreFineTuneCheckpoint(path, targets) {
  const { step, extra } = await loadCheckpoint(path, { ...targets, strict: true });
  const generator = new Generator(extra.generator.seed);
  generator.offset = extra.generator.offset;
  attachGenerator(targets.model, generator);
  return { step, generator, history: extra.history, settings: extra.settings };
}

/** The safetensors metadata entry holding @heed/nn's checkpoint manifest (step and extra JSON). */
const MANIFEST_KEY = 'heed.checkpoint';

/**
 * The settings stored in a checkpoint of {@link saveFineTuneCheckpoint} (no tensors are read),
 * so `--resume` rebuilds the same run.
 *
 * @example
 * const settings = readFineTuneSettings(files.checkpoint);
 * @param {string} path
 */
export function readFineTuneSettings(path) {
  checkResumable(path);
  const { metadata } = readSafetensorsHeader(readFileSync(path));
  const settings = metadata[MANIFEST_KEY] && JSON.parse(metadata[MANIFEST_KEY]).extra?.settings;
  if (!settings) fail(`--resume: ${path} is not a checkpoint of this script (no settings in it).`);
  return settings;
}

/**
 * Exits with status 2 when `--resume` has no checkpoint to continue from.
 *
 * @example
 * checkResumable(files.checkpoint);
 * @param {string} path
 */
export function checkResumable(path) {
  if (!existsSync(path)) fail(`--resume: ${path} does not exist; run without --resume first.`);
}

/**
 * Saves the model and tokenizer with `savePretrained` into `dir`, reloads the model with
 * `load(dir)` and returns the largest absolute difference of the two models' logits for
 * `forward()` (0 for an exact round trip).
 *
 * @example
 * const diff = await saveAndReload(model, tokenizer, files.model, (d) => AutoModelForSequenceClassification.fromPretrained(d), (m) => m.forward(ids).logits);
 * @param {{ savePretrained(dir: string): Promise<unknown> }} model
 * @param {{ savePretrained(dir: string): Promise<void> }} tokenizer
 * @param {string} dir
 * @param {(dir: string) => Promise<import('@heed/nn').Module>} load
 * @param {(m: import('@heed/nn').Module) => import('@heed/core').Tensor} logitsOf
 */
export async function saveAndReload(model, tokenizer, dir, load, logitsOf) {
  await model.savePretrained(dir);
  await tokenizer.savePretrained(dir);
  const reloaded = await load(dir);
  try {
    model.eval();
    reloaded.eval();
    const [a, b] = noGrad(() => [logitsOf(model), logitsOf(reloaded)]);
    const [x, y] = [await a.data(), await b.data()];
    a.dispose();
    b.dispose();
    let diff = x.length === y.length ? 0 : Infinity;
    for (let i = 0; i < x.length && diff < Infinity; i++) diff = Math.max(diff, Math.abs(x[i] - y[i]));
    return diff;
  } finally {
    reloaded.dispose();
  }
}
