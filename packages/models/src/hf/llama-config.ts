// SPDX-License-Identifier: MIT
// Llama's config.json (HF's `LlamaConfig` field names and defaults, transformers 5 `rope_parameters`
// or 4.x `rope_theta`/`rope_scaling`) and its checked settings.
// Invariants: every field is validated with a HeedError naming it; HF's default stands in for an
// absent (or null) field; unsupported RoPE types are refused, not ignored.
import { HeedError } from '@heed/core';
import { ConfigFields, type PretrainedConfig } from './config.js';
import { HF_ACTIVATIONS, type HFActivation } from './modeling-utils.js';

/**
 * `config.json` of a Llama checkpoint (HF's `LlamaConfig` field names; absent fields take HF's
 * defaults).
 *
 * @example
 * ```ts
 * const config: LlamaConfig = { model_type: 'llama', hidden_size: 2048, num_attention_heads: 32, num_key_value_heads: 8 };
 * ```
 */
export interface LlamaConfig extends PretrainedConfig {
  /** Vocabulary size (default 32000). */
  vocab_size?: number;
  /** Hidden size (default 4096). */
  hidden_size?: number;
  /** MLP width (default 11008). */
  intermediate_size?: number;
  /** Decoder layers (default 32). */
  num_hidden_layers?: number;
  /** Query heads (default 32). */
  num_attention_heads?: number;
  /** Key/value heads (grouped-query attention; default num_attention_heads). */
  num_key_value_heads?: number | null;
  /** Per-head size (default hidden_size / num_attention_heads). */
  head_dim?: number | null;
  /** MLP activation (default `silu`). */
  hidden_act?: string;
  /** Longest position (RoPE table size, default 2048). */
  max_position_embeddings?: number;
  /** RMSNorm epsilon (default 1e-6). */
  rms_norm_eps?: number;
  /** RoPE base of transformers 4 configs (default 10000). */
  rope_theta?: number;
  /** Biases on q/k/v/o projections (default false). */
  attention_bias?: boolean;
  /** Biases on the MLP projections (default false). */
  mlp_bias?: boolean;
  /** Dropout on attention weights when training (default 0). */
  attention_dropout?: number;
}

/** @internal The checked settings of a LlamaConfig. */
export interface LlamaSettings {
  vocab: number;
  hidden: number;
  inner: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  act: HFActivation;
  positions: number;
  eps: number;
  ropeTheta: number;
  attnBias: boolean;
  mlpBias: boolean;
  attnDrop: number;
  pad: number | null;
  tied: boolean;
}

function ropeTheta(config: LlamaConfig, f: ConfigFields, op: string): number {
  // transformers 5 writes `rope_parameters: {rope_type, rope_theta}`; 4.x wrote rope_theta (+ rope_scaling).
  const params = config.rope_parameters ?? config.rope_scaling;
  if (params !== undefined && params !== null) {
    if (typeof params !== 'object' || Array.isArray(params)) throw new HeedError(op, `config.json: rope_parameters must be an object, got ${JSON.stringify(params)}.`);
    const type = params.rope_type ?? params.type ?? 'default';
    if (type !== 'default') throw new HeedError(op, `config.json: RoPE type ${JSON.stringify(type)} is not supported (only "default" rotary embeddings).`);
    const theta = params.rope_theta;
    if (theta !== undefined) {
      if (typeof theta !== 'number' || !(theta > 0)) throw new HeedError(op, `config.json: rope_parameters.rope_theta must be a positive number, got ${JSON.stringify(theta)}.`);
      return theta;
    }
  }
  return f.number('rope_theta', 10000);
}

/** @internal Checks a LlamaConfig (HF defaults for absent fields). */
export function llamaSettings(config: LlamaConfig, op: string): LlamaSettings {
  const f = new ConfigFields(config, op);
  const hidden = f.int('hidden_size', 4096);
  const heads = f.int('num_attention_heads', 32);
  const kvHeads = f.int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) throw new HeedError(op, `config.json: num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads}).`);
  const headDim = f.int('head_dim', Math.floor(hidden / heads));
  if (headDim % 2 !== 0) throw new HeedError(op, `config.json: head_dim (${headDim}) must be even for rotary embeddings.`);
  const pad = config.pad_token_id;
  const vocab = f.int('vocab_size', 32000);
  return {
    vocab, hidden, inner: f.int('intermediate_size', 11008), layers: f.int('num_hidden_layers', 32), heads, kvHeads, headDim,
    act: f.oneOf('hidden_act', Object.keys(HF_ACTIVATIONS) as HFActivation[], 'silu'), positions: f.int('max_position_embeddings', 2048),
    eps: f.number('rms_norm_eps', 1e-6), ropeTheta: ropeTheta(config, f, op), attnBias: f.bool('attention_bias', false),
    mlpBias: f.bool('mlp_bias', false), attnDrop: f.number('attention_dropout', 0),
    pad: typeof pad === 'number' && Number.isInteger(pad) && pad >= 0 && pad < vocab ? pad : null, tied: f.bool('tie_word_embeddings', false),
  };
}
