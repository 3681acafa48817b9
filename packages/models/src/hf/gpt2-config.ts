// SPDX-License-Identifier: MIT
// GPT-2's config.json (HF's `GPT2Config` field names and defaults) and its checked settings.
// Invariants: every field is validated with a HeedError naming it; HF's default stands in for an
// absent (or null) field; unsupported features (cross-attention) are refused, not ignored.
import { HeedError } from '@heed/core';
import { ConfigFields, type PretrainedConfig } from './config.js';
import { HF_ACTIVATIONS, type HFActivation } from './modeling-utils.js';

/**
 * `config.json` of a GPT-2 checkpoint (HF's `GPT2Config` field names; absent fields take HF's
 * defaults).
 *
 * @example
 * ```ts
 * const config: GPT2Config = { model_type: 'gpt2', vocab_size: 50257, n_embd: 768, n_layer: 12, n_head: 12 };
 * ```
 */
export interface GPT2Config extends PretrainedConfig {
  /** Vocabulary size (default 50257). */
  vocab_size?: number;
  /** Longest sequence (position table size, default 1024). */
  n_positions?: number;
  /** Hidden size (default 768). */
  n_embd?: number;
  /** Blocks (default 12). */
  n_layer?: number;
  /** Attention heads (default 12). */
  n_head?: number;
  /** MLP width (default null: 4 * n_embd). */
  n_inner?: number | null;
  /** MLP activation (default `gelu_new`). */
  activation_function?: string;
  /** LayerNorm epsilon (default 1e-5). */
  layer_norm_epsilon?: number;
  /** Scale scores by 1/sqrt(head_dim) (default true). */
  scale_attn_weights?: boolean;
  /** Also scale scores by 1/(layer index + 1) (default false). */
  scale_attn_by_inverse_layer_idx?: boolean;
  /** Dropout after the embeddings (default 0.1). */
  embd_pdrop?: number;
  /** Dropout on the attention weights (default 0.1). */
  attn_pdrop?: number;
  /** Dropout on the residual branches (default 0.1). */
  resid_pdrop?: number;
}

/** @internal The checked settings of a GPT2Config. */
export interface GPT2Settings {
  vocab: number;
  positions: number;
  embd: number;
  layers: number;
  heads: number;
  inner: number;
  act: HFActivation;
  eps: number;
  scale: boolean;
  scaleByLayer: boolean;
  embdDrop: number;
  attnDrop: number;
  residDrop: number;
  tied: boolean;
}

/** @internal Checks a GPT2Config (HF defaults for absent fields). */
export function gpt2Settings(config: GPT2Config, op: string): GPT2Settings {
  const f = new ConfigFields(config, op);
  const embd = f.int('n_embd', 768);
  const heads = f.int('n_head', 12);
  if (embd % heads !== 0) throw new HeedError(op, `config.json: n_embd (${embd}) must be divisible by n_head (${heads}).`);
  if (f.bool('add_cross_attention', false)) throw new HeedError(op, 'config.json: add_cross_attention (GPT-2 as a decoder with cross-attention) is not supported.');
  const prob = (key: string) => {
    const p = f.number(key, 0.1);
    if (p < 0 || p > 1) throw new HeedError(op, `config.json field "${key}" must be in [0, 1], got ${p}.`);
    return p;
  };
  return {
    vocab: f.int('vocab_size', 50257), positions: f.int('n_positions', 1024), embd, layers: f.int('n_layer', 12), heads,
    inner: f.int('n_inner', 4 * embd), act: f.oneOf('activation_function', Object.keys(HF_ACTIVATIONS) as HFActivation[], 'gelu_new'),
    eps: f.number('layer_norm_epsilon', 1e-5), scale: f.bool('scale_attn_weights', true),
    scaleByLayer: f.bool('scale_attn_by_inverse_layer_idx', false), embdDrop: prob('embd_pdrop'), attnDrop: prob('attn_pdrop'),
    residDrop: prob('resid_pdrop'), tied: f.bool('tie_word_embeddings', true),
  };
}
