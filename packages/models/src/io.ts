// SPDX-License-Identifier: MIT
// Saving and loading ready models as ONE safetensors file: the weights under their PyTorch-style
// state-dict keys, and in the string metadata `heed.model` (kind + full config + extra JSON)
// and `heed.tokenizer` (the tokenizer's JSON), so a file is self-contained.
// Invariants: the model kinds form one exhaustive table (kind -> class); loading builds the
// model from the stored config, then loads the weights strictly; nothing is returned until
// everything validated; the tensors read from the file are disposed after copying.
import { HeedError } from '@heed/core';
import { loadSafetensors, readFileBytes, readSafetensorsHeader, saveSafetensors, writeFileAtomic, type JsonValue } from '@heed/nn';
import { Seq2SeqTransformer, type Seq2SeqConfig } from './seq2seq.js';
import { GPT, type GPTConfig } from './gpt.js';
import { TransformerClassifier, type ClassifierConfig } from './classifier.js';
import { tokenizerFromJSON, type Tokenizer, type TokenizerJSON } from './tokenizers/index.js';

/**
 * Each model kind with its class and config type (the one table everything else derives from).
 *
 * @example
 * ```ts
 * const cfg: ModelTypes['gpt']['config'] = gpt.config;
 * ```
 */
export interface ModelTypes {
  seq2seq: { model: Seq2SeqTransformer; config: Seq2SeqConfig };
  gpt: { model: GPT; config: GPTConfig };
  classifier: { model: TransformerClassifier; config: ClassifierConfig };
}

/**
 * The model kinds (`'seq2seq' | 'gpt' | 'classifier'`).
 *
 * @example
 * ```ts
 * const k: ModelKind = 'gpt';
 * ```
 */
export type ModelKind = keyof ModelTypes;

/**
 * Any ready model.
 *
 * @example
 * ```ts
 * const m: AnyModel = new GPT({ vocabSize: 10 });
 * ```
 */
export type AnyModel = ModelTypes[ModelKind]['model'];

const FACTORIES: { [K in ModelKind]: (config: ModelTypes[K]['config']) => ModelTypes[K]['model'] } = {
  seq2seq: (c) => new Seq2SeqTransformer(c),
  gpt: (c) => new GPT(c),
  classifier: (c) => new TransformerClassifier(c),
};

/**
 * The kind of a model instance.
 *
 * @example
 * ```ts
 * modelKind(new GPT({ vocabSize: 10 })); // 'gpt'
 * ```
 */
export function modelKind(model: AnyModel): ModelKind {
  if (model instanceof Seq2SeqTransformer) return 'seq2seq';
  if (model instanceof GPT) return 'gpt';
  if (model instanceof TransformerClassifier) return 'classifier';
  throw new HeedError('modelKind', 'not a @heed/models model (Seq2SeqTransformer, GPT or TransformerClassifier).');
}

/**
 * Builds a fresh model of `kind` from a full config (e.g. one read from a file).
 *
 * @example
 * ```ts
 * const copy = createModel('gpt', gpt.config);
 * ```
 */
export function createModel<K extends ModelKind>(kind: K, config: ModelTypes[K]['config']): ModelTypes[K]['model'] {
  const make = FACTORIES[kind] as ((c: ModelTypes[K]['config']) => ModelTypes[K]['model']) | undefined;
  if (!make) throw new HeedError('createModel', `unknown model kind '${String(kind)}'; expected one of ${Object.keys(FACTORIES).join(', ')}.`);
  return make(config);
}

/**
 * What {@link loadModel} returns, discriminated by `kind`.
 *
 * @example
 * ```ts
 * const loaded = await loadModel('gpt.safetensors');
 * if (loaded.kind === 'gpt') await loaded.model.generate([1], { maxNewTokens: 5 });
 * ```
 */
export type LoadedModel = {
  [K in ModelKind]: { kind: K; model: ModelTypes[K]['model']; tokenizer: Tokenizer | null; extra: JsonValue | undefined };
}[ModelKind];

/**
 * Options of {@link saveModel}.
 *
 * @example
 * ```ts
 * const o: SaveModelOptions = { tokenizer: tok, extra: { heldOutAccuracy: 0.97 } };
 * ```
 */
export interface SaveModelOptions {
  /** Stored as JSON in the `heed.tokenizer` metadata. */
  tokenizer?: Tokenizer | null;
  /** Any JSON stored with the model. */
  extra?: JsonValue;
}

const MODEL_KEY = 'heed.model';
const TOKENIZER_KEY = 'heed.tokenizer';

interface ModelManifest {
  format: 'heed.model';
  version: 1;
  kind: ModelKind;
  config: ModelTypes[ModelKind]['config'];
  extra?: JsonValue;
}

/**
 * Serialises a model (weights + config + tokenizer) to safetensors bytes (browser-safe).
 *
 * @example
 * ```ts
 * const bytes = await serializeModel(gpt, { tokenizer: tok });
 * ```
 */
export async function serializeModel(model: AnyModel, options: SaveModelOptions = {}): Promise<Uint8Array> {
  const manifest: ModelManifest = { format: 'heed.model', version: 1, kind: modelKind(model), config: model.config };
  if (options.extra !== undefined) manifest.extra = options.extra;
  const metadata: Record<string, string> = { format: 'pt', [MODEL_KEY]: JSON.stringify(manifest) };
  if (options.tokenizer) metadata[TOKENIZER_KEY] = JSON.stringify(options.tokenizer.toJSON());
  return saveSafetensors(model.stateDict(), metadata);
}

/** Parses and validates the model manifest of a metadata map. */
function readManifest(op: string, metadata: Record<string, string>): { manifest: ModelManifest; tokenizer: Tokenizer | null } {
  const raw = metadata[MODEL_KEY];
  if (raw === undefined) throw new HeedError(op, `the file has no '${MODEL_KEY}' metadata: it is not a @heed/models model file.`);
  const manifest = JSON.parse(raw) as ModelManifest;
  if (manifest?.format !== 'heed.model' || manifest.version !== 1 || !(manifest.kind in FACTORIES)) {
    throw new HeedError(op, `unsupported '${MODEL_KEY}' metadata (format ${String(manifest?.format)}, version ${String(manifest?.version)}, kind ${String(manifest?.kind)}).`);
  }
  const tokRaw = metadata[TOKENIZER_KEY];
  return { manifest, tokenizer: tokRaw === undefined ? null : tokenizerFromJSON(JSON.parse(tokRaw) as TokenizerJSON) };
}

/**
 * Reads only the description of a model file's bytes (kind, config, tokenizer, extra), without the weights.
 *
 * @example
 * ```ts
 * const { kind, config } = readModelInfo(bytes);
 * ```
 */
export function readModelInfo(bytes: Uint8Array): { kind: ModelKind; config: ModelTypes[ModelKind]['config']; tokenizer: Tokenizer | null; extra: JsonValue | undefined } {
  const { manifest, tokenizer } = readManifest('readModelInfo', readSafetensorsHeader(bytes).metadata);
  return { kind: manifest.kind, config: manifest.config, tokenizer, extra: manifest.extra };
}

/**
 * Rebuilds a model from {@link serializeModel}'s bytes (browser-safe).
 *
 * @example
 * ```ts
 * const { model, tokenizer } = deserializeModel(bytes);
 * ```
 */
export function deserializeModel(bytes: Uint8Array, options: { backend?: string } = {}): LoadedModel {
  const op = 'loadModel';
  const { tensors, metadata } = loadSafetensors(bytes, options);
  try {
    const { manifest, tokenizer } = readManifest(op, metadata);
    const model = createModel(manifest.kind, manifest.config as never) as AnyModel;
    try {
      model.loadStateDict(tensors);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { kind: manifest.kind, model, tokenizer, extra: manifest.extra } as LoadedModel;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/**
 * Saves a model with its config and tokenizer to one `.safetensors` file (atomically). Node.js only.
 *
 * @example
 * ```ts
 * await saveModel('out/gpt.safetensors', gpt, { tokenizer: tok });
 * ```
 */
export async function saveModel(path: string, model: AnyModel, options: SaveModelOptions = {}): Promise<void> {
  await writeFileAtomic(path, await serializeModel(model, options));
}

/**
 * Loads a model saved by {@link saveModel}: builds it from the stored config and loads the weights. Node.js only.
 *
 * @example
 * ```ts
 * const { kind, model, tokenizer } = await loadModel('out/gpt.safetensors');
 * ```
 */
export async function loadModel(path: string, options: { backend?: string } = {}): Promise<LoadedModel> {
  return deserializeModel(await readFileBytes(path), options);
}
