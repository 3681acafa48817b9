// SPDX-License-Identifier: MIT
// TransformerClassifier: token embeddings + sinusoidal positions, a pre-norm transformer
// encoder with a final LayerNorm, a pooling step (masked mean over the non-padding tokens,
// or a learned [CLS] vector prepended to the sequence) and a linear head.
// Invariants: ids are int32 `[N, L]` right-padded with `padId`; padding never influences
// the result (masked in attention and in the mean); with 'cls' pooling the sequence seen by
// the encoder is one longer than `ids` (position 0 is the CLS vector).
import { HeedError, concat, noGrad, tidy, zeros, type Generator, type Tensor } from '@heed/core';
import {
  Dropout, Embedding, LayerNorm, Linear, Module, SinusoidalPositionalEncoding, TransformerEncoder, TransformerEncoderLayer,
  crossEntropy, normal_, parameter, type ActivationName, withEval,
} from '@heed/nn';
import { checkAttentionConfig, checkPositiveInts } from './batch.js';
import { encoderSelfAttention } from './attention-maps.js';

/**
 * How token states become one vector per sequence.
 *
 * @example
 * ```ts
 * const p: Pooling = 'cls';
 * ```
 */
export type Pooling = 'mean' | 'cls';

/**
 * The full configuration of a {@link TransformerClassifier} (saved with the model).
 *
 * @example
 * ```ts
 * const c: ClassifierConfig = model.config;
 * ```
 */
export interface ClassifierConfig {
  vocabSize: number;
  numClasses: number;
  /** Model width (default 64). */
  dModel: number;
  /** Attention heads (default 4). */
  nhead: number;
  /** Encoder layers (default 2). */
  numLayers: number;
  /** Feed-forward width (default 4 * dModel). */
  dimFeedforward: number;
  /** Dropout everywhere (default 0.1). */
  dropout: number;
  /** Longest input (default 256). */
  maxLen: number;
  /** Padding id (default 0). */
  padId: number;
  /** Pooling (default 'mean'). */
  pooling: Pooling;
  /** Feed-forward activation (default 'gelu'). */
  activation: ActivationName;
}

/**
 * Constructor options: vocabulary size and class count plus any config overrides.
 *
 * @example
 * ```ts
 * const o: ClassifierOptions = { vocabSize: 500, numClasses: 2, pooling: 'cls' };
 * ```
 */
export type ClassifierOptions = Pick<ClassifierConfig, 'vocabSize' | 'numClasses'> & Partial<ClassifierConfig> & { generator?: Generator };

/**
 * An encoder-only transformer that classifies token sequences.
 *
 * @example
 * ```ts
 * const clf = new TransformerClassifier({ vocabSize: 100, numClasses: 2, dModel: 32, numLayers: 1 });
 * const ids = padBatch([[5, 6, 7], [8, 9]], 0);
 * const loss = clf.loss(ids, tensor([1, 0], { dtype: 'int32' }));
 * const probs = clf.forward(ids).softmax(-1); // [2, 2]
 * ```
 */
export class TransformerClassifier extends Module {
  /** Model kind tag used by saveModel/loadModel. */
  static readonly kind = 'classifier';
  /** The resolved configuration. */
  readonly config: ClassifierConfig;
  /** Token embeddings. */
  embed: Embedding;
  /** Sinusoidal positions (+ dropout). */
  positional: SinusoidalPositionalEncoding;
  /** The learned CLS vector `[1, 1, dModel]` ('cls' pooling only). */
  clsToken: Tensor | null = null;
  /** The encoder, with a final LayerNorm. */
  encoder: TransformerEncoder;
  /** Dropout before the head. */
  drop: Dropout;
  /** Class logits. */
  head: Linear;

  constructor(options: ClassifierOptions) {
    super();
    const dModel = options.dModel ?? 64;
    const c: ClassifierConfig = {
      vocabSize: options.vocabSize, numClasses: options.numClasses, dModel, nhead: options.nhead ?? 4, numLayers: options.numLayers ?? 2,
      dimFeedforward: options.dimFeedforward ?? 4 * dModel, dropout: options.dropout ?? 0.1, maxLen: options.maxLen ?? 256,
      padId: options.padId ?? 0, pooling: options.pooling ?? 'mean', activation: options.activation ?? 'gelu',
    };
    const op = 'TransformerClassifier';
    checkPositiveInts(op, { vocabSize: c.vocabSize, numClasses: c.numClasses, dModel, nhead: c.nhead, numLayers: c.numLayers, maxLen: c.maxLen });
    checkAttentionConfig(op, dModel, c.nhead, c.dropout);
    if (c.pooling !== 'mean' && c.pooling !== 'cls') throw new HeedError(op, `pooling must be 'mean' or 'cls', got '${String(c.pooling)}'.`);
    this.config = c;
    const g = options.generator;
    this.embed = new Embedding(c.vocabSize, dModel, { paddingIdx: c.padId, generator: g });
    this.positional = new SinusoidalPositionalEncoding(dModel, { maxLen: c.maxLen + 1, dropout: c.dropout, batchFirst: true, generator: g });
    if (c.pooling === 'cls') this.clsToken = normal_(parameter(zeros([1, 1, dModel])), 0, 0.02, g);
    const template = new TransformerEncoderLayer(dModel, c.nhead, {
      dimFeedforward: c.dimFeedforward, dropout: c.dropout, activation: c.activation, batchFirst: true, normFirst: true, generator: g,
    });
    this.encoder = new TransformerEncoder(template, c.numLayers, { norm: new LayerNorm(dModel) });
    template.dispose();
    this.drop = new Dropout(c.dropout, { generator: g });
    this.head = new Linear(dModel, c.numClasses, { generator: g });
  }

  /** The encoder input `[N, L(+1), E]` and its key padding mask. */
  private inputs(ids: Tensor): { x: Tensor; pad: Tensor } {
    if (ids.dtype !== 'int32' || ids.rank !== 2) throw new HeedError('TransformerClassifier', `ids must be int32 [N, L], got ${ids.dtype} [${ids.shape.join(', ')}].`);
    const N = ids.shape[0];
    let x = this.embed.forward(ids);
    let pad = ids.eq(this.config.padId);
    if (this.clsToken) {
      x = concat([this.clsToken.expand([N, 1, this.config.dModel]), x], 1);
      pad = concat([zeros([N, 1], { backend: ids.backend.name }).bool(), pad], 1);
    }
    return { x: this.positional.forward(x), pad };
  }

  /**
   * Class logits `[N, numClasses]` for ids `[N, L]`.
   *
   * @example
   * ```ts
   * const logits = clf.forward(ids);
   * ```
   */
  forward(ids: Tensor): Tensor {
    return tidy(() => {
      const { x, pad } = this.inputs(ids);
      const h = this.encoder.forward(x, { srcKeyPaddingMask: pad });
      let pooled: Tensor;
      if (this.clsToken) {
        pooled = h.select(1, 0);
      } else {
        const keepMask = pad.logicalNot().float().unsqueeze(-1);
        pooled = h.mul(keepMask).sum({ axis: 1 }).div(keepMask.sum({ axis: 1 }).maximum(1));
      }
      return this.head.forward(this.drop.forward(pooled));
    });
  }

  /**
   * Mean cross-entropy against int32 labels `[N]`.
   *
   * @example
   * ```ts
   * clf.loss(ids, labels).backward();
   * ```
   */
  loss(ids: Tensor, labels: Tensor, options: { labelSmoothing?: number } = {}): Tensor {
    return tidy(() => crossEntropy(this.forward(ids), labels, { labelSmoothing: options.labelSmoothing ?? 0 }));
  }

  /**
   * Class probabilities for a batch, read to the host (eval mode, no gradients).
   *
   * @example
   * ```ts
   * const [[pNeg, pPos]] = await clf.predictProba(padBatch([tok.encode('great film')], 0));
   * ```
   */
  async predictProba(ids: Tensor): Promise<number[][]> {
    return withEval(this, async () => {
      const probs = noGrad(() => tidy(() => this.forward(ids).softmax(-1)));
      const data = await probs.data();
      probs.dispose();
      const C = this.config.numClasses;
      return Array.from({ length: ids.shape[0] }, (_, n) => Array.from(data.subarray(n * C, (n + 1) * C)));
    });
  }

  /**
   * Self-attention maps of every layer for `ids [N, L]`, heads averaged: `[N, L', L']` per
   * layer, where L' = L + 1 with 'cls' pooling (position 0 is CLS).
   *
   * @example
   * ```ts
   * const maps = clf.attentionMaps(ids);
   * ```
   */
  attentionMaps(ids: Tensor): Tensor[] {
    return withEval(this, () => noGrad(() => tidy(() => {
      const { x, pad } = this.inputs(ids);
      return encoderSelfAttention(this.encoder, x, { keyPaddingMask: pad });
    })));
  }

  override extraRepr(): string {
    const c = this.config;
    return `vocab=${c.vocabSize}, classes=${c.numClasses}, dModel=${c.dModel}, layers=${c.numLayers}, pooling=${c.pooling}`;
  }
}
