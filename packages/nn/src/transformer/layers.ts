// SPDX-License-Identifier: MIT
// TransformerEncoderLayer and TransformerDecoderLayer with torch.nn's semantics, submodule
// names and state-dict keys (`self_attn.*`, `multihead_attn.*`, `linear1.*`, `linear2.*`,
// `norm1..3.*`), post-norm (default) or pre-norm (`normFirst`).
// Invariants: post-norm: x = norm(x + block(x)); pre-norm: x = x + block(norm(x)); dropout
// after each block and inside the feed-forward, active only in training; masks use PyTorch's
// MHA convention (bool true = NOT allowed); a forward leaves only its output alive.
import { type Generator, type Tensor, tidy } from '@heed/core';
import { Module } from '../module.js';
import { Dropout, resolveActivation, type ActivationName } from '../layers/activation.js';
import { Linear } from '../layers/linear.js';
import { LayerNorm } from '../layers/normalization.js';
import { MultiheadAttention } from '../attention/multihead.js';
import type { KVCache } from '../attention/kv-cache.js';
import type { RotaryEmbedding } from '../attention/rope.js';

/**
 * Options shared by the transformer layers (PyTorch's constructor arguments and defaults).
 *
 * @example
 * ```ts
 * const o: TransformerLayerOptions = { dimFeedforward: 256, dropout: 0.1, activation: 'gelu', normFirst: true };
 * ```
 */
export interface TransformerLayerOptions {
  /** Hidden size of the feed-forward block (default 2048). */
  dimFeedforward?: number;
  /** Dropout probability everywhere (default 0.1). */
  dropout?: number;
  /** Feed-forward activation (default 'relu'). */
  activation?: ActivationName | ((x: Tensor) => Tensor);
  /** LayerNorm epsilon (default 1e-5). */
  layerNormEps?: number;
  /** Inputs are `[N, L, E]` instead of `[L, N, E]` (default false). */
  batchFirst?: boolean;
  /** Pre-norm (normalise before each block) instead of post-norm (default false). */
  normFirst?: boolean;
  /** Biases in the linear layers and the attention (default true). */
  bias?: boolean;
  /** Random stream for the init and the dropouts. */
  generator?: Generator;
}

/**
 * Options of {@link TransformerEncoderLayer.forward}.
 *
 * @example
 * ```ts
 * layer.forward(src, { srcKeyPaddingMask: pad, isCausal: true });
 * ```
 */
export interface EncoderLayerForwardOptions {
  /** `[L, L]` or `[N*H, L, L]` attention mask (bool true = NOT allowed, or additive float). */
  srcMask?: Tensor | null;
  /** `[N, L]` keys to ignore (bool true = ignore, or additive float). */
  srcKeyPaddingMask?: Tensor | null;
  /** Causal self-attention (combined with `srcMask`). */
  isCausal?: boolean;
  /** Self-attention kv-cache (decoder-only generation). */
  cache?: KVCache | null;
  /** Rotary embedding for the self-attention. */
  rotary?: RotaryEmbedding | null;
}

/**
 * Caches of one decoder layer for incremental decoding: appended self-attention keys/values
 * and the static cross-attention keys/values of the memory.
 *
 * @example
 * ```ts
 * const c: DecoderLayerCache = { selfAttn: new KVCache(), crossAttn: new KVCache({ static: true }) };
 * ```
 */
export interface DecoderLayerCache {
  /** Appended self-attention keys/values of the generated positions. */
  selfAttn: KVCache;
  /** Static (filled once) cross-attention keys/values of the memory. */
  crossAttn: KVCache;
}

/**
 * Options of {@link TransformerDecoderLayer.forward}.
 *
 * @example
 * ```ts
 * layer.forward(tgt, memory, { tgtIsCausal: true, memoryKeyPaddingMask: srcPad });
 * ```
 */
export interface DecoderLayerForwardOptions {
  /** `[T, T]` or `[N*H, T, T]` self-attention mask (bool true = NOT allowed, or additive float). */
  tgtMask?: Tensor | null;
  /** `[T, S]` or `[N*H, T, S]` cross-attention mask. */
  memoryMask?: Tensor | null;
  /** `[N, T]` target keys to ignore. */
  tgtKeyPaddingMask?: Tensor | null;
  /** `[N, S]` memory keys to ignore. */
  memoryKeyPaddingMask?: Tensor | null;
  /** Causal self-attention (combined with `tgtMask`). */
  tgtIsCausal?: boolean;
  /** Causal cross-attention (rarely wanted). */
  memoryIsCausal?: boolean;
  /** Caches for incremental decoding (tgt holds only the new positions). */
  cache?: DecoderLayerCache | null;
}

function feedForwardParts(dModel: number, o: TransformerLayerOptions): { linear1: Linear; dropout: Dropout; linear2: Linear } {
  const dff = o.dimFeedforward ?? 2048;
  const g = o.generator;
  return {
    linear1: new Linear(dModel, dff, { bias: o.bias, generator: g }),
    dropout: new Dropout(o.dropout ?? 0.1, { generator: g }),
    linear2: new Linear(dff, dModel, { bias: o.bias, generator: g }),
  };
}

/**
 * One transformer encoder block: self-attention then feed-forward, each with a residual
 * connection and LayerNorm (torch.nn.TransformerEncoderLayer).
 *
 * @example
 * ```ts
 * const layer = new TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true });
 * layer.forward(randn([2, 5, 16])).shape; // [2, 5, 16]
 * ```
 */
export class TransformerEncoderLayer extends Module {
  /** Self-attention (`self_attn.*`). */
  selfAttn: MultiheadAttention;
  /** Feed-forward expansion `dModel -> dimFeedforward`. */
  linear1: Linear;
  /** Dropout inside the feed-forward block. */
  dropout: Dropout;
  /** Feed-forward projection `dimFeedforward -> dModel`. */
  linear2: Linear;
  /** Norm around the attention block. */
  norm1: LayerNorm;
  /** Norm around the feed-forward block. */
  norm2: LayerNorm;
  /** Dropout after the attention block. */
  dropout1: Dropout;
  /** Dropout after the feed-forward block. */
  dropout2: Dropout;
  /** Pre-norm when true. */
  readonly normFirst: boolean;
  /** The feed-forward activation. */
  activation: (x: Tensor) => Tensor;

  constructor(readonly dModel: number, readonly nhead: number, options: TransformerLayerOptions = {}) {
    super();
    const o = options;
    const p = o.dropout ?? 0.1;
    const g = o.generator;
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias: o.bias, batchFirst: o.batchFirst, generator: g });
    ({ linear1: this.linear1, dropout: this.dropout, linear2: this.linear2 } = feedForwardParts(dModel, o));
    this.normFirst = o.normFirst ?? false;
    this.norm1 = new LayerNorm(dModel, { eps: o.layerNormEps ?? 1e-5, bias: o.bias });
    this.norm2 = new LayerNorm(dModel, { eps: o.layerNormEps ?? 1e-5, bias: o.bias });
    this.dropout1 = new Dropout(p, { generator: g });
    this.dropout2 = new Dropout(p, { generator: g });
    this.activation = resolveActivation('TransformerEncoderLayer', o.activation ?? 'relu');
  }

  private saBlock(x: Tensor, o: EncoderLayerForwardOptions): Tensor {
    const { output } = this.selfAttn.forward(x, x, x, {
      attnMask: o.srcMask, keyPaddingMask: o.srcKeyPaddingMask, isCausal: o.isCausal, cache: o.cache, rotary: o.rotary, needWeights: false,
    });
    return this.dropout1.forward(output);
  }

  private ffBlock(x: Tensor): Tensor {
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(this.activation(this.linear1.forward(x)))));
  }

  /**
   * Encodes `src` `[L, N, E]` (`[N, L, E]` with batchFirst, or `[L, E]`).
   *
   * @example
   * ```ts
   * layer.forward(src, { srcKeyPaddingMask: pad });
   * ```
   */
  forward(src: Tensor, options: EncoderLayerForwardOptions = {}): Tensor {
    return tidy(() => {
      let x = src;
      if (this.normFirst) {
        x = x.add(this.saBlock(this.norm1.forward(x), options));
        x = x.add(this.ffBlock(this.norm2.forward(x)));
      } else {
        x = this.norm1.forward(x.add(this.saBlock(x, options)));
        x = this.norm2.forward(x.add(this.ffBlock(x)));
      }
      return x;
    });
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, normFirst=${this.normFirst}`;
  }
}

/**
 * One transformer decoder block: causal self-attention, cross-attention over the encoder
 * memory, feed-forward; residuals and LayerNorms (torch.nn.TransformerDecoderLayer).
 *
 * @example
 * ```ts
 * const layer = new TransformerDecoderLayer(16, 4, { dimFeedforward: 32 });
 * layer.forward(randn([3, 2, 16]), randn([5, 2, 16]), { tgtIsCausal: true }).shape; // [3, 2, 16]
 * ```
 */
export class TransformerDecoderLayer extends Module {
  /** Causal self-attention (`self_attn.*`). */
  selfAttn: MultiheadAttention;
  /** Cross-attention over the memory (`multihead_attn.*`). */
  multiheadAttn: MultiheadAttention;
  /** Feed-forward expansion `dModel -> dimFeedforward`. */
  linear1: Linear;
  /** Dropout inside the feed-forward block. */
  dropout: Dropout;
  /** Feed-forward projection `dimFeedforward -> dModel`. */
  linear2: Linear;
  /** Norm around the self-attention block. */
  norm1: LayerNorm;
  /** Norm around the cross-attention block. */
  norm2: LayerNorm;
  /** Norm around the feed-forward block. */
  norm3: LayerNorm;
  /** Dropout after the self-attention block. */
  dropout1: Dropout;
  /** Dropout after the cross-attention block. */
  dropout2: Dropout;
  /** Dropout after the feed-forward block. */
  dropout3: Dropout;
  /** Pre-norm when true. */
  readonly normFirst: boolean;
  /** The feed-forward activation. */
  activation: (x: Tensor) => Tensor;

  constructor(readonly dModel: number, readonly nhead: number, options: TransformerLayerOptions = {}) {
    super();
    const o = options;
    const p = o.dropout ?? 0.1;
    const g = o.generator;
    const eps = o.layerNormEps ?? 1e-5;
    this.selfAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias: o.bias, batchFirst: o.batchFirst, generator: g });
    this.multiheadAttn = new MultiheadAttention(dModel, nhead, { dropout: p, bias: o.bias, batchFirst: o.batchFirst, generator: g });
    ({ linear1: this.linear1, dropout: this.dropout, linear2: this.linear2 } = feedForwardParts(dModel, o));
    this.normFirst = o.normFirst ?? false;
    this.norm1 = new LayerNorm(dModel, { eps, bias: o.bias });
    this.norm2 = new LayerNorm(dModel, { eps, bias: o.bias });
    this.norm3 = new LayerNorm(dModel, { eps, bias: o.bias });
    this.dropout1 = new Dropout(p, { generator: g });
    this.dropout2 = new Dropout(p, { generator: g });
    this.dropout3 = new Dropout(p, { generator: g });
    this.activation = resolveActivation('TransformerDecoderLayer', o.activation ?? 'relu');
  }

  private saBlock(x: Tensor, o: DecoderLayerForwardOptions): Tensor {
    const { output } = this.selfAttn.forward(x, x, x, {
      attnMask: o.tgtMask, keyPaddingMask: o.tgtKeyPaddingMask, isCausal: o.tgtIsCausal, cache: o.cache?.selfAttn, needWeights: false,
    });
    return this.dropout1.forward(output);
  }

  private mhaBlock(x: Tensor, memory: Tensor, o: DecoderLayerForwardOptions): Tensor {
    const { output } = this.multiheadAttn.forward(x, memory, memory, {
      attnMask: o.memoryMask, keyPaddingMask: o.memoryKeyPaddingMask, isCausal: o.memoryIsCausal, cache: o.cache?.crossAttn, needWeights: false,
    });
    return this.dropout2.forward(output);
  }

  private ffBlock(x: Tensor): Tensor {
    return this.dropout3.forward(this.linear2.forward(this.dropout.forward(this.activation(this.linear1.forward(x)))));
  }

  /**
   * Decodes `tgt` `[T, N, E]` attending to `memory` `[S, N, E]` (batch first with batchFirst).
   *
   * @example
   * ```ts
   * layer.forward(tgt, memory, { tgtMask: generateSquareSubsequentMask(tgt.shape[0]) });
   * ```
   */
  forward(tgt: Tensor, memory: Tensor, options: DecoderLayerForwardOptions = {}): Tensor {
    return tidy(() => {
      let x = tgt;
      if (this.normFirst) {
        x = x.add(this.saBlock(this.norm1.forward(x), options));
        x = x.add(this.mhaBlock(this.norm2.forward(x), memory, options));
        x = x.add(this.ffBlock(this.norm3.forward(x)));
      } else {
        x = this.norm1.forward(x.add(this.saBlock(x, options)));
        x = this.norm2.forward(x.add(this.mhaBlock(x, memory, options)));
        x = this.norm3.forward(x.add(this.ffBlock(x)));
      }
      return x;
    });
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, nhead=${this.nhead}, normFirst=${this.normFirst}`;
  }
}
