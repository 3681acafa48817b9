// SPDX-License-Identifier: MIT
// Hugging Face BART's config (`BartConfig`, HF's field names) resolved with HF's defaults into
// the settings the modules are built from, and the decoder's kv-cache type
// (`EncoderDecoderCache`: self-attention and cross-attention keys/values per layer).
// Invariants: a bad field is a HeedError naming it; a cache owns its tensors (one dispose each).
import { HeedError } from '@heed/core';
import type { PastKeyValues } from './cache.js';
import { ConfigFields, type PretrainedConfig, type TokenIdField } from './config.js';
import { HF_ACTIVATIONS, type HFActivation } from './modeling-utils.js';

/**
 * The HF `config.json` fields of a BART checkpoint (`BartConfig`).
 *
 * @example
 * ```ts
 * const c: BartConfig = { model_type: 'bart', vocab_size: 50265, d_model: 768, encoder_layers: 6, decoder_layers: 6 };
 * ```
 */
export interface BartConfig extends PretrainedConfig {
  vocab_size?: number;
  d_model?: number;
  encoder_layers?: number;
  decoder_layers?: number;
  encoder_attention_heads?: number;
  decoder_attention_heads?: number;
  encoder_ffn_dim?: number;
  decoder_ffn_dim?: number;
  activation_function?: string;
  dropout?: number;
  attention_dropout?: number;
  activation_dropout?: number;
  max_position_embeddings?: number;
  init_std?: number;
  scale_embedding?: boolean;
  decoder_start_token_id?: TokenIdField;
  forced_eos_token_id?: TokenIdField;
  forced_bos_token_id?: TokenIdField;
}

/**
 * The resolved BART settings the modules are built from (HF's defaults filled in).
 *
 * @example
 * ```ts
 * bartSettings(config, 'BartModel').dModel; // 1024 by default
 * ```
 */
export interface BartSettings {
  vocabSize: number; dModel: number; encoderLayers: number; decoderLayers: number; encoderHeads: number; decoderHeads: number;
  encoderFfn: number; decoderFfn: number; act: HFActivation; dropout: number; attentionDropout: number; activationDropout: number;
  maxPositions: number; initStd: number; embedScale: number; pad: number; decoderStart: number;
}

function tokenId(config: BartConfig, key: 'pad_token_id' | 'decoder_start_token_id', fallback: number, op: string): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new HeedError(op, `config.json field "${key}" must be a token id, got ${JSON.stringify(v)}.`);
  return v;
}

/**
 * Reads a BART config with HF's defaults; a bad field is a HeedError naming it.
 *
 * @example
 * ```ts
 * const s = bartSettings(config, 'BartForConditionalGeneration');
 * ```
 */
export function bartSettings(config: BartConfig, op: string): BartSettings {
  const f = new ConfigFields(config, op);
  const dModel = f.int('d_model', 1024);
  const encoderHeads = f.int('encoder_attention_heads', 16);
  const decoderHeads = f.int('decoder_attention_heads', 16);
  for (const h of [encoderHeads, decoderHeads]) {
    if (dModel % h !== 0) throw new HeedError(op, `d_model ${dModel} must be a multiple of the attention heads (${h}).`);
  }
  return {
    vocabSize: f.int('vocab_size', 50265), dModel, encoderLayers: f.int('encoder_layers', 12), decoderLayers: f.int('decoder_layers', 12),
    encoderHeads, decoderHeads, encoderFfn: f.int('encoder_ffn_dim', 4096), decoderFfn: f.int('decoder_ffn_dim', 4096),
    act: f.oneOf('activation_function', Object.keys(HF_ACTIVATIONS) as HFActivation[], 'gelu'),
    dropout: f.number('dropout', 0.1), attentionDropout: f.number('attention_dropout', 0), activationDropout: f.number('activation_dropout', 0),
    maxPositions: f.int('max_position_embeddings', 1024), initStd: f.number('init_std', 0.02),
    embedScale: f.bool('scale_embedding', false) ? Math.sqrt(dModel) : 1,
    pad: tokenId(config, 'pad_token_id', 1, op), decoderStart: tokenId(config, 'decoder_start_token_id', 2, op),
  };
}

/**
 * The kv-cache of BART's decoder (HF's `EncoderDecoderCache`): per decoder layer the
 * self-attention keys/values `[B, H, pastLength, D]` and the cross-attention ones `[B, H, S, D]`.
 *
 * @example
 * ```ts
 * const step = model.forward(null, { encoderOutputs, decoderInputIds, useCache: true });
 * disposeEncoderDecoderCache(step.pastKeyValues);
 * ```
 */
export interface EncoderDecoderCache {
  readonly selfAttention: PastKeyValues;
  readonly crossAttention: PastKeyValues;
}

/**
 * Frees a decoder cache's tensors (no-op for undefined).
 *
 * @example
 * ```ts
 * disposeEncoderDecoderCache(out.pastKeyValues);
 * ```
 */
export function disposeEncoderDecoderCache(cache: EncoderDecoderCache | undefined): void {
  if (!cache) return;
  for (const kv of [...cache.selfAttention.layers, ...cache.crossAttention.layers]) {
    kv.key.dispose();
    kv.value.dispose();
  }
}
