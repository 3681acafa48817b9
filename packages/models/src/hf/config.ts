// SPDX-License-Identifier: MIT
// Hugging Face `config.json` and `generation_config.json`: reading (with the errors a user can
// act on), typing (HF's own snake_case field names), typed field readers for the model classes,
// and writing back in HF's layout (`json.dumps(indent=2, sort_keys=True)` + newline).
// Invariants: a loaded config keeps every field of the file (unknown ones included), so
// savePretrained writes back what was read; a field of the wrong type is a HeedError naming
// the field, the file and the expected type, never a silent default.
import { HeedError } from '@heed/core';
import type { JsonValue } from '@heed/nn';
import { openSource, type PretrainedSource, type SourceReader } from './source.js';

/**
 * The model config file name.
 *
 * @example `await openSource(dir).readText(CONFIG_NAME);`
 */
export const CONFIG_NAME = 'config.json';
/**
 * The generation defaults file name.
 *
 * @example `await openSource(dir).readText(GENERATION_CONFIG_NAME); // null when absent`
 */
export const GENERATION_CONFIG_NAME = 'generation_config.json';

/**
 * A token id field: one id, several (e.g. Llama 3's several end-of-sequence ids), or null.
 *
 * @example
 * ```ts
 * const eos: TokenIdField = [128001, 128009];
 * ```
 */
export type TokenIdField = number | number[] | null;

/**
 * The fields every Hugging Face `config.json` may have (HF's `PretrainedConfig`); model
 * configs (`GPT2Config`, `LlamaConfig`, ...) extend it. Unknown fields are kept as JSON.
 *
 * @example
 * ```ts
 * const config = await loadConfig('./checkpoints/gpt2');
 * config.model_type; // 'gpt2'
 * ```
 */
export interface PretrainedConfig {
  /** The model family, e.g. `'gpt2'`, `'llama'`, `'bert'`, `'bart'`. */
  model_type: string;
  /** The class names the checkpoint was saved from, e.g. `['GPT2LMHeadModel']`. */
  architectures?: string[];
  /** Vocabulary size. */
  vocab_size?: number;
  /** Beginning-of-sequence token id. */
  bos_token_id?: TokenIdField;
  /** End-of-sequence token id(s). */
  eos_token_id?: TokenIdField;
  /** Padding token id. */
  pad_token_id?: TokenIdField;
  /** Whether the output embedding shares the input embedding's weight (HF default true). */
  tie_word_embeddings?: boolean;
  /** Any other field of the file. */
  [key: string]: JsonValue | undefined;
}

/**
 * Generation defaults (`generation_config.json`, HF's `GenerationConfig` field names).
 *
 * @example
 * ```ts
 * const gen: GenerationConfig = { max_new_tokens: 20, do_sample: true, top_k: 50, eos_token_id: 50256 };
 * ```
 */
export interface GenerationConfig {
  /** Maximum total length (prompt + new tokens). */
  max_length?: number;
  /** Maximum number of new tokens. */
  max_new_tokens?: number;
  /** Minimum total length. */
  min_length?: number;
  /** Minimum number of new tokens. */
  min_new_tokens?: number;
  /** Sample (true) or take the most likely token (false). */
  do_sample?: boolean;
  /** Softmax temperature when sampling. */
  temperature?: number;
  /** Keep only the k most likely tokens when sampling. */
  top_k?: number;
  /** Keep the smallest set of tokens with probability mass >= top_p when sampling. */
  top_p?: number;
  /** Penalty (> 1 discourages) for tokens already present. */
  repetition_penalty?: number;
  /** Beam count (1: no beam search). */
  num_beams?: number;
  /** Beam score length exponent. */
  length_penalty?: number;
  /** Forbid repeating n-grams of this size. */
  no_repeat_ngram_size?: number;
  /** Beam search stopping rule. */
  early_stopping?: boolean | string;
  /** Beginning-of-sequence token id. */
  bos_token_id?: TokenIdField;
  /** End-of-sequence token id(s): generation stops at any of them. */
  eos_token_id?: TokenIdField;
  /** Padding token id. */
  pad_token_id?: TokenIdField;
  /** First decoder token of encoder-decoder models. */
  decoder_start_token_id?: TokenIdField;
  /** Token forced first (after the decoder start). */
  forced_bos_token_id?: TokenIdField;
  /** Token forced when max length is reached. */
  forced_eos_token_id?: TokenIdField;
  /** Any other field of the file. */
  [key: string]: JsonValue | undefined;
}

function isPlainObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJsonObject(text: string, where: string, op: string): Record<string, JsonValue> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HeedError(op, `'${where}' is not valid JSON (${(e as Error).message}).`);
  }
  if (!isPlainObject(json)) throw new HeedError(op, `'${where}' must hold a JSON object, got ${Array.isArray(json) ? 'an array' : typeof json}.`);
  return json;
}

/**
 * Parses the text of a `config.json`. Throws a HeedError when it is not a JSON object or has
 * no string `model_type`.
 *
 * @example
 * ```ts
 * parseConfig('{"model_type": "gpt2", "n_embd": 768}').model_type; // 'gpt2'
 * ```
 */
export function parseConfig(text: string, where = CONFIG_NAME, op = 'fromPretrained'): PretrainedConfig {
  const json = parseJsonObject(text, where, op);
  if (typeof json.model_type !== 'string' || json.model_type.length === 0) {
    throw new HeedError(op, `'${where}' has no "model_type" string (got ${JSON.stringify(json.model_type ?? null)}); ` +
      'a Hugging Face config.json names its family, e.g. "model_type": "gpt2".');
  }
  return json as PretrainedConfig;
}

/**
 * Reads `config.json` of a checkpoint. A missing file is a HeedError saying what the folder
 * needs.
 *
 * @example
 * ```ts
 * const config = await loadConfig('./checkpoints/gpt2');
 * ```
 */
export async function loadConfig(source: PretrainedSource | SourceReader, op = 'fromPretrained'): Promise<PretrainedConfig> {
  const src = asReader(source, op);
  const text = await src.readText(CONFIG_NAME);
  if (text === null) {
    throw new HeedError(op, `'${src.location}' has no ${CONFIG_NAME}; a Hugging Face checkpoint folder holds config.json ` +
      'and model.safetensors (as written by save_pretrained).');
  }
  return parseConfig(text, `${src.location}/${CONFIG_NAME}`, op);
}

/**
 * Reads `generation_config.json` when the checkpoint has one (undefined otherwise).
 *
 * @example
 * ```ts
 * const gen = await loadGenerationConfig('./checkpoints/gpt2'); // { bos_token_id: 50256, ... } or undefined
 * ```
 */
export async function loadGenerationConfig(source: PretrainedSource | SourceReader, op = 'fromPretrained'): Promise<GenerationConfig | undefined> {
  const src = asReader(source, op);
  const text = await src.readText(GENERATION_CONFIG_NAME);
  return text === null ? undefined : (parseJsonObject(text, `${src.location}/${GENERATION_CONFIG_NAME}`, op) as GenerationConfig);
}

/**
 * The generation defaults HF derives from a model config when there is no
 * `generation_config.json` (`GenerationConfig.from_model_config`: the special token ids).
 *
 * @example
 * ```ts
 * generationConfigFromModel({ model_type: 'gpt2', eos_token_id: 50256 }); // { eos_token_id: 50256 }
 * ```
 */
export function generationConfigFromModel(config: PretrainedConfig): GenerationConfig {
  const out: GenerationConfig = {};
  for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id', 'decoder_start_token_id'] as const) {
    const v = config[key];
    if (v !== undefined && v !== null) out[key] = v as TokenIdField;
  }
  return out;
}

function sortKeys(v: JsonValue): JsonValue {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isPlainObject(v)) return v;
  const out: Record<string, JsonValue> = {};
  for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sortKeys(v[k]);
  return out;
}

/**
 * Config fields transformers types as float only: its strict config validation refuses an
 * integer there (`"encoder_layerdrop": 0` fails, `0.0` loads), so integral values are written
 * with a decimal point, as Python's json does.
 */
const FLOAT_ONLY_FIELDS: ReadonlySet<string> = new Set([
  'encoder_layerdrop', 'decoder_layerdrop', 'init_std', 'initializer_range', 'layer_norm_eps', 'layer_norm_epsilon', 'rms_norm_eps',
]);
const FLOAT_MARK = '\u0000float:';

/**
 * Serializes a config the way HF writes it: keys sorted, 2-space indent, trailing newline;
 * float-typed fields keep their decimal point (`0.0`).
 *
 * @example
 * ```ts
 * serializeConfig({ model_type: 'gpt2', n_embd: 8 }); // '{\n  "model_type": "gpt2",\n  "n_embd": 8\n}\n'
 * ```
 */
export function serializeConfig(config: PretrainedConfig | GenerationConfig): string {
  const text = JSON.stringify(sortKeys(config as JsonValue), (key, v: unknown) =>
    (FLOAT_ONLY_FIELDS.has(key) && typeof v === 'number' && Number.isInteger(v) ? `${FLOAT_MARK}${v}` : v), 2);
  return `${text.replace(/"\\u0000float:(-?\d+)"/g, '$1.0')}\n`;
}

function asReader(source: PretrainedSource | SourceReader, op: string): SourceReader {
  return typeof source === 'object' && !(source instanceof URL) ? source : openSource(source, op);
}

/**
 * Typed, validated access to a config's fields for a model class: each reader returns the
 * field or the default HF uses when it is absent (or null), and throws a HeedError naming
 * the field when it has the wrong type.
 *
 * @example
 * ```ts
 * const f = new ConfigFields(config, 'GPT2LMHeadModel');
 * const nEmbd = f.int('n_embd', 768);
 * const eps = f.number('layer_norm_epsilon', 1e-5);
 * ```
 */
export class ConfigFields {
  constructor(readonly config: PretrainedConfig, readonly op: string) {}

  private bad(key: string, expected: string): never {
    throw new HeedError(this.op, `config.json field "${key}" must be ${expected}, got ${JSON.stringify(this.config[key])}.`);
  }

  private value(key: string): JsonValue | undefined {
    const v = this.config[key];
    return v === null ? undefined : v;
  }

  /**
   * A positive integer field (or its default; without a default the field is required).
   *
   * @example `f.int('n_layer', 12);`
   */
  int(key: string, fallback?: number): number {
    const v = this.value(key) ?? fallback;
    if (v === undefined) return this.bad(key, 'a positive integer (it is required)');
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) return this.bad(key, 'a positive integer');
    return v;
  }

  /**
   * A finite number field (or its default).
   *
   * @example `f.number('rms_norm_eps', 1e-6);`
   */
  number(key: string, fallback?: number): number {
    const v = this.value(key) ?? fallback;
    if (v === undefined) return this.bad(key, 'a number (it is required)');
    if (typeof v !== 'number' || !Number.isFinite(v)) return this.bad(key, 'a finite number');
    return v;
  }

  /**
   * A boolean field (or its default).
   *
   * @example `f.bool('tie_word_embeddings', true);`
   */
  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key) ?? fallback;
    if (typeof v !== 'boolean') return this.bad(key, 'true or false');
    return v;
  }

  /**
   * A string field, one of `allowed` (or its default).
   *
   * @example `f.oneOf('activation_function', ['gelu_new', 'gelu', 'relu'], 'gelu_new');`
   */
  oneOf<S extends string>(key: string, allowed: readonly S[], fallback: S): S {
    const v = this.value(key) ?? fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) return this.bad(key, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    return v as S;
  }

  /**
   * An optional field that must be absent or null (for features not supported yet), with the
   * reason in the error.
   *
   * @example `f.unsupported('rope_scaling', 'RoPE scaling is not supported yet');`
   */
  unsupported(key: string, reason: string): void {
    const v = this.value(key);
    if (v !== undefined) throw new HeedError(this.op, `config.json field "${key}" = ${JSON.stringify(v)}: ${reason}.`);
  }
}
