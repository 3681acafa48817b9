// SPDX-License-Identifier: MIT
// The causal-LM contract of the Hugging Face model classes: the key/value cache `pastKeyValues`
// (one key and one value tensor per layer, [B, H_kv, S, D_head], as HF's DynamicCache holds
// them), the forward options and output, and the `CausalLM` interface generation consumes.
// Also the pieces of that contract both model families share: input checks, HF's default
// position ids, the causal + padding mask, and appending to the cache.
// Invariants: a cache's tensors belong to the caller like the logits (scopes apply; `disposeCache`
// frees them) and a cache is never mutated: a forward with `useCache` returns a new cache
// holding past + new positions, so the caller disposes the old one when it no longer needs it.
import { HeedError, arange, concat, fmtShape, tidy, type Tensor } from '@heed/core';
import { causalValid, type Module } from '@heed/nn';
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

/**
 * Checks the inputs of a causal LM's forward against its layer count and returns the
 * dimensions: batch, new length and past length. Throws a HeedError naming the bad argument.
 *
 * @example
 * ```ts
 * const { batch, length, past } = checkCausalInputs('GPT2LMHeadModel', ids, options, 12);
 * ```
 */
export function checkCausalInputs(op: string, inputIds: Tensor, options: CausalLMForwardOptions, numLayers: number): { batch: number; length: number; past: number } {
  if (inputIds.dtype !== 'int32' || inputIds.rank !== 2 || inputIds.shape[1] === 0) {
    throw new HeedError(op, `inputIds must be int32 [batch, length] with length >= 1, got ${inputIds.dtype} ${fmtShape(inputIds.shape)}.`);
  }
  const [batch, length] = inputIds.shape;
  const cache = options.pastKeyValues;
  if (cache !== undefined) {
    if (cache.layers.length !== numLayers) throw new HeedError(op, `pastKeyValues has ${cache.layers.length} layers, the model ${numLayers}.`);
    if (cache.layers[0].key.shape[0] !== batch) throw new HeedError(op, `pastKeyValues is for batch ${cache.layers[0].key.shape[0]}, inputIds has batch ${batch}.`);
  }
  const past = cacheLength(cache);
  const mask = options.attentionMask;
  if (mask !== undefined && (mask.rank !== 2 || mask.shape[0] !== batch || mask.shape[1] !== past + length)) {
    throw new HeedError(op, `attentionMask must be [batch, pastLength + length] = ${fmtShape([batch, past + length])} (1 = token, 0 = padding), got ${fmtShape(mask.shape)}.`);
  }
  const pos = options.positionIds;
  if (pos !== undefined && (pos.dtype !== 'int32' || pos.rank !== 2 || (pos.shape[0] !== batch && pos.shape[0] !== 1) || pos.shape[1] !== length)) {
    throw new HeedError(op, `positionIds must be int32 [batch or 1, length] = [${batch}, ${length}], got ${pos.dtype} ${fmtShape(pos.shape)}.`);
  }
  return { batch, length, past };
}

/**
 * HF's default position ids: `past + arange(length)` as int32 `[1, length]` (also for padded
 * batches: HF's forward does not derive them from the mask; generation does).
 *
 * @example
 * ```ts
 * defaultPositionIds(3, 2, 'cpu'); // [[2, 3, 4]]
 * ```
 */
export function defaultPositionIds(length: number, past: number, backend: string): Tensor {
  return arange(past, past + length, 1, { dtype: 'int32', backend }).reshape([1, length]);
}

/**
 * The bool attention mask `[B or 1, 1, T, past + T]` of a causal LM (true = may attend): key
 * `s` is visible from query `l` when `s <= past + l` and the attention mask (if any) is nonzero
 * at `s`, as HF's `create_causal_mask` builds it.
 *
 * @example
 * ```ts
 * const valid = causalPaddingMask(attentionMask, 4, 3, 'cpu'); // [B, 1, 4, 7]
 * ```
 */
export function causalPaddingMask(attentionMask: Tensor | undefined, length: number, past: number, backend: string): Tensor {
  return tidy(() => {
    const causal = causalValid(length, past + length, past, backend).reshape([1, 1, length, past + length]);
    if (attentionMask === undefined) return causal;
    const keys = (attentionMask.dtype === 'bool' ? attentionMask : attentionMask.ne(0)).reshape([attentionMask.shape[0], 1, 1, past + length]);
    return causal.logicalAnd(keys);
  });
}

/**
 * Keys and values of a layer with the new positions appended along the sequence axis (axis 2).
 *
 * @example
 * ```ts
 * const { key, value } = appendKeyValue(past?.layers[i], k, v);
 * ```
 */
export function appendKeyValue(past: LayerKeyValue | undefined, key: Tensor, value: Tensor): LayerKeyValue {
  if (past === undefined) return { key, value };
  return { key: concat([past.key, key], 2), value: concat([past.value, value], 2) };
}
