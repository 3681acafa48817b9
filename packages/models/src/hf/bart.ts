// SPDX-License-Identifier: MIT
// Hugging Face BART's building blocks: the attention (k/v/q/out projections, self or cross,
// with a key/value cache), the post-LN encoder and decoder layers, and the encoder and decoder
// stacks (token embeddings scaled by sqrt(d_model) when `scale_embedding`, learned positions
// with BART's offset of 2, `layernorm_embedding`), with HF's module tree and state keys.
// Semantics follow transformers' modeling_bart (eager attention); decoder positions are
// past length + arange, the decoder self-attention is causal and also honours a [B, P+T] 0/1
// decoder attention mask; encoder and cross attention honour the [B, S] source mask.
// Invariants: no temporaries leak (everything inside tidy); a cache is never mutated: a step
// returns a new EncoderDecoderCache whose tensors are its own handles (dispose each cache).
// Not implemented: layerdrop (a training-only regulariser, 0 in published checkpoints).
import { HeedError, arange, concat, fmtShape, scaledDotProductAttention, tidy, type Tensor } from '@heed/core';
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleList } from '@heed/nn';
import type { BartSettings, EncoderDecoderCache } from './bart-config.js';
import type { LayerKeyValue } from './cache.js';
import { embedTokens, hfActivation } from './modeling-utils.js';

/**
 * Multi-head attention with HF's projections `k_proj`, `v_proj`, `q_proj`, `out_proj`
 * (HF's `BartAttention`), used for self- and cross-attention.
 *
 * @example
 * ```ts
 * const { output } = layer.selfAttn.forward(h, { mask: null });
 * ```
 */
export class BartAttention extends Module {
  kProj: Linear;
  vProj: Linear;
  qProj: Linear;
  outProj: Linear;
  dropout: Dropout;

  constructor(readonly embedDim: number, readonly numHeads: number, dropout: number) {
    super();
    this.kProj = new Linear(embedDim, embedDim);
    this.vProj = new Linear(embedDim, embedDim);
    this.qProj = new Linear(embedDim, embedDim);
    this.outProj = new Linear(embedDim, embedDim);
    this.dropout = new Dropout(dropout);
  }

  private heads(x: Tensor): Tensor {
    const [B, T] = x.shape;
    return x.reshape([B, T, this.numHeads, this.embedDim / this.numHeads]).transpose(1, 2);
  }

  /**
   * Attends `h [B, T, E]` to itself (appending to `past`), or to `keyValueStates [B, S, E]`
   * (cross-attention; `past` then holds their projections from an earlier step, reused).
   * `mask` is bool, broadcastable to `[B, 1, T, S]` (true = may attend), or null.
   * Returns the output and the keys/values used (new handles, for a cache).
   *
   * @example
   * ```ts
   * const { output, kv } = attn.forward(h, { mask, past });
   * ```
   */
  forward(h: Tensor, options: { mask: Tensor | null; keyValueStates?: Tensor; past?: LayerKeyValue }): { output: Tensor; kv: LayerKeyValue } {
    return tidy(() => {
      const [B, T, E] = h.shape;
      const { past, keyValueStates } = options;
      let key: Tensor;
      let value: Tensor;
      if (keyValueStates && past) {
        key = past.key.reshape(past.key.shape);
        value = past.value.reshape(past.value.shape);
      } else {
        const src = keyValueStates ?? h;
        key = this.heads(this.kProj.forward(src));
        value = this.heads(this.vProj.forward(src));
        if (past) {
          key = concat([past.key, key], 2);
          value = concat([past.value, value], 2);
        }
      }
      const out = scaledDotProductAttention(this.heads(this.qProj.forward(h)), key, value, {
        attnMask: options.mask, dropoutP: this.training ? this.dropout.p : 0, training: this.training, generator: this.dropout.generator,
      });
      return { output: this.outProj.forward(out.transpose(1, 2).reshape([B, T, E])), kv: { key, value } };
    });
  }
}

/**
 * The feed-forward half of a BART layer: `fc1`, activation, `fc2`, residual, `final_layer_norm`.
 * @internal
 */
function feedForward(layer: BartEncoderLayer | BartDecoderLayer, h: Tensor): Tensor {
  const inner = layer.activationDropout.forward(layer.act(layer.fc1.forward(h)));
  return layer.finalLayerNorm.forward(h.add(layer.dropout.forward(layer.fc2.forward(inner))));
}

/**
 * A post-LN encoder layer (HF's `BartEncoderLayer`).
 *
 * @example
 * ```ts
 * model.model.encoder.layers.at(0).forward(h, mask);
 * ```
 */
export class BartEncoderLayer extends Module {
  selfAttn: BartAttention;
  selfAttnLayerNorm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  finalLayerNorm: LayerNorm;
  dropout: Dropout;
  activationDropout: Dropout;
  /** @internal */
  readonly act: (x: Tensor) => Tensor;

  constructor(s: BartSettings) {
    super();
    this.selfAttn = new BartAttention(s.dModel, s.encoderHeads, s.attentionDropout);
    this.selfAttnLayerNorm = new LayerNorm(s.dModel);
    this.fc1 = new Linear(s.dModel, s.encoderFfn);
    this.fc2 = new Linear(s.encoderFfn, s.dModel);
    this.finalLayerNorm = new LayerNorm(s.dModel);
    this.dropout = new Dropout(s.dropout);
    this.activationDropout = new Dropout(s.activationDropout);
    this.act = hfActivation(s.act);
  }

  /**
   * The layer on `h [B, S, E]` with the bool source key mask `[B, 1, 1, S]` (or null).
   *
   * @example
   * ```ts
   * layer.forward(h, null);
   * ```
   */
  forward(h: Tensor, mask: Tensor | null): Tensor {
    return tidy(() => {
      const a = this.selfAttn.forward(h, { mask }).output;
      return feedForward(this, this.selfAttnLayerNorm.forward(h.add(this.dropout.forward(a))));
    });
  }
}

/**
 * A post-LN decoder layer (HF's `BartDecoderLayer`: causal self-attention, cross-attention,
 * feed-forward).
 *
 * @example
 * ```ts
 * const { h, self, cross } = layer.forward(x, { selfMask, encoderHiddenStates, encoderMask });
 * ```
 */
export class BartDecoderLayer extends Module {
  selfAttn: BartAttention;
  selfAttnLayerNorm: LayerNorm;
  encoderAttn: BartAttention;
  encoderAttnLayerNorm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  finalLayerNorm: LayerNorm;
  dropout: Dropout;
  activationDropout: Dropout;
  /** @internal */
  readonly act: (x: Tensor) => Tensor;

  constructor(s: BartSettings) {
    super();
    this.selfAttn = new BartAttention(s.dModel, s.decoderHeads, s.attentionDropout);
    this.selfAttnLayerNorm = new LayerNorm(s.dModel);
    this.encoderAttn = new BartAttention(s.dModel, s.decoderHeads, s.attentionDropout);
    this.encoderAttnLayerNorm = new LayerNorm(s.dModel);
    this.fc1 = new Linear(s.dModel, s.decoderFfn);
    this.fc2 = new Linear(s.decoderFfn, s.dModel);
    this.finalLayerNorm = new LayerNorm(s.dModel);
    this.dropout = new Dropout(s.dropout);
    this.activationDropout = new Dropout(s.activationDropout);
    this.act = hfActivation(s.act);
  }

  /**
   * The layer on `h [B, T, E]`; returns the output and the self/cross keys and values.
   *
   * @example
   * ```ts
   * layer.forward(h, { selfMask: null, encoderHiddenStates: memory, encoderMask: null });
   * ```
   */
  forward(h: Tensor, o: { selfMask: Tensor | null; encoderHiddenStates: Tensor; encoderMask: Tensor | null; past?: LayerKeyValue; pastCross?: LayerKeyValue }): { h: Tensor; self: LayerKeyValue; cross: LayerKeyValue } {
    return tidy(() => {
      const sa = this.selfAttn.forward(h, { mask: o.selfMask, past: o.past });
      let x = this.selfAttnLayerNorm.forward(h.add(this.dropout.forward(sa.output)));
      const ca = this.encoderAttn.forward(x, { mask: o.encoderMask, keyValueStates: o.encoderHiddenStates, past: o.pastCross });
      x = this.encoderAttnLayerNorm.forward(x.add(this.dropout.forward(ca.output)));
      return { h: feedForward(this, x), self: sa.kv, cross: ca.kv };
    });
  }
}

/**
 * Learned positions with BART's offset: row `position + 2` of a `[max_position_embeddings + 2, E]`
 * table (HF's `BartLearnedPositionalEmbedding`, key `weight`).
 *
 * @example
 * ```ts
 * encoder.embedPositions.positions(0, 7); // [7, E]
 * ```
 */
export class BartLearnedPositionalEmbedding extends Embedding {
  /** BART's position offset. */
  static readonly offset = 2;

  constructor(maxPositions: number, dim: number) {
    super(maxPositions + BartLearnedPositionalEmbedding.offset, dim);
  }

  /**
   * The embeddings of positions `past .. past + length - 1`, `[length, E]`.
   *
   * @example
   * ```ts
   * pos.positions(3, 1); // the 4th position
   * ```
   */
  positions(past: number, length: number, op = 'BartModel'): Tensor {
    const max = this.numEmbeddings - BartLearnedPositionalEmbedding.offset;
    if (past + length > max) {
      throw new HeedError(op, `positions up to ${past + length} exceed max_position_embeddings ${max}; truncate the input.`);
    }
    return this.weight.narrow(0, past + BartLearnedPositionalEmbedding.offset, length);
  }
}

/**
 * BART's encoder (HF's `BartEncoder`: `embed_tokens` (shared), `embed_positions`, `layers`,
 * `layernorm_embedding`).
 *
 * @example
 * ```ts
 * const memory = model.model.encoder.forward(inputIds, attentionMask); // [B, S, d_model]
 * ```
 */
export class BartEncoder extends Module {
  embedTokens: Embedding;
  embedPositions: BartLearnedPositionalEmbedding;
  layers: ModuleList<BartEncoderLayer>;
  layernormEmbedding: LayerNorm;
  dropout: Dropout;

  constructor(private readonly s: BartSettings, shared: Embedding) {
    super();
    this.embedTokens = shared;
    this.embedPositions = new BartLearnedPositionalEmbedding(s.maxPositions, s.dModel);
    this.layers = new ModuleList(Array.from({ length: s.encoderLayers }, () => new BartEncoderLayer(s)));
    this.layernormEmbedding = new LayerNorm(s.dModel);
    this.dropout = new Dropout(s.dropout);
  }

  /**
   * Encodes int32 `inputIds [B, S]` with the optional `[B, S]` 0/1 mask (already as a bool key
   * mask `[B, 1, 1, S]`, see keyPaddingMask).
   *
   * @example
   * ```ts
   * encoder.forward(ids, null);
   * ```
   */
  forward(inputIds: Tensor, keyMask: Tensor | null): Tensor {
    const tokens = embedTokens('BartModel', this.embedTokens, inputIds);
    return tidy(() => {
      const x = tokens.mul(this.s.embedScale).add(this.embedPositions.positions(0, inputIds.shape[1]));
      tokens.dispose();
      let h = this.dropout.forward(this.layernormEmbedding.forward(x));
      for (const layer of this.layers) h = layer.forward(h, keyMask);
      return h;
    });
  }
}

/**
 * The causal + padding self-attention mask of `T` new decoder positions after `past` cached
 * ones: bool `[B or 1, 1, T, past + T]`, or null when nothing is masked (one new token and no
 * padding mask).
 *
 * @example
 * ```ts
 * decoderSelfMask(0, 5, null, 'cpu'); // [1, 1, 5, 5] lower-triangular
 * ```
 */
export function decoderSelfMask(past: number, T: number, keyMask: Tensor | null, backend: string): Tensor | null {
  if (T === 1 && !keyMask) return null;
  return tidy(() => {
    const S = past + T;
    const causal = arange(S, undefined, 1, { dtype: 'int32', backend }).reshape([1, S])
      .le(arange(past, S, 1, { dtype: 'int32', backend }).reshape([T, 1])).reshape([1, 1, T, S]);
    return keyMask ? causal.logicalAnd(keyMask) : causal;
  });
}

/**
 * BART's decoder (HF's `BartDecoder`: `embed_tokens` (shared), `embed_positions`, `layers`,
 * `layernorm_embedding`).
 *
 * @example
 * ```ts
 * const { h, cache } = model.model.decoder.forward(decoderIds, { encoderHiddenStates: memory, encoderMask: null, useCache: true });
 * ```
 */
export class BartDecoder extends Module {
  embedTokens: Embedding;
  embedPositions: BartLearnedPositionalEmbedding;
  layers: ModuleList<BartDecoderLayer>;
  layernormEmbedding: LayerNorm;
  dropout: Dropout;

  constructor(private readonly s: BartSettings, shared: Embedding) {
    super();
    this.embedTokens = shared;
    this.embedPositions = new BartLearnedPositionalEmbedding(s.maxPositions, s.dModel);
    this.layers = new ModuleList(Array.from({ length: s.decoderLayers }, () => new BartDecoderLayer(s)));
    this.layernormEmbedding = new LayerNorm(s.dModel);
    this.dropout = new Dropout(s.dropout);
  }

  /**
   * Decodes int32 `inputIds [B, T]` (positions after the cache's) against the encoder output.
   * `attentionMask` is HF's `[B, past + T]` 0/1 decoder mask (default all ones).
   *
   * @example
   * ```ts
   * decoder.forward(ids, { encoderHiddenStates: memory, encoderMask: null });
   * ```
   */
  forward(inputIds: Tensor, o: { encoderHiddenStates: Tensor; encoderMask: Tensor | null; attentionMask?: Tensor; past?: EncoderDecoderCache; useCache?: boolean }): { h: Tensor; cache?: EncoderDecoderCache } {
    const op = 'BartModel';
    const past = o.past?.selfAttention.layers.length ? o.past.selfAttention.layers[0].key.shape[2] : 0;
    if (o.past && (o.past.selfAttention.layers.length !== this.layers.length || o.past.crossAttention.layers.length !== this.layers.length)) {
      throw new HeedError(op, `pastKeyValues has ${o.past.selfAttention.layers.length} layers, the decoder ${this.layers.length}.`);
    }
    const [B, T] = inputIds.shape;
    const tokens = embedTokens(op, this.embedTokens, inputIds, 'decoderInputIds');
    return tidy(() => {
      const m = o.attentionMask;
      if (m && (m.rank !== 2 || m.shape[0] !== B || m.shape[1] !== past + T)) {
        throw new HeedError(op, `decoderAttentionMask must be [batch, past + length] = ${fmtShape([B, past + T])}, got ${fmtShape(m.shape)}.`);
      }
      const keyMask = m ? (m.dtype === 'bool' ? m : m.ne(0)).reshape([B, 1, 1, past + T]) : null;
      const selfMask = decoderSelfMask(past, T, keyMask, inputIds.backend.name);
      const x = tokens.mul(this.s.embedScale).add(this.embedPositions.positions(past, T));
      tokens.dispose();
      let h = this.dropout.forward(this.layernormEmbedding.forward(x));
      const selfKv: LayerKeyValue[] = [];
      const crossKv: LayerKeyValue[] = [];
      [...this.layers].forEach((layer, i) => {
        const r = layer.forward(h, {
          selfMask, encoderHiddenStates: o.encoderHiddenStates, encoderMask: o.encoderMask,
          past: o.past?.selfAttention.layers[i], pastCross: o.past?.crossAttention.layers[i],
        });
        h = r.h;
        selfKv.push(r.self);
        crossKv.push(r.cross);
      });
      if (!o.useCache) {
        for (const kv of [...selfKv, ...crossKv]) {
          kv.key.dispose();
          kv.value.dispose();
        }
        return { h };
      }
      return { h, cache: { selfAttention: { layers: selfKv }, crossAttention: { layers: crossKv } } };
    });
  }
}
