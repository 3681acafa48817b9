// SPDX-License-Identifier: MIT
// A tiny causal LM implementing the `CausalLM` contract of hf/cache.ts, for the generation tests:
// one attention layer over token + position embeddings with a kv-cache, honouring
// `attentionMask` (padding never attended to), `positionIds` and `pastKeyValues` exactly as the
// HF classes do, so cached == uncached and a left-padded batch == its rows run alone, and a
// wrong position id or an attended pad changes the logits. It also counts its forwards and the
// input widths it saw.
import { Generator, concat, cast, tensor, tidy, keep, scaledDotProductAttention, type Tensor } from '@heed/core';
import { Embedding, Linear, Module } from '@heed/nn';
import { cacheLength, type CausalLM, type CausalLMForwardOptions, type CausalLMOutput, type GenerationConfig, type PretrainedConfig } from '@heed/models';

/**
 * A seeded one-layer causal LM over `vocab` tokens.
 *
 * @example
 * ```ts
 * const model = new ToyCausalLM({ vocab: 11, seed: 3 });
 * ```
 */
export class ToyCausalLM extends Module implements CausalLM {
  readonly config: PretrainedConfig;
  generationConfig: GenerationConfig;
  tok: Embedding;
  pos: Embedding;
  val: Linear;
  head: Linear;
  /** Widths of the inputs of every forward so far. */
  readonly widths: number[] = [];

  constructor(options: { vocab: number; dim?: number; seed?: number; generationConfig?: GenerationConfig; config?: Partial<PretrainedConfig> }) {
    super();
    const D = options.dim ?? 8;
    const generator = new Generator(options.seed ?? 0);
    this.config = { model_type: 'toy', vocab_size: options.vocab, ...options.config };
    this.generationConfig = options.generationConfig ?? {};
    this.tok = new Embedding(options.vocab, D, { generator });
    this.pos = new Embedding(64, D, { generator });
    this.val = new Linear(D, D, { generator });
    this.head = new Linear(D, options.vocab, { generator });
  }

  forward(inputIds: Tensor, options: CausalLMForwardOptions = {}): CausalLMOutput {
    const [B, T] = inputIds.shape;
    const past = options.pastKeyValues;
    const P = cacheLength(past);
    const S = P + T;
    this.widths.push(T);
    const backend = inputIds.backend.name;
    return tidy(() => {
      const positions = options.positionIds ?? tensor(Int32Array.from({ length: T }, (_, t) => P + t), { shape: [1, T], dtype: 'int32', backend });
      const h = this.tok.forward(inputIds).add(this.pos.forward(positions)).mul(0.7); // [B, T, D]
      const k = h.unsqueeze(1); // [B, 1, T, D]
      const v = this.val.forward(h).unsqueeze(1);
      const keys = past ? concat([past.layers[0].key, k], 2) : k;
      const values = past ? concat([past.layers[0].value, v], 2) : v;
      // Additive mask [B, 1, T, S]: causal, plus padding columns from attentionMask.
      const causal = tensor(Float32Array.from({ length: T * S }, (_, i) => (i % S <= P + Math.floor(i / S) ? 0 : -1e9)), { shape: [1, 1, T, S], backend });
      let mask = causal;
      if (options.attentionMask) mask = causal.add(cast(options.attentionMask, 'float32').sub(1).mul(1e9).reshape([B, 1, 1, S]));
      const a = scaledDotProductAttention(k, keys, values, { attnMask: mask }).squeeze(1); // [B, T, D]
      const logits = this.head.forward(h.add(a).tanh()).mul(3);
      if (!options.useCache) return { logits };
      return { logits, pastKeyValues: { layers: [{ key: keep(keys), value: keep(values) }] } };
    });
  }
}
