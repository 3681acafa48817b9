// SPDX-License-Identifier: MIT
// GPT: a decoder-only causal language model (GPT-2 layout): token + learned position
// embeddings, pre-norm transformer blocks (nn.TransformerEncoderLayer with normFirst and a
// causal mask), a final LayerNorm and a linear head, optionally tied to the token embedding.
// Generation is incremental with one kv-cache per block, sampling with temperature/top-k
// from a seedable Generator.
// Invariants: ids are int32 `[N, L]` with L <= maxLen; cached generation gives the logits of
// full recomputation (up to float rounding) as long as the sequence fits in maxLen, after
// which the context slides (the cache is rebuilt on the last maxLen tokens, exactly what
// recomputation sees);
// generation runs in eval mode under noGrad and restores the training flag.
import { HeedError, Tensor, noGrad, tensor, tidy, type Generator } from '@heed/core';
import {
  Dropout, Embedding, KVCache, LayerNorm, LearnedPositionalEmbedding, Linear, Module, TransformerEncoder, TransformerEncoderLayer,
  crossEntropy, normal_, type ActivationName, withEval,
} from '@heed/nn';
import { checkAttentionConfig, checkPositiveInts } from './batch.js';
import { sampleToken, type SamplingOptions } from './generation/sampling.js';
import { encoderSelfAttention } from './attention-maps.js';

/**
 * The full configuration of a {@link GPT} (saved with the model).
 *
 * @example
 * ```ts
 * const c: GPTConfig = model.config;
 * ```
 */
export interface GPTConfig {
  vocabSize: number;
  /** Model width (default 128). */
  dModel: number;
  /** Attention heads (default 4). */
  nhead: number;
  /** Transformer blocks (default 4). */
  numLayers: number;
  /** Feed-forward width (default 4 * dModel). */
  dimFeedforward: number;
  /** Dropout everywhere (default 0.1). */
  dropout: number;
  /** Context length (default 256). */
  maxLen: number;
  /** Share the token embedding with the output head (default true). */
  tieWeights: boolean;
  /** Feed-forward activation (default 'gelu'). */
  activation: ActivationName;
}

/**
 * Constructor options: the vocabulary size plus any config overrides, and a generator.
 *
 * @example
 * ```ts
 * const o: GPTOptions = { vocabSize: 100, dModel: 64, numLayers: 2, maxLen: 128 };
 * ```
 */
export type GPTOptions = Pick<GPTConfig, 'vocabSize'> & Partial<GPTConfig> & { generator?: Generator };

/**
 * Options of {@link GPT.generate}.
 *
 * @example
 * ```ts
 * const o: GenerateOptions = { maxNewTokens: 100, temperature: 0.8, topK: 20, generator: new Generator(7) };
 * ```
 */
export interface GenerateOptions extends SamplingOptions {
  /** How many tokens to generate. */
  maxNewTokens: number;
  /** Use kv-caches (default true); false recomputes the whole context every step. */
  useCache?: boolean;
  /** Stop after generating this token (it is included in the output). */
  stopToken?: number;
  /** Called with each new token. */
  onToken?: (token: number) => void;
}

/**
 * A decoder-only transformer language model.
 *
 * @example
 * ```ts
 * const gpt = new GPT({ vocabSize: 50, dModel: 32, nhead: 4, numLayers: 2, maxLen: 64 });
 * const loss = gpt.loss(tensor([[1, 5, 7, 9]], { dtype: 'int32' })); // next-token loss
 * const tokens = await gpt.generate([1, 5], { maxNewTokens: 10, temperature: 0.8, generator: new Generator(0) });
 * ```
 */
export class GPT extends Module {
  /** Model kind tag used by saveModel/loadModel. */
  static readonly kind = 'gpt';
  /** The resolved configuration. */
  readonly config: GPTConfig;
  /** Token embeddings. */
  tokEmbed: Embedding;
  /** Learned position embeddings. */
  posEmbed: LearnedPositionalEmbedding;
  /** Dropout after the embeddings. */
  drop: Dropout;
  /** The causal pre-norm blocks, with the final LayerNorm (`blocks.norm`). */
  blocks: TransformerEncoder;
  /** Output head (weight tied to tokEmbed.weight when tieWeights). */
  head: Linear;

  constructor(options: GPTOptions) {
    super();
    const dModel = options.dModel ?? 128;
    const c: GPTConfig = {
      vocabSize: options.vocabSize, dModel, nhead: options.nhead ?? 4, numLayers: options.numLayers ?? 4,
      dimFeedforward: options.dimFeedforward ?? 4 * dModel, dropout: options.dropout ?? 0.1, maxLen: options.maxLen ?? 256,
      tieWeights: options.tieWeights ?? true, activation: options.activation ?? 'gelu',
    };
    checkPositiveInts('GPT', { vocabSize: c.vocabSize, dModel, nhead: c.nhead, numLayers: c.numLayers, dimFeedforward: c.dimFeedforward, maxLen: c.maxLen });
    checkAttentionConfig('GPT', dModel, c.nhead, c.dropout);
    this.config = c;
    const g = options.generator;
    this.tokEmbed = new Embedding(c.vocabSize, dModel, { generator: g });
    normal_(this.tokEmbed.weight, 0, 0.02, g);
    this.posEmbed = new LearnedPositionalEmbedding(c.maxLen, dModel, { batchFirst: true, initStd: 0.02, generator: g });
    this.drop = new Dropout(c.dropout, { generator: g });
    const template = new TransformerEncoderLayer(dModel, c.nhead, {
      dimFeedforward: c.dimFeedforward, dropout: c.dropout, activation: c.activation, batchFirst: true, normFirst: true, generator: g,
    });
    this.blocks = new TransformerEncoder(template, c.numLayers, { norm: new LayerNorm(dModel) });
    template.dispose();
    this.head = new Linear(dModel, c.vocabSize, { bias: false, generator: g });
    if (c.tieWeights) {
      this.head.weight.dispose();
      this.head.weight = this.tokEmbed.weight;
    }
  }

  /** Embedded ids at positions offset.. (dropout applied). */
  private embed(ids: Tensor, offset: number): Tensor {
    if (ids.dtype !== 'int32' || ids.rank !== 2) throw new HeedError('GPT', `ids must be int32 [N, L], got ${ids.dtype} [${ids.shape.join(', ')}].`);
    return tidy(() => this.drop.forward(this.posEmbed.forward(this.tokEmbed.forward(ids), { offset })));
  }

  /**
   * Next-token logits `[N, L, vocabSize]` for ids `[N, L]`. With a `cache` (from
   * {@link GPT.createCache}), `ids` are the new positions after the cached ones.
   *
   * @example
   * ```ts
   * const logits = gpt.forward(ids);
   * ```
   */
  forward(ids: Tensor, options: { cache?: readonly KVCache[] | null } = {}): Tensor {
    const cache = options.cache ?? null;
    const offset = cache?.[0]?.length ?? 0;
    return tidy(() => this.head.forward(this.blocks.forward(this.embed(ids, offset), { isCausal: true, cache })));
  }

  /**
   * Mean cross-entropy of predicting `ids[:, 1:]` from `ids[:, :-1]`.
   *
   * @example
   * ```ts
   * const loss = gpt.loss(batch); // batch: int32 [N, L + 1]
   * ```
   */
  loss(ids: Tensor, options: { ignoreIndex?: number } = {}): Tensor {
    return tidy(() => {
      const [N, L1] = ids.shape;
      const L = L1 - 1;
      const logits = this.forward(ids.narrow(1, 0, L));
      return crossEntropy(logits.reshape([N * L, this.config.vocabSize]), ids.narrow(1, 1, L).reshape([N * L]), {
        ignoreIndex: options.ignoreIndex ?? -100,
      });
    });
  }

  /**
   * One empty kv-cache per block.
   *
   * @example
   * ```ts
   * const cache = gpt.createCache();
   * gpt.forward(prompt, { cache });
   * ```
   */
  createCache(): KVCache[] {
    return this.blocks.createCache();
  }

  /** Logits of the last position as a host array, for ids of one sequence. */
  private async lastLogits(ids: readonly number[], cache: readonly KVCache[] | null): Promise<Float32Array> {
    const V = this.config.vocabSize;
    const row = noGrad(() => tidy(() => {
      const x = tensor(Int32Array.from(ids), { shape: [1, ids.length], dtype: 'int32' });
      return this.forward(x, { cache }).select(1, ids.length - 1).reshape([V]);
    }));
    try {
      return (await row.data()) as Float32Array;
    } finally {
      row.dispose();
    }
  }

  /**
   * Continues `prompt` by `maxNewTokens` tokens (fewer if `stopToken` comes), sampling with
   * `temperature`/`topK` from `generator` (temperature 0 = greedy). Returns the new tokens.
   *
   * @example
   * ```ts
   * const out = await gpt.generate(tok.encode('Es war'), { maxNewTokens: 50, temperature: 0.8, topK: 10, generator: new Generator(1) });
   * tok.decode(out);
   * ```
   */
  async generate(prompt: readonly number[], options: GenerateOptions): Promise<number[]> {
    const { maxNewTokens } = options;
    if (prompt.length === 0) throw new HeedError('GPT.generate', 'the prompt needs at least one token (e.g. <bos>).');
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new HeedError('GPT.generate', `maxNewTokens must be a non-negative integer, got ${maxNewTokens}.`);
    const useCache = options.useCache ?? true;
    const window = this.config.maxLen;
    return withEval(this, async () => {
      let cache: KVCache[] | null = null;
      const seq = [...prompt];
      const out: number[] = [];
      try {
        let pending: number[] = seq.slice(-window);
        if (useCache) cache = this.createCache();
        for (let i = 0; i < maxNewTokens; i++) {
          if (cache && cache[0].length + pending.length > window) {
            // The context is full: slide it, rebuilding the cache over the last `window` tokens.
            for (const c of cache) c.reset();
            pending = seq.slice(-window);
          }
          const logits = await this.lastLogits(cache ? pending : seq.slice(-window), cache);
          const token = await sampleToken(logits, options);
          seq.push(token);
          out.push(token);
          options.onToken?.(token);
          pending = [token];
          if (token === options.stopToken) break;
        }
      } finally {
        if (cache) for (const c of cache) c.dispose();
      }
      return out;
    });
  }

  /**
   * Causal self-attention maps of every block for one batch `ids [N, L]`, heads averaged:
   * one `[N, L, L]` tensor per block.
   *
   * @example
   * ```ts
   * const maps = gpt.attentionMaps(ids);
   * ```
   */
  attentionMaps(ids: Tensor): Tensor[] {
    return withEval(this, () => noGrad(() => tidy(() => encoderSelfAttention(this.blocks, this.embed(ids, 0), { isCausal: true }))));
  }

  override extraRepr(): string {
    const c = this.config;
    return `vocab=${c.vocabSize}, dModel=${c.dModel}, nhead=${c.nhead}, layers=${c.numLayers}, maxLen=${c.maxLen}`;
  }
}
