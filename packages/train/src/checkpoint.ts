// SPDX-License-Identifier: MIT
// Training checkpoints as bytes (browser and Node): one safetensors file (via @heed/nn's
// serializeCheckpoint) with the model, optimizer state, LR schedule and step, plus everything
// else an exact continuation needs in the checkpoint's JSON `extra`: the model kind and
// config, the tokenizer, the data sampler's RNG state, the dropout Generator's offset, the
// loss history and the run's own settings. `@heed/train/node` adds the file versions.
// Invariant: restoring a checkpoint of step k and training to step n gives the same weights
// as training to n without stopping (same data order, same dropout masks).
import { Generator, HeedError } from '@heed/core';
import {
  deserializeCheckpoint, readSafetensorsHeader, serializeCheckpoint,
  type CheckpointOptimizer, type CheckpointScheduler, type JsonValue, type Module,
} from '@heed/nn';
import { createModel, modelKind, tokenizerFromJSON, type AnyModel, type ModelKind, type ModelTypes, type Tokenizer, type TokenizerJSON } from '@heed/models';
import type { LossPoint } from './loop.js';
import type { Rng } from './rng.js';

/** The metadata entry where @heed/nn's checkpoints keep their JSON manifest (see nn's io/checkpoint.ts). */
const MANIFEST_KEY = 'heed.checkpoint';

/**
 * A run's own settings (model size, data size, learning rate...): any JSON object.
 *
 * @example
 * ```ts
 * const settings: TrainingSettings = { dModel: 64, layers: 2, lr: 3e-3, totalSteps: 600 };
 * ```
 */
export type TrainingSettings = { [key: string]: JsonValue };

/**
 * An optimizer that trains (`step`, `zeroGrad`) and checkpoints (`stateDict`, `loadStateDict`):
 * any `@heed/nn` optimizer.
 *
 * @example
 * ```ts
 * const optimizer: TrainingOptimizer = new AdamW(model, { lr: 3e-3 });
 * ```
 */
export type TrainingOptimizer = CheckpointOptimizer & { step(): void; zeroGrad(): void };

/**
 * A learning-rate schedule that steps and checkpoints: any `@heed/nn` scheduler.
 *
 * @example
 * ```ts
 * const scheduler: TrainingScheduler = new CosineAnnealingLR(optimizer, { totalSteps: 600 });
 * ```
 */
export type TrainingScheduler = CheckpointScheduler & { step(): void };

/**
 * Everything a training checkpoint holds.
 *
 * @example
 * ```ts
 * const state: TrainingState = { model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings };
 * ```
 */
export interface TrainingState {
  model: AnyModel;
  optimizer: TrainingOptimizer;
  scheduler?: TrainingScheduler;
  /** Steps done. */
  step: number;
  tokenizer: Tokenizer;
  /** The data sampler (its state is saved). */
  rng: Rng;
  /** The dropout generator (its seed and offset are saved). */
  generator: Generator;
  history: LossPoint[];
  settings: TrainingSettings;
}

/**
 * The JSON `extra` of a training checkpoint.
 *
 * @example
 * ```ts
 * const { extra } = readTrainingCheckpointInfo(bytes);
 * extra.kind; extra.settings.totalSteps;
 * ```
 */
export interface TrainingCheckpointExtra {
  kind: ModelKind;
  config: ModelTypes[ModelKind]['config'];
  tokenizer: TokenizerJSON;
  rngState: number;
  generator: { seed: number; offset: number };
  history: LossPoint[];
  settings: TrainingSettings;
}

/**
 * Serialises a training checkpoint to safetensors bytes.
 *
 * @example
 * ```ts
 * const bytes = await serializeTrainingCheckpoint({ model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings });
 * ```
 */
export async function serializeTrainingCheckpoint(s: TrainingState): Promise<Uint8Array> {
  const extra: TrainingCheckpointExtra = {
    kind: modelKind(s.model),
    config: s.model.config,
    tokenizer: s.tokenizer.toJSON(),
    rngState: s.rng.state,
    generator: { seed: s.generator.seed, offset: s.generator.offset },
    history: s.history,
    settings: s.settings,
  };
  return serializeCheckpoint({ model: s.model, optimizer: s.optimizer, scheduler: s.scheduler, step: s.step, extra: extra as unknown as JsonValue });
}

/**
 * Reads the step and `extra` of a training checkpoint's bytes (no tensors are created).
 * `source` names the bytes in error messages (a path, a file name).
 *
 * @example
 * ```ts
 * const { step, extra } = readTrainingCheckpointInfo(bytes);
 * ```
 */
export function readTrainingCheckpointInfo(bytes: Uint8Array, source = 'the checkpoint'): { step: number; extra: TrainingCheckpointExtra } {
  const op = 'readTrainingCheckpointInfo';
  const { metadata } = readSafetensorsHeader(bytes);
  const raw = metadata[MANIFEST_KEY];
  if (raw === undefined) throw new HeedError(op, `${source} is not a Heed training checkpoint (no '${MANIFEST_KEY}' metadata).`);
  const manifest = JSON.parse(raw) as { step: number; extra?: Partial<TrainingCheckpointExtra> };
  const extra = manifest.extra;
  if (!extra?.kind || !extra.config || !extra.tokenizer || !extra.generator) {
    throw new HeedError(op, `${source} was not written by @heed/train (no model kind/config/tokenizer in its extra JSON); load it with @heed/nn's loadCheckpoint.`);
  }
  return { step: manifest.step, extra: { rngState: 0, history: [], settings: {}, ...extra } as TrainingCheckpointExtra };
}

/**
 * What {@link restoreTrainingCheckpoint} returns: everything needed to continue.
 *
 * @example
 * ```ts
 * const r: RestoredTraining = restoreTrainingCheckpoint(bytes, makeOptimizer);
 * rng.state = r.rngState;
 * ```
 */
export interface RestoredTraining {
  model: AnyModel;
  optimizer: TrainingOptimizer;
  scheduler?: TrainingScheduler;
  step: number;
  generator: Generator;
  tokenizer: Tokenizer;
  rngState: number;
  history: LossPoint[];
  settings: TrainingSettings;
}

/**
 * Makes the optimizer (and schedule) of a model; called with the restored settings so a
 * resumed run builds the same ones as the original.
 *
 * @example
 * ```ts
 * const make: MakeOptimizer = (model, _generator, s) => ({ optimizer: new AdamW(model, { lr: s.lr as number }) });
 * ```
 */
export type MakeOptimizer = (model: AnyModel, generator: Generator, settings: TrainingSettings) => { optimizer: TrainingOptimizer; scheduler?: TrainingScheduler };

/**
 * Rebuilds model, tokenizer and generator from a training checkpoint's bytes, then restores
 * the optimizer and scheduler made by `makeOptimizer`.
 *
 * @example
 * ```ts
 * const r = restoreTrainingCheckpoint(bytes, (model, generator, settings) => makeOptimizer(model, settings));
 * ```
 */
export function restoreTrainingCheckpoint(bytes: Uint8Array, makeOptimizer: MakeOptimizer, source?: string): RestoredTraining {
  const { extra } = readTrainingCheckpointInfo(bytes, source);
  const generator = new Generator(extra.generator.seed);
  const model = createModel(extra.kind, extra.config as never) as AnyModel;
  try {
    const { optimizer, scheduler } = makeOptimizer(model, generator, extra.settings);
    const { step } = deserializeCheckpoint(bytes, { model, optimizer, scheduler });
    generator.offset = extra.generator.offset;
    attachGenerator(model, generator);
    return {
      model, optimizer, scheduler, step, generator, tokenizer: tokenizerFromJSON(extra.tokenizer),
      rngState: extra.rngState, history: extra.history, settings: extra.settings,
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Points every dropout (and attention dropout) of `model` at `generator`, so dropout masks
 * come from a stream whose offset checkpoints save.
 *
 * @example
 * ```ts
 * attachGenerator(model, new Generator(0));
 * ```
 */
export function attachGenerator(model: Module, generator: Generator): void {
  for (const m of model.modules()) if ('generator' in m) (m as { generator: Generator | null }).generator = generator;
}
