// SPDX-License-Identifier: MIT
// Training checkpoints: model state dict + optimizer state + scheduler state + step + extra
// JSON, in ONE safetensors file. Tensors are stored as F32/I32/BOOL (bit-exact); non-tensor
// state (hyperparameters, step counts, scheduler counters) is JSON in the `heed.checkpoint`
// metadata entry. Resuming from a checkpoint continues training bit-for-bit.
// Tensor names: `model/<key>` and `optimizer/<param index>/<state key>`.
// Invariants: nothing is loaded into the targets until the file and its manifest validate;
// loaded tensors are handed to `loadStateDict` (which must copy, PyTorch-style) and disposed after.
import { HeedError, type Tensor } from '@heed/core';
import type { OptimizerStateDict, OptimStateValue } from '../optim/optimizer.js';
import type { SchedulerStateDict } from '../optim/schedules.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';
import { readFileBytes } from './node.js';
import { writeFileAtomic } from './atomic.js';

/**
 * Anything with a PyTorch-style state dict (e.g. an nn `Module`). `loadStateDict` must copy the
 * values it is given: the checkpoint loader disposes them afterwards.
 *
 * @example
 * ```ts
 * const model: HasStateDict = {
 *   stateDict: () => ({ w }),
 *   loadStateDict: (d) => { const v = d instanceof Map ? d.get('w') : d.w; noGrad(() => w.assign(v!)); },
 * };
 * ```
 */
export interface HasStateDict {
  stateDict(): Map<string, Tensor> | Record<string, Tensor>;
  loadStateDict(dict: Map<string, Tensor> | Record<string, Tensor>, options?: { strict?: boolean }): unknown;
}

/**
 * The optimizer side of a checkpoint (any `Optimizer` qualifies).
 *
 * @example
 * ```ts
 * const o: CheckpointOptimizer = new AdamW(model);
 * ```
 */
export interface CheckpointOptimizer {
  stateDict(): OptimizerStateDict;
  loadStateDict(dict: OptimizerStateDict): void;
}

/**
 * The scheduler side of a checkpoint (any `LRScheduler` qualifies).
 *
 * @example
 * ```ts
 * const s: CheckpointScheduler = new StepLR(optimizer, { stepSize: 10 });
 * ```
 */
export interface CheckpointScheduler {
  stateDict(): SchedulerStateDict;
  loadStateDict(dict: SchedulerStateDict): void;
}

/**
 * A JSON value (for the `extra` field of a checkpoint).
 *
 * @example
 * ```ts
 * const extra: JsonValue = { epoch: 3, bestLoss: 0.42, note: 'warm restart' };
 * ```
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * What a checkpoint stores.
 *
 * @example
 * ```ts
 * await saveCheckpoint('ckpt.safetensors', { model, optimizer, scheduler, step: 1000, extra: { epoch: 2 } });
 * ```
 */
export interface CheckpointState {
  model: HasStateDict;
  optimizer?: CheckpointOptimizer;
  scheduler?: CheckpointScheduler;
  /** The training step (a non-negative integer). */
  step: number;
  /** Any JSON-serializable extra information. */
  extra?: JsonValue;
}

/**
 * Where a checkpoint is loaded into.
 *
 * @example
 * ```ts
 * const { step } = await loadCheckpoint('ckpt.safetensors', { model, optimizer, scheduler });
 * ```
 */
export interface CheckpointTargets {
  model: HasStateDict;
  optimizer?: CheckpointOptimizer;
  scheduler?: CheckpointScheduler;
  /** Passed to `model.loadStateDict` (default true). */
  strict?: boolean;
  /** Backend to create the loaded tensors on (default: the current backend). */
  backend?: string;
}

/**
 * What {@link loadCheckpoint} returns besides filling the targets.
 *
 * @example
 * ```ts
 * const info: CheckpointInfo = await loadCheckpoint(path, { model });
 * info.step;
 * ```
 */
export interface CheckpointInfo {
  step: number;
  extra: JsonValue | undefined;
}

const META_KEY = 'heed.checkpoint';
const FORMAT = 'heed.checkpoint';
const VERSION = 1;

interface Manifest {
  format: typeof FORMAT;
  version: number;
  step: number;
  extra?: JsonValue;
  model: string[];
  optimizer: { paramGroups: OptimizerStateDict['paramGroups']; scalars: Record<string, Record<string, number>>; tensors: Record<string, string[]> } | null;
  scheduler: SchedulerStateDict | null;
}

const toEntries = (d: Map<string, Tensor> | Record<string, Tensor>): [string, Tensor][] => (d instanceof Map ? [...d.entries()] : Object.entries(d));

/**
 * Serializes a checkpoint to safetensors bytes (works in the browser too).
 *
 * @example
 * ```ts
 * const bytes = await serializeCheckpoint({ model, optimizer, step: 10 });
 * ```
 */
export async function serializeCheckpoint(state: CheckpointState): Promise<Uint8Array> {
  const op = 'saveCheckpoint';
  if (!Number.isSafeInteger(state.step) || state.step < 0) throw new HeedError(op, `step must be a non-negative integer, got ${state.step}.`);
  const tensors = new Map<string, Tensor>();
  const model = toEntries(state.model.stateDict());
  for (const [k, t] of model) tensors.set(`model/${k}`, t);
  let optimizer: Manifest['optimizer'] = null;
  if (state.optimizer) {
    const sd = state.optimizer.stateDict();
    const scalars: Record<string, Record<string, number>> = {};
    const names: Record<string, string[]> = {};
    for (const [index, s] of Object.entries(sd.state)) {
      scalars[index] = {};
      names[index] = [];
      for (const [key, v] of Object.entries(s)) {
        if (typeof v === 'number') scalars[index][key] = v;
        else {
          tensors.set(`optimizer/${index}/${key}`, v);
          names[index].push(key);
        }
      }
    }
    optimizer = { paramGroups: sd.paramGroups, scalars, tensors: names };
  }
  const manifest: Manifest = {
    format: FORMAT, version: VERSION, step: state.step, model: model.map(([k]) => k), optimizer,
    scheduler: state.scheduler ? state.scheduler.stateDict() : null,
  };
  if (state.extra !== undefined) manifest.extra = state.extra;
  return saveSafetensors(tensors, { [META_KEY]: JSON.stringify(manifest) });
}

function parseManifest(op: string, raw: string | undefined): Manifest {
  if (raw === undefined) throw new HeedError(op, `the file has no '${META_KEY}' metadata; it is a plain safetensors file, not a Heed checkpoint.`);
  let m: Manifest;
  try {
    m = JSON.parse(raw) as Manifest;
  } catch {
    throw new HeedError(op, `the '${META_KEY}' metadata is not valid JSON.`);
  }
  if (typeof m !== 'object' || m === null || m.format !== FORMAT || !Array.isArray(m.model) || !Number.isSafeInteger(m.step)) {
    throw new HeedError(op, `the '${META_KEY}' metadata is not a Heed checkpoint manifest.`);
  }
  if (m.version !== VERSION) throw new HeedError(op, `checkpoint format version ${m.version} is not supported (this Heed reads version ${VERSION}).`);
  return m;
}

/**
 * Restores a checkpoint from safetensors bytes into `targets` (works in the browser too).
 *
 * @example
 * ```ts
 * const { step } = deserializeCheckpoint(bytes, { model, optimizer });
 * ```
 */
export function deserializeCheckpoint(bytes: Uint8Array | ArrayBuffer, targets: CheckpointTargets): CheckpointInfo {
  const op = 'loadCheckpoint';
  const { tensors, metadata } = loadSafetensors(bytes, { backend: targets.backend });
  try {
    const m = parseManifest(op, metadata[META_KEY]);
    const take = (name: string): Tensor => {
      const t = tensors.get(name);
      if (!t) throw new HeedError(op, `the checkpoint lacks tensor '${name}' listed in its manifest; the file is corrupt.`);
      return t;
    };
    const model = new Map(m.model.map((k) => [k, take(`model/${k}`)] as const));
    let optimizerDict: OptimizerStateDict | null = null;
    if (targets.optimizer) {
      if (!m.optimizer) throw new HeedError(op, 'an optimizer was given but the checkpoint has no optimizer state.');
      const state: OptimizerStateDict['state'] = {};
      const indices = new Set([...Object.keys(m.optimizer.scalars), ...Object.keys(m.optimizer.tensors)]);
      for (const index of indices) {
        const entry: Record<string, OptimStateValue> = { ...(m.optimizer.scalars[index] ?? {}) };
        for (const key of m.optimizer.tensors[index] ?? []) entry[key] = take(`optimizer/${index}/${key}`);
        state[Number(index)] = entry;
      }
      optimizerDict = { state, paramGroups: m.optimizer.paramGroups };
    }
    if (targets.scheduler && !m.scheduler) throw new HeedError(op, 'a scheduler was given but the checkpoint has no scheduler state.');
    targets.model.loadStateDict(model, { strict: targets.strict ?? true });
    if (targets.optimizer && optimizerDict) targets.optimizer.loadStateDict(optimizerDict);
    if (targets.scheduler && m.scheduler) targets.scheduler.loadStateDict(m.scheduler);
    return { step: m.step, extra: m.extra };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/**
 * Saves model, optimizer and scheduler state, the step and `extra` JSON to one safetensors
 * file, atomically (a crash mid-write never leaves a truncated checkpoint). Node.js only.
 *
 * @example
 * ```ts
 * await saveCheckpoint('ckpt.safetensors', { model, optimizer, scheduler, step });
 * ```
 */
export async function saveCheckpoint(path: string, state: CheckpointState): Promise<void> {
  await writeFileAtomic(path, await serializeCheckpoint(state));
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint} into fresh (or existing) model,
 * optimizer and scheduler objects; training then continues exactly as if uninterrupted.
 * Node.js only.
 *
 * @example
 * ```ts
 * const { step, extra } = await loadCheckpoint('ckpt.safetensors', { model, optimizer, scheduler });
 * ```
 */
export async function loadCheckpoint(path: string, targets: CheckpointTargets): Promise<CheckpointInfo> {
  return deserializeCheckpoint(await readFileBytes(path), targets);
}
