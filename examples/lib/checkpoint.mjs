// SPDX-License-Identifier: MIT
// Training checkpoints of the examples: one safetensors file (via @heed/nn's saveCheckpoint)
// with the model, AdamW state, LR schedule and step, plus everything else `--resume` needs
// for an exact continuation in the checkpoint's JSON `extra`: the model kind and config, the
// tokenizer, the data sampler's RNG state, the dropout Generator's offset, the loss history
// and the example's own settings.
// Invariant: resuming from a checkpoint at step k and training to step n gives the same
// weights as training to n without stopping (same data order, same dropout masks).
import { readSafetensorsHeader, loadCheckpoint, readFileBytes, saveCheckpoint } from '@heed/nn';
import { createModel, tokenizerFromJSON } from '@heed/models';
import { Generator } from '@heed/core';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The metadata entry where @heed/nn's checkpoints keep their JSON manifest (documented in nn's io/checkpoint.ts). */
const MANIFEST_KEY = 'heed.checkpoint';

/**
 * Saves a training checkpoint.
 *
 * @example
 * await saveTrainingCheckpoint(path, { model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings });
 * @param {string} path
 * @param {{ model: import('@heed/models').AnyModel, kind: string, optimizer: object, scheduler?: object, step: number,
 *   tokenizer: import('@heed/models').Tokenizer, rng: { state: number }, generator: Generator, history: object[], settings: object }} s
 */
export async function saveTrainingCheckpoint(path, s) {
  await mkdir(dirname(path), { recursive: true });
  const extra = {
    kind: s.kind,
    config: s.model.config,
    tokenizer: s.tokenizer.toJSON(),
    rngState: s.rng.state,
    generator: { seed: s.generator.seed, offset: s.generator.offset },
    history: s.history,
    settings: s.settings,
  };
  await saveCheckpoint(path, { model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, step: s.step, extra });
}

/**
 * Reads what a checkpoint needs to rebuild its model (without loading tensors).
 *
 * @example
 * const info = await readCheckpointInfo('examples/out/char-lm/checkpoint.safetensors');
 * info.step; info.extra.config;
 * @param {string} path
 * @returns {Promise<{ step: number, extra: any }>}
 */
export async function readCheckpointInfo(path) {
  const { metadata } = readSafetensorsHeader(await readFileBytes(path));
  const raw = metadata[MANIFEST_KEY];
  if (raw === undefined) throw new Error(`${path} is not a Heed training checkpoint (no '${MANIFEST_KEY}' metadata).`);
  const manifest = JSON.parse(raw);
  if (!manifest.extra?.kind || !manifest.extra?.config) throw new Error(`${path} was not written by the examples (no model kind/config in its extra JSON).`);
  return { step: manifest.step, extra: manifest.extra };
}

/**
 * Rebuilds model, tokenizer and generator from a checkpoint, then restores the optimizer
 * and scheduler made by `makeOptimizer(model)`. Returns everything needed to continue.
 *
 * @example
 * const r = await resumeTraining(path, (model) => makeOptimizer(model, settings));
 * @param {string} path
 * @param {(model: any, generator: Generator) => { optimizer: object, scheduler?: object }} makeOptimizer
 */
export async function resumeTraining(path, makeOptimizer) {
  const { extra } = await readCheckpointInfo(path);
  const generator = new Generator(extra.generator.seed);
  const model = createModel(extra.kind, extra.config);
  const { optimizer, scheduler } = makeOptimizer(model, generator, extra.settings);
  const { step } = await loadCheckpoint(path, { model, optimizer, scheduler });
  generator.offset = extra.generator.offset;
  attachGenerator(model, generator);
  return {
    model, optimizer, scheduler, step, generator,
    tokenizer: tokenizerFromJSON(extra.tokenizer),
    rngState: extra.rngState, history: extra.history ?? [], settings: extra.settings,
  };
}

/**
 * Points every dropout (and attention dropout) of `model` at `generator`, so dropout masks
 * come from a stream whose offset checkpoints save.
 *
 * @example
 * attachGenerator(model, new Generator(0));
 * @param {import('@heed/nn').Module} model @param {Generator} generator
 */
export function attachGenerator(model, generator) {
  for (const m of model.modules()) if ('generator' in m) m.generator = generator;
}
