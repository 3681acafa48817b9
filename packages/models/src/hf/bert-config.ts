// SPDX-License-Identifier: MIT
// Hugging Face BERT's config: the `config.json` fields (`BertConfig`, HF's names), their
// resolution with HF's defaults into the settings the modules are built from, the checkpoint
// keys HF ignores, and the label bookkeeping of sequence classification (`num_labels`,
// `id2label` / `label2id`).
// Invariants: a bad field is a HeedError naming it (never a silent default); unsupported BERT
// variants (decoder, cross-attention, relative positions) are refused.
import { HeedError } from '@heed/core';
import { ConfigFields, type PretrainedConfig } from './config.js';
import { HF_ACTIVATIONS, type HFActivation } from './modeling-utils.js';
import type { FromPretrainedOptions } from './pretrained.js';

/**
 * The HF `config.json` fields of a BERT checkpoint (`BertConfig`).
 *
 * @example
 * ```ts
 * const config: BertConfig = { model_type: 'bert', vocab_size: 30522, hidden_size: 768, num_hidden_layers: 12 };
 * ```
 */
export interface BertConfig extends PretrainedConfig {
  vocab_size?: number;
  hidden_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  intermediate_size?: number;
  hidden_act?: string;
  hidden_dropout_prob?: number;
  attention_probs_dropout_prob?: number;
  max_position_embeddings?: number;
  type_vocab_size?: number;
  initializer_range?: number;
  layer_norm_eps?: number;
  /** Classifier head size (HF: the size of `id2label` when present, else 2). */
  num_labels?: number;
  /** Loss of the classification head; set on the first forward with labels when null (HF). */
  problem_type?: BertProblemType | null;
  classifier_dropout?: number | null;
}

/**
 * HF's `problem_type` values of sequence classification.
 *
 * @example
 * ```ts
 * const p: BertProblemType = 'multi_label_classification';
 * ```
 */
export type BertProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

/**
 * The resolved BERT settings the modules are built from (camelCase mirrors of the config).
 *
 * @example
 * ```ts
 * const s: BertSettings = bertSettings(config, 'BertModel');
 * ```
 */
export interface BertSettings {
  vocabSize: number; hidden: number; layers: number; heads: number; intermediate: number; act: HFActivation;
  hiddenDropout: number; attnDropout: number; maxPositions: number; typeVocab: number; eps: number; pad: number | null;
  initStd: number;
}

/**
 * The BERT config resolved with HF's defaults (fields checked, a HeedError naming a bad one).
 *
 * @example
 * ```ts
 * bertSettings(config, 'BertForMaskedLM').hidden; // 768 by default
 * ```
 */
export function bertSettings(config: BertConfig, op: string): BertSettings {
  const f = new ConfigFields(config, op);
  const hidden = f.int('hidden_size', 768);
  const heads = f.int('num_attention_heads', 12);
  if (hidden % heads !== 0) throw new HeedError(op, `hidden_size ${hidden} must be a multiple of num_attention_heads ${heads}.`);
  if (config.is_decoder === true || config.add_cross_attention === true) {
    throw new HeedError(op, 'is_decoder / add_cross_attention checkpoints are not supported: only the bidirectional BERT encoder is.');
  }
  const pos = config.position_embedding_type;
  if (pos !== undefined && pos !== null && pos !== 'absolute') {
    throw new HeedError(op, `position_embedding_type "${String(pos)}" is not supported; only "absolute" positions are.`);
  }
  const pad = config.pad_token_id === undefined ? 0 : config.pad_token_id; // HF's BertConfig default; null = none
  return {
    vocabSize: f.int('vocab_size', 30522), hidden, layers: f.int('num_hidden_layers', 12), heads,
    intermediate: f.int('intermediate_size', 3072),
    act: f.oneOf('hidden_act', Object.keys(HF_ACTIVATIONS) as HFActivation[], 'gelu'),
    hiddenDropout: f.number('hidden_dropout_prob', 0.1), attnDropout: f.number('attention_probs_dropout_prob', 0.1),
    maxPositions: f.int('max_position_embeddings', 512), typeVocab: f.int('type_vocab_size', 2),
    eps: f.number('layer_norm_eps', 1e-12), pad: typeof pad === 'number' ? pad : null, initStd: f.number('initializer_range', 0.02),
  };
}

/**
 * Checkpoint keys HF ignores when loading BERT: BertEmbeddings' non-persistent `position_ids`
 * and `token_type_ids` buffers, which old checkpoints hold.
 *
 * @example
 * ```ts
 * BERT_IGNORED_KEYS.some((r) => r.test('bert.embeddings.position_ids')); // true
 * ```
 */
export const BERT_IGNORED_KEYS: readonly RegExp[] = [/(^|\.)embeddings\.(position_ids|token_type_ids)$/];

/**
 * HF's number of labels of a config: `num_labels` when set (HF's constructor keyword), else the
 * size of `id2label` (what config.json holds), else 2.
 *
 * @example
 * ```ts
 * numLabelsOf({ model_type: 'bert', id2label: { 0: 'NEG', 1: 'POS' } }); // 2
 * ```
 */
export function numLabelsOf(config: BertConfig): number {
  const id2label = config.id2label;
  const n = config.num_labels ?? (id2label && typeof id2label === 'object' && !Array.isArray(id2label) ? Object.keys(id2label).length : 2);
  if (!Number.isInteger(n) || n <= 0) throw new HeedError('BertForSequenceClassification', `num_labels must be a positive integer, got ${String(n)}.`);
  return n;
}

/**
 * HF's default label names for `n` labels (`LABEL_0`, ...) as `id2label` and `label2id`.
 *
 * @example
 * ```ts
 * defaultLabels(2).id2label; // { '0': 'LABEL_0', '1': 'LABEL_1' }
 * ```
 */
export function defaultLabels(n: number): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  return { id2label, label2id };
}

/**
 * Options of {@link BertForSequenceClassification.fromPretrainedEncoder}.
 *
 * @example
 * ```ts
 * const o: FromPretrainedEncoderOptions = { numLabels: 2, problemType: 'single_label_classification' };
 * ```
 */
export interface FromPretrainedEncoderOptions extends FromPretrainedOptions {
  /** Classifier size (default: the checkpoint config's labels). */
  numLabels?: number;
  /** Label names by id (their count sets the classifier size). */
  id2label?: Record<string, string>;
  /** The loss of the new head (default: inferred from the labels at the first loss, as HF). */
  problemType?: BertProblemType;
}
