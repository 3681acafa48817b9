// SPDX-License-Identifier: MIT
// The base of every Hugging Face model class: `fromPretrained(source)` (config.json +
// safetensors weights, strict key matching with HF's tied weights and base-model prefix) and
// `savePretrained(dir)` (config.json + model.safetensors + generation_config.json, the files
// transformers' `from_pretrained` reads back).
// Invariants: a checkpoint that does not match the model (missing or unexpected keys, shapes)
// is refused with one HeedError listing every problem, before any parameter changes; a tied
// alias (`lm_head.weight` when tied to the input embedding) may be absent from the file and is
// not written (HF's layout); the loaded tensors are disposed once copied.
import { HeedError, fmtShape, type Tensor } from '@heed/core';
import { Module, noInit, type FloatDType } from '@heed/nn';
import {
  CONFIG_NAME, GENERATION_CONFIG_NAME, generationConfigFromModel, loadConfig, loadGenerationConfig, serializeConfig,
  type GenerationConfig, type PretrainedConfig,
} from './config.js';
import { openSource, writeSourceFile, type PretrainedSource } from './source.js';
import { loadWeights, saveWeights } from './weights.js';

/**
 * Options of `fromPretrained`.
 *
 * @example
 * ```ts
 * await GPT2LMHeadModel.fromPretrained('./checkpoints/gpt2', { backend: 'webgpu' });
 * ```
 */
export interface FromPretrainedOptions {
  /** Backend the model's weights live on (default: the default backend). */
  backend?: string;
}

/**
 * Options of `savePretrained`.
 *
 * @example
 * ```ts
 * await model.savePretrained('./out', { floatDType: 'BF16', maxShardSize: 2_000_000_000 });
 * ```
 */
export interface SavePretrainedOptions {
  /** How float32 weights are stored (default F32: exact round trip). */
  floatDType?: FloatDType;
  /** Split the weights into shards of at most this many bytes (HF's `max_shard_size`). */
  maxShardSize?: number;
}

/**
 * A model class `fromPretrained` can build: its HF family and class name, and a constructor
 * from a config (random weights, replaced by the checkpoint's).
 *
 * @example
 * ```ts
 * const cls: PretrainedModelClass<GPT2LMHeadModel> = GPT2LMHeadModel;
 * ```
 */
export interface PretrainedModelClass<M extends PreTrainedModel = PreTrainedModel> {
  /** The `model_type` of its configs, e.g. `'gpt2'`. */
  readonly modelType: string;
  /** The HF class name written to `architectures`, e.g. `'GPT2LMHeadModel'`. */
  readonly architecture: string;
  /** A model with random weights for `config` (checked; bad fields are a HeedError). */
  fromConfig(config: PretrainedConfig): M;
}

const MAX_LISTED = 25;
function listKeys(keys: string[]): string {
  return keys.length === 0 ? 'none' : `${keys.slice(0, MAX_LISTED).join(', ')}${keys.length > MAX_LISTED ? `, ... (${keys.length} in all)` : ''}`;
}

/**
 * Base class of the Hugging Face model classes: an nn `Module` with its `config`, its
 * `generationConfig`, HF's tied weights and base-model prefix, and `savePretrained`.
 *
 * @example
 * ```ts
 * const model = await GPT2LMHeadModel.fromPretrained('./checkpoints/gpt2');
 * await model.savePretrained('./copy');
 * ```
 */
export abstract class PreTrainedModel<C extends PretrainedConfig = PretrainedConfig> extends Module {
  /** Generation defaults (generation_config.json, or derived from the config like HF). */
  generationConfig: GenerationConfig;

  constructor(readonly config: C) {
    super();
    this.generationConfig = generationConfigFromModel(config);
  }

  /** The HF class name (written to `architectures` by savePretrained). */
  abstract get architecture(): string;

  /**
   * HF's `base_model_prefix` (e.g. `'transformer'` for GPT-2, `'model'` for Llama; `''` for
   * none). A head model holds its base model under this key; loading maps a base-model
   * checkpoint into a head model (keys get the prefix) and a head checkpoint into the base
   * model (the prefix is removed and the head's own keys dropped), as HF does.
   *
   * @example `model.baseModelPrefix; // 'transformer'`
   */
  get baseModelPrefix(): string {
    return '';
  }

  /**
   * Tied parameters as alias key -> source key (e.g. `{ 'lm_head.weight': 'transformer.wte.weight' }`);
   * aliases may be absent from a checkpoint and are not saved.
   *
   * @example `model.tiedWeightKeys(); // { 'lm_head.weight': 'transformer.wte.weight' }`
   */
  tiedWeightKeys(): Record<string, string> {
    return {};
  }

  /**
   * Checkpoint keys HF ignores when loading (stale buffers of old checkpoints, e.g. GPT-2's
   * `attn.masked_bias`).
   *
   * @example `model.ignoredCheckpointKeys().some((r) => r.test('h.0.attn.bias'));`
   */
  ignoredCheckpointKeys(): RegExp[] {
    return [];
  }

  /**
   * Copies checkpoint tensors (HF keys) into the model. Refuses a mismatch (missing keys,
   * unexpected keys, shapes) with a HeedError listing them all, leaving the model unchanged.
   * Does not dispose `weights`.
   *
   * @example
   * ```ts
   * model.loadPretrainedState(await loadWeights('./checkpoints/gpt2'));
   * ```
   */
  loadPretrainedState(weights: Map<string, Tensor>, op = 'fromPretrained'): void {
    const own = this.stateDict();
    const tied = this.tiedWeightKeys();
    const ignored = this.ignoredCheckpointKeys();
    const names = this.mapCheckpointNames([...weights.keys()], own);
    const byOwnKey = new Map<string, Tensor>();
    const unexpected: string[] = [];
    for (const [fileKey, t] of weights) {
      const key = names.get(fileKey);
      if (key === null) continue; // dropped: another model's head under the base prefix
      if (key !== undefined && own.has(key)) {
        if (!Object.prototype.hasOwnProperty.call(tied, key)) byOwnKey.set(key, t);
        continue;
      }
      if (!ignored.some((r) => r.test(fileKey))) unexpected.push(fileKey);
    }
    const missing: string[] = [];
    for (const key of own.keys()) {
      if (byOwnKey.has(key) || Object.prototype.hasOwnProperty.call(tied, key)) continue;
      missing.push(key);
    }
    const shapes: string[] = [];
    for (const [key, t] of byOwnKey) {
      const target = own.get(key) as Tensor;
      const same = t.rank === target.rank && t.shape.every((d, i) => d === target.shape[i]);
      if (!same || t.dtype !== target.dtype) shapes.push(`${key}: checkpoint ${fmtShape(t.shape)} ${t.dtype}, model ${fmtShape(target.shape)} ${target.dtype}`);
    }
    if (missing.length > 0 || unexpected.length > 0 || shapes.length > 0) {
      throw new HeedError(op, `the checkpoint does not match ${this.architecture} (config ${JSON.stringify(this.config.model_type)}); ` +
        `missing keys: ${listKeys(missing)}; unexpected keys: ${listKeys(unexpected)}` +
        `${shapes.length > 0 ? `; shape mismatches: ${listKeys(shapes)}` : ''}. The model is unchanged. ` +
        'Check that config.json describes these weights (layer counts, sizes, tie_word_embeddings).');
    }
    const full = new Map(byOwnKey);
    for (const [alias, sourceKey] of Object.entries(tied)) {
      const src = byOwnKey.get(sourceKey);
      if (src !== undefined) full.set(alias, src);
    }
    this.loadStateDict(full);
  }

  /**
   * Maps checkpoint keys onto this model's keys (HF's base-model prefix handling): the key
   * itself, the key with the prefix added (base checkpoint -> head model), or with it removed
   * (head checkpoint -> base model; `null` for the head's own keys, which are dropped).
   */
  private mapCheckpointNames(fileKeys: string[], own: Map<string, Tensor>): Map<string, string | null> {
    const out = new Map<string, string | null>();
    const prefix = this.baseModelPrefix;
    const dot = `${prefix}.`;
    const direct = fileKeys.filter((k) => own.has(k)).length;
    if (prefix !== '' && [...own.keys()].some((k) => k.startsWith(dot))) {
      // A head model: a base checkpoint's keys lack the prefix.
      const prefixed = fileKeys.filter((k) => !own.has(k) && own.has(dot + k)).length;
      for (const k of fileKeys) out.set(k, prefixed > direct && !own.has(k) ? dot + k : k);
    } else if (prefix !== '' && fileKeys.filter((k) => k.startsWith(dot) && own.has(k.slice(dot.length))).length > direct) {
      // The base model and a head checkpoint.
      for (const k of fileKeys) out.set(k, k.startsWith(dot) ? k.slice(dot.length) : null);
    } else {
      for (const k of fileKeys) out.set(k, k);
    }
    return out;
  }

  /**
   * The config written by savePretrained: the model's config with `architectures` set to this
   * class, like HF.
   *
   * @example `model.configToSave().architectures; // ['GPT2LMHeadModel']`
   */
  configToSave(): PretrainedConfig {
    return { ...this.config, architectures: [this.architecture] };
  }

  /**
   * Writes the model in Hugging Face's layout to `dir` (Node.js): `config.json`,
   * `model.safetensors` (or shards + index; tied aliases omitted) and `generation_config.json`.
   * transformers' `from_pretrained(dir)` loads it, and so does `fromPretrained(dir)`, exactly.
   *
   * @example
   * ```ts
   * await model.savePretrained('./my-gpt2');
   * ```
   */
  async savePretrained(dir: string, options: SavePretrainedOptions = {}): Promise<string[]> {
    const op = 'savePretrained';
    const tied = this.tiedWeightKeys();
    const state = new Map([...this.stateDict()].filter(([k]) => !Object.prototype.hasOwnProperty.call(tied, k)));
    const files = await saveWeights(dir, state, { floatDType: options.floatDType, maxShardSize: options.maxShardSize }, op);
    const config = this.configToSave();
    if (options.floatDType !== undefined) config.dtype = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[options.floatDType];
    await writeSourceFile(dir, CONFIG_NAME, new TextEncoder().encode(serializeConfig(config)), op);
    await writeSourceFile(dir, GENERATION_CONFIG_NAME, new TextEncoder().encode(serializeConfig(this.generationConfig)), op);
    return [CONFIG_NAME, ...files, GENERATION_CONFIG_NAME];
  }

  /**
   * Loads a Hugging Face checkpoint (config.json + model.safetensors or shards, and
   * generation_config.json when present) into a new model of this class.
   *
   * @example
   * ```ts
   * const model = await GPT2LMHeadModel.fromPretrained('./checkpoints/gpt2');
   * ```
   */
  static async fromPretrained<M extends PreTrainedModel>(this: PretrainedModelClass<M>, source: PretrainedSource, options: FromPretrainedOptions = {}): Promise<M> {
    return loadPretrained(this, source, options);
  }
}

/**
 * Builds `cls` from the checkpoint at `source`: reads config.json (its `model_type` must be the
 * class's, or its `architectures` must name the class), the weights and generation_config.json,
 * and loads them strictly.
 *
 * @example
 * ```ts
 * const model = await loadPretrained(GPT2LMHeadModel, './checkpoints/gpt2');
 * ```
 */
export async function loadPretrained<M extends PreTrainedModel>(cls: PretrainedModelClass<M>, source: PretrainedSource, options: FromPretrainedOptions = {}, op = 'fromPretrained'): Promise<M> {
  const src = openSource(source, op);
  const config = await loadConfig(src, op);
  const named = Array.isArray(config.architectures) && config.architectures.includes(cls.architecture);
  if (config.model_type !== cls.modelType && !named) {
    throw new HeedError(op, `'${src.location}' holds a "${config.model_type}" model but ${cls.architecture} is a "${cls.modelType}" class; ` +
      'use the class of that family, or an AutoModelFor* class that chooses by config.json.');
  }
  const generationConfig = await loadGenerationConfig(src, op);
  const weights = await loadWeights(src, {}, op);
  let model: M | undefined;
  try {
    // No random init: strict loading replaces every parameter and persistent buffer.
    model = noInit(() => cls.fromConfig(config));
    model.loadPretrainedState(weights, op);
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    for (const t of weights.values()) t.dispose();
  }
  if (generationConfig !== undefined) model.generationConfig = generationConfig;
  model.eval();
  if (options.backend !== undefined && options.backend !== model.parameters()[0]?.backend.name) await model.toAsync(options.backend);
  return model;
}
