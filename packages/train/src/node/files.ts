// SPDX-License-Identifier: MIT
// The files of a training run (Node.js): where they go in the output folder, SVG figures,
// training checkpoints (save, inspect, resume), and the guard that keeps a short run (a
// `--quick` check, say) from silently replacing a model trained for more steps.
// Node modules are imported dynamically (like @heed/nn's file helpers), so nothing here needs
// `node:` at bundle time; every write goes through nn's atomic writer.
// Invariant: guardOutput throws before anything is written; a refused run leaves the folder as it was.
import { HeedError } from '@heed/core';
import { readFileBytes, writeFileAtomic } from '@heed/nn';
import { readModelInfo } from '@heed/models';
import {
  readTrainingCheckpointInfo, restoreTrainingCheckpoint, serializeTrainingCheckpoint,
  type MakeOptimizer, type RestoredTraining, type TrainingCheckpointExtra, type TrainingState,
} from '../checkpoint.js';

async function nodeModules(op: string) {
  try {
    const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
    const path = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:path');
    return { fs, path };
  } catch {
    throw new HeedError(op, 'file access needs Node.js (node:fs); in the browser use the byte functions of @heed/train (serializeTrainingCheckpoint, ...).');
  }
}

/**
 * The file names of a run's output folder.
 *
 * @example
 * ```ts
 * RUN_FILES.model; // 'model.safetensors'
 * ```
 */
export const RUN_FILES = {
  checkpoint: 'checkpoint.safetensors',
  model: 'model.safetensors',
  summary: 'summary.json',
  lossCurve: 'loss.svg',
  attention: 'attention.svg',
} as const;

/**
 * The key under which a saved model's `extra` JSON records how many steps trained it
 * (read by {@link trainedSteps}).
 *
 * @example
 * ```ts
 * await saveModel(path, model, { tokenizer, extra: { [TRAINED_STEPS_KEY]: endStep } });
 * ```
 */
export const TRAINED_STEPS_KEY = 'trainedSteps';

/**
 * The paths of {@link RUN_FILES} in the folder `out`.
 *
 * @example
 * ```ts
 * const files = await runFiles('examples/out/translate-numbers');
 * files.checkpoint; // 'examples/out/translate-numbers/checkpoint.safetensors'
 * ```
 */
export async function runFiles(out: string): Promise<{ -readonly [K in keyof typeof RUN_FILES]: string }> {
  const { path } = await nodeModules('runFiles');
  const entries = Object.entries(RUN_FILES).map(([k, name]) => [k, path.join(out, name)]);
  return Object.fromEntries(entries) as { -readonly [K in keyof typeof RUN_FILES]: string };
}

/**
 * Creates a folder and its parents (like `mkdir -p`).
 *
 * @example
 * ```ts
 * await ensureDir('examples/out/char-lm');
 * ```
 */
export async function ensureDir(dir: string): Promise<void> {
  const { fs } = await nodeModules('ensureDir');
  await fs.mkdir(dir, { recursive: true });
}

/**
 * Writes a text file atomically, creating its folder.
 *
 * @example
 * ```ts
 * await writeTextFile('out/loss.svg', await lossCurveSvg({ title: 'loss', points: history }));
 * ```
 */
export async function writeTextFile(path: string, text: string): Promise<void> {
  const { path: p } = await nodeModules('writeTextFile');
  await ensureDir(p.dirname(path));
  await writeFileAtomic(path, new TextEncoder().encode(text));
}

/**
 * Saves a training checkpoint file (see `serializeTrainingCheckpoint`), creating its folder.
 *
 * @example
 * ```ts
 * await saveTrainingCheckpoint(path, { model, optimizer, scheduler, step, tokenizer, rng, generator, history, settings });
 * ```
 */
export async function saveTrainingCheckpoint(path: string, state: TrainingState): Promise<void> {
  const { path: p } = await nodeModules('saveTrainingCheckpoint');
  await ensureDir(p.dirname(path));
  await writeFileAtomic(path, await serializeTrainingCheckpoint(state));
}

/**
 * Reads the step and `extra` of a training checkpoint file (no tensors are created).
 *
 * @example
 * ```ts
 * const { step, extra } = await readCheckpointInfo('examples/out/char-lm/checkpoint.safetensors');
 * ```
 */
export async function readCheckpointInfo(path: string): Promise<{ step: number; extra: TrainingCheckpointExtra }> {
  return readTrainingCheckpointInfo(await readFileBytes(path), path);
}

/**
 * Rebuilds a run from a checkpoint file (see `restoreTrainingCheckpoint`).
 *
 * @example
 * ```ts
 * const r = await resumeTraining(path, makeOptimizer);
 * rng.state = r.rngState;
 * ```
 */
export async function resumeTraining(path: string, makeOptimizer: MakeOptimizer): Promise<RestoredTraining> {
  return restoreTrainingCheckpoint(await readFileBytes(path), makeOptimizer, path);
}

async function exists(path: string): Promise<boolean> {
  const { fs } = await nodeModules('trainedSteps');
  return fs.stat(path).then(() => true, () => false);
}

/**
 * How many steps trained what the folder `out` holds: the larger of its checkpoint's step and
 * its model's `extra.trainedSteps`; null when it holds neither.
 *
 * @example
 * ```ts
 * await trainedSteps('examples/out/translate-numbers'); // 600 after a full run
 * ```
 */
export async function trainedSteps(out: string): Promise<number | null> {
  const files = await runFiles(out);
  let steps: number | null = null;
  if (await exists(files.checkpoint)) steps = (await readCheckpointInfo(files.checkpoint)).step;
  if (await exists(files.model)) {
    const { extra } = readModelInfo(await readFileBytes(files.model));
    const n = extra !== null && typeof extra === 'object' && !Array.isArray(extra) ? extra[TRAINED_STEPS_KEY] : undefined;
    if (typeof n === 'number') steps = Math.max(steps ?? 0, n);
  }
  return steps;
}

/**
 * Refuses (HeedError) to start a run of `steps` steps in `out` when the folder holds a model
 * or checkpoint trained for MORE steps, unless `force`. Call it before training.
 *
 * @example
 * ```ts
 * await guardOutput({ out: opts.out, steps: endStep, force: opts.force });
 * ```
 */
export async function guardOutput(o: { out: string; steps: number; force?: boolean }): Promise<void> {
  if (o.force) return;
  const existing = await trainedSteps(o.out);
  if (existing !== null && existing > o.steps) {
    throw new HeedError('guardOutput', `${o.out} holds a model trained for ${existing} steps; this run of ${o.steps} steps would overwrite it. ` +
      'Write elsewhere with --out <dir>, or pass --force to overwrite it.');
  }
}
