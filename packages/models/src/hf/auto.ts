// SPDX-License-Identifier: MIT
// The `AutoModelFor*` classes: read config.json and build the right Hugging Face model class
// from ONE typed table (model family -> class per task). `model_type` chooses the row; when a
// config has none, its `architectures` names the class. Adding a family is adding a row.
// Invariants: an unknown family, or a family without a class for the task, is a HeedError
// listing what is supported; nothing is loaded before the class is known.
import { HeedError, type Tensor } from '@heed/core';
import { loadConfig } from './config.js';
import type { CausalLM } from './cache.js';
import type { HFGenerateOptions } from './generate.js';
import { GPT2LMHeadModel } from './gpt2.js';
import { LlamaForCausalLM } from './llama.js';
import { loadPretrained, type FromPretrainedOptions, type PreTrainedModel, type PretrainedModelClass } from './pretrained.js';
import { openSource, type PretrainedSource } from './source.js';
import { BertForMaskedLM, BertForSequenceClassification } from './bert-heads.js';
import { BartForConditionalGeneration } from './bart-model.js';

/**
 * The model each AutoModelFor* task returns.
 *
 * @example
 * ```ts
 * const m: AutoTaskModels['CausalLM'] = await AutoModelForCausalLM.fromPretrained(dir);
 * ```
 */
export interface AutoTaskModels {
  /** Next-token prediction (GPT-2, Llama), with `model.generate(inputIds, options)`. */
  CausalLM: PreTrainedModel & CausalLM & { generate(inputIds: Tensor, options?: HFGenerateOptions): Promise<Tensor> };
  /** A classification head over an encoder (BERT). */
  SequenceClassification: PreTrainedModel;
  /** Masked-token prediction (BERT). */
  MaskedLM: PreTrainedModel;
  /** Encoder-decoder generation (BART). */
  Seq2SeqLM: PreTrainedModel;
}

/**
 * The AutoModelFor* tasks.
 *
 * @example
 * ```ts
 * const t: AutoTask = 'CausalLM';
 * ```
 */
export type AutoTask = keyof AutoTaskModels;

/** One family's classes, by task. */
type AutoRow = { readonly [T in AutoTask]?: PretrainedModelClass<AutoTaskModels[T]> };

/**
 * THE table of the AutoModelFor* classes: HF `model_type` -> the model class of each task.
 * Adding a family is adding a row (beside its model file's import).
 *
 * @example
 * ```ts
 * AUTO_MODELS.gpt2.CausalLM; // GPT2LMHeadModel
 * ```
 */
export const AUTO_MODELS = {
  gpt2: { CausalLM: GPT2LMHeadModel },
  llama: { CausalLM: LlamaForCausalLM },
  bert: { SequenceClassification: BertForSequenceClassification, MaskedLM: BertForMaskedLM },
  bart: { Seq2SeqLM: BartForConditionalGeneration },
} as const satisfies Record<string, AutoRow>;

/**
 * The model families the AutoModelFor* classes know (`config.json`'s `model_type`).
 *
 * @example
 * ```ts
 * const t: SupportedModelType = supportedModelTypes()[0];
 * ```
 */
export type SupportedModelType = keyof typeof AUTO_MODELS;

const TABLE: Readonly<Record<SupportedModelType, AutoRow>> = AUTO_MODELS;
const TASK_CLASS_NAMES: { readonly [T in AutoTask]: string } = {
  CausalLM: 'AutoModelForCausalLM',
  SequenceClassification: 'AutoModelForSequenceClassification',
  MaskedLM: 'AutoModelForMaskedLM',
  Seq2SeqLM: 'AutoModelForSeq2SeqLM',
};

/**
 * The `model_type`s the AutoModelFor* classes support (for any task).
 *
 * @example
 * ```ts
 * supportedModelTypes(); // ['gpt2', 'llama', ...]
 * ```
 */
export function supportedModelTypes(): SupportedModelType[] {
  return Object.keys(TABLE) as SupportedModelType[];
}

function isSupported(t: string): t is SupportedModelType {
  return Object.prototype.hasOwnProperty.call(TABLE, t);
}

/**
 * The class `AutoModelFor<task>` builds for a config: by `model_type`, or (for configs
 * without a known one) by a class named in `architectures`.
 *
 * @example
 * ```ts
 * autoModelClass('CausalLM', { model_type: 'gpt2' }).architecture; // 'GPT2LMHeadModel'
 * ```
 */
export function autoModelClass<T extends AutoTask>(task: T, config: { model_type?: unknown; architectures?: unknown }): PretrainedModelClass<AutoTaskModels[T]> {
  const op = `${TASK_CLASS_NAMES[task]}.fromPretrained`;
  const forTask = (Object.keys(TABLE) as SupportedModelType[]).filter((t) => TABLE[t][task] !== undefined);
  const supported = `${TASK_CLASS_NAMES[task]} supports model_type ${forTask.length > 0 ? forTask.map((t) => `"${t}"`).join(', ') : '(none yet)'}`;
  const type = typeof config.model_type === 'string' ? config.model_type : undefined;
  let row: AutoRow | undefined = type !== undefined && isSupported(type) ? TABLE[type] : undefined;
  if (row === undefined && Array.isArray(config.architectures)) {
    const names = config.architectures.filter((a): a is string => typeof a === 'string');
    const rows = Object.values(TABLE) as AutoRow[];
    row = rows.find((r) => (Object.values(r) as (PretrainedModelClass | undefined)[]).some((cls) => cls !== undefined && names.includes(cls.architecture)));
  }
  if (row === undefined) {
    throw new HeedError(op, `unknown model_type ${JSON.stringify(config.model_type ?? null)}; ${supported} ` +
      `(all families: ${supportedModelTypes().map((t) => `"${t}"`).join(', ') || 'none'}).`);
  }
  const cls = row[task];
  if (cls === undefined) throw new HeedError(op, `model_type "${type}" has no ${task} class; ${supported}.`);
  return cls as PretrainedModelClass<AutoTaskModels[T]>;
}

async function autoFromPretrained<T extends AutoTask>(task: T, source: PretrainedSource, options: FromPretrainedOptions): Promise<AutoTaskModels[T]> {
  const op = `${TASK_CLASS_NAMES[task]}.fromPretrained`;
  const src = openSource(source, op);
  const cls = autoModelClass(task, await loadConfig(src, op));
  return loadPretrained(cls, source, options, op);
}

/**
 * Loads a causal LM checkpoint (GPT-2, Llama), choosing the class by config.json.
 *
 * @example
 * ```ts
 * const model = await AutoModelForCausalLM.fromPretrained('./checkpoints/gpt2');
 * const { logits } = model.forward(ids);
 * ```
 */
export class AutoModelForCausalLM {
  private constructor() {}
  /**
   * Loads the checkpoint at `source` (a directory in Node.js, a URL prefix in the browser).
   *
   * @example `const model = await AutoModelForCausalLM.fromPretrained('./checkpoints/llama');`
   */
  static fromPretrained(source: PretrainedSource, options: FromPretrainedOptions = {}): Promise<AutoTaskModels['CausalLM']> {
    return autoFromPretrained('CausalLM', source, options);
  }
}

/**
 * Loads a sequence classification checkpoint (BERT family), choosing the class by config.json.
 *
 * @example
 * ```ts
 * const model = await AutoModelForSequenceClassification.fromPretrained('./checkpoints/bert-sst2');
 * ```
 */
export class AutoModelForSequenceClassification {
  private constructor() {}
  /**
   * Loads the checkpoint at `source`.
   *
   * @example `await AutoModelForSequenceClassification.fromPretrained(dir);`
   */
  static fromPretrained(source: PretrainedSource, options: FromPretrainedOptions = {}): Promise<AutoTaskModels['SequenceClassification']> {
    return autoFromPretrained('SequenceClassification', source, options);
  }
}

/**
 * Loads a masked-LM checkpoint (BERT family), choosing the class by config.json.
 *
 * @example
 * ```ts
 * const model = await AutoModelForMaskedLM.fromPretrained('./checkpoints/bert');
 * ```
 */
export class AutoModelForMaskedLM {
  private constructor() {}
  /**
   * Loads the checkpoint at `source`.
   *
   * @example `await AutoModelForMaskedLM.fromPretrained(dir);`
   */
  static fromPretrained(source: PretrainedSource, options: FromPretrainedOptions = {}): Promise<AutoTaskModels['MaskedLM']> {
    return autoFromPretrained('MaskedLM', source, options);
  }
}

/**
 * Loads an encoder-decoder checkpoint (BART family), choosing the class by config.json.
 *
 * @example
 * ```ts
 * const model = await AutoModelForSeq2SeqLM.fromPretrained('./checkpoints/bart');
 * ```
 */
export class AutoModelForSeq2SeqLM {
  private constructor() {}
  /**
   * Loads the checkpoint at `source`.
   *
   * @example `await AutoModelForSeq2SeqLM.fromPretrained(dir);`
   */
  static fromPretrained(source: PretrainedSource, options: FromPretrainedOptions = {}): Promise<AutoTaskModels['Seq2SeqLM']> {
    return autoFromPretrained('Seq2SeqLM', source, options);
  }
}
