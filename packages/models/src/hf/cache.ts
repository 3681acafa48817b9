// SPDX-License-Identifier: MIT
// The causal-LM contract of the Hugging Face model classes: the key/value cache `pastKeyValues`
// (one key and one value tensor per layer, [B, H_kv, S, D_head], as HF's DynamicCache holds
// them), the forward options and output, and the `CausalLM` interface generation consumes.
// Invariants: a cache owns its tensors (kept out of scopes; `disposeCache` frees them) and is
// never mutated: a forward with `useCache` returns a new cache holding past + new positions,
// so the caller disposes the old one when it no longer needs it.
import type { Tensor } from '@heed/core';
import type { Module } from '@heed/nn';
import type { GenerationConfig, PretrainedConfig } from './config.js';

/**
 * One layer's cached keys and values, each `[batch, numKeyValueHeads, pastLength, headDim]`
 * (keys after RoPE for Llama).
 *
 * @example
 * ```ts
 * const { key, value }: LayerKeyValue = past.layers[0];
 * ```
 */
export interface LayerKeyValue {
  readonly key: Tensor;
  readonly value: Tensor;
}

/**
 * The kv-cache of a causal LM: per layer key/value tensors. Create none yourself: pass
 * `useCache: true` to `forward` and feed the returned `pastKeyValues` to the next call.
 *
 * @example
 * ```ts
 * const first = model.forward(prompt, { useCache: true });
 * const next = model.forward(nextToken, { pastKeyValues: first.pastKeyValues, useCache: true });
 * disposeCache(first.pastKeyValues);
 * ```
 */
export interface PastKeyValues {
  readonly layers: readonly LayerKeyValue[];
}

/**
 * The number of cached positions (0 for no cache).
 *
 * @example
 * ```ts
 * cacheLength(out.pastKeyValues); // e.g. 7
 * ```
 */
export function cacheLength(past: PastKeyValues | undefined): number {
  return past === undefined || past.layers.length === 0 ? 0 : past.layers[0].key.shape[2];
}

/**
 * Frees the tensors of a cache (no-op for undefined).
 *
 * @example
 * ```ts
 * disposeCache(out.pastKeyValues);
 * ```
 */
export function disposeCache(past: PastKeyValues | undefined): void {
  if (!past) return;
  for (const { key, value } of past.layers) {
    key.dispose();
    value.dispose();
  }
}

/**
 * Options of a causal LM's `forward` (HF's keyword arguments in camelCase).
 *
 * @example
 * ```ts
 * model.forward(ids, { attentionMask: mask, useCache: true });
 * ```
 */
export interface CausalLMForwardOptions {
  /** `[B, pastLength + T]` of 0/1 (int32, bool or float): 0 marks padding, never attended to. */
  attentionMask?: Tensor;
  /** `[B, T]` or `[1, T]` int32 positions (default: pastLength + 0..T-1, like HF). */
  positionIds?: Tensor;
  /** The cache of the previous call. */
  pastKeyValues?: PastKeyValues;
  /** Return the updated cache (default false). */
  useCache?: boolean;
}

/**
 * What a causal LM's `forward` returns.
 *
 * @example
 * ```ts
 * const { logits } = model.forward(ids); // [B, T, vocab]
 * ```
 */
export interface CausalLMOutput {
  /** `[B, T, vocabSize]` float32. */
  logits: Tensor;
  /** The cache (past + these positions) when `useCache` was set. */
  pastKeyValues?: PastKeyValues;
}

/**
 * A Hugging Face-style causal language model (GPT-2, Llama): what generation needs.
 *
 * @example
 * ```ts
 * const model: CausalLM = await AutoModelForCausalLM.fromPretrained('./checkpoints/gpt2');
 * model.forward(ids).logits.shape; // [B, T, vocab]
 * ```
 */
export interface CausalLM extends Module {
  /** The model's config.json fields. */
  readonly config: PretrainedConfig;
  /** Generation defaults (generation_config.json, or derived from the config). */
  generationConfig: GenerationConfig;
  /** Runs the model on int32 ids `[B, T]`. */
  forward(inputIds: Tensor, options?: CausalLMForwardOptions): CausalLMOutput;
}
