// SPDX-License-Identifier: MIT
// Seq2SeqTransformer: token embeddings (scaled by sqrt(dModel)) + sinusoidal positions, an
// nn.Transformer encoder-decoder (batch first), and a linear projection to the target
// vocabulary; teacher-forced loss, greedy decoding and beam search with kv-caches.
// Invariants: src/tgt are int32 `[N, L]` right-padded with `padId`; targets are
// `<bos> ... <eos> <pad>*`; padding keys are masked everywhere; decoding runs in eval mode
// under noGrad and restores the training flag; beam size 1 gives exactly the greedy output.
import { HeedError, Tensor, keep, noGrad, tensor, tidy, type Generator } from '@heed/core';
import {
  Embedding, Linear, Module, SinusoidalPositionalEncoding, Transformer, crossEntropy, disposeDecoderCache, normal_,
  type ActivationName, type DecoderLayerCache, withEval,
} from '@heed/nn';
import { checkAttentionConfig, checkPositiveInts, padBatch } from './batch.js';
import { beamSearch, type BeamStepper } from './generation/beam.js';
import { decoderCrossAttention, encoderSelfAttention } from './attention-maps.js';

/**
 * The full configuration of a {@link Seq2SeqTransformer} (saved with the model).
 *
 * @example
 * ```ts
 * const c: Seq2SeqConfig = model.config;
 * ```
 */
export interface Seq2SeqConfig {
  srcVocabSize: number;
  tgtVocabSize: number;
  /** Model width (default 128). */
  dModel: number;
  /** Attention heads (default 4). */
  nhead: number;
  /** Encoder layers (default 3). */
  numEncoderLayers: number;
  /** Decoder layers (default 3). */
  numDecoderLayers: number;
  /** Feed-forward width (default 4 * dModel). */
  dimFeedforward: number;
  /** Dropout everywhere (default 0.1). */
  dropout: number;
  /** Longest source or target sequence (default 256). */
  maxLen: number;
  /** Padding id (default 0). */
  padId: number;
  /** Start-of-target id (default 1). */
  bosId: number;
  /** End-of-target id (default 2). */
  eosId: number;
  /** Pre-norm layers (default true: trains stably without warmup tricks). */
  normFirst: boolean;
  /** One embedding table for source and target (needs equal vocab sizes; default false). */
  shareEmbeddings: boolean;
  /** Feed-forward activation (default 'relu'). */
  activation: ActivationName;
}

/**
 * Constructor options: the vocabulary sizes plus any config overrides, and a generator for
 * the init and dropout.
 *
 * @example
 * ```ts
 * const o: Seq2SeqOptions = { srcVocabSize: 500, tgtVocabSize: 500, dModel: 64, numEncoderLayers: 2, numDecoderLayers: 2 };
 * ```
 */
export type Seq2SeqOptions = Pick<Seq2SeqConfig, 'srcVocabSize' | 'tgtVocabSize'> & Partial<Seq2SeqConfig> & { generator?: Generator };

/**
 * Options of the decoding methods.
 *
 * @example
 * ```ts
 * await model.beamSearch(src, { beamSize: 4, maxLen: 32 });
 * ```
 */
export interface DecodeSeq2SeqOptions {
  /** Maximum generated tokens, EOS included (default config.maxLen - 1). */
  maxLen?: number;
  /** Beams per source (beamSearch only; default 4). */
  beamSize?: number;
  /** Length normalisation exponent (beamSearch only; default 0 = summed log-probability). */
  lengthPenalty?: number;
}

/**
 * Token ids of a batch: an int32 `[N, L]` tensor, or id lists (right-padded with `padId`).
 *
 * @example
 * ```ts
 * const a: TokenIds = [[5, 6, 7], [8]];
 * const b: TokenIds = padBatch([[5, 6, 7]], 0);
 * ```
 */
export type TokenIds = Tensor | readonly (readonly number[])[];

/**
 * An encoder-decoder transformer for sequence-to-sequence tasks (translation).
 *
 * @example
 * ```ts
 * const model = new Seq2SeqTransformer({ srcVocabSize: 40, tgtVocabSize: 40, dModel: 32, nhead: 4, numEncoderLayers: 1, numDecoderLayers: 1 });
 * const src = padBatch([[5, 6, 7]], 0);
 * const tgt = padBatch([[1, 8, 9, 2]], 0);
 * const loss = model.loss(src, tgt); // teacher forcing
 * const [out] = await model.greedyDecode(src, { maxLen: 8 });
 * ```
 */
export class Seq2SeqTransformer extends Module {
  /** Model kind tag used by saveModel/loadModel. */
  static readonly kind = 'seq2seq';
  /** The resolved configuration. */
  readonly config: Seq2SeqConfig;
  /** Source token embeddings. */
  srcEmbed: Embedding;
  /** Target token embeddings (the same module as srcEmbed when shared). */
  tgtEmbed: Embedding;
  /** Sinusoidal positions (+ dropout). */
  positional: SinusoidalPositionalEncoding;
  /** The encoder-decoder. */
  transformer: Transformer;
  /** Projection to target-vocabulary logits. */
  outProj: Linear;

  constructor(options: Seq2SeqOptions) {
    super();
    const dModel = options.dModel ?? 128;
    const c: Seq2SeqConfig = {
      srcVocabSize: options.srcVocabSize, tgtVocabSize: options.tgtVocabSize, dModel, nhead: options.nhead ?? 4,
      numEncoderLayers: options.numEncoderLayers ?? 3, numDecoderLayers: options.numDecoderLayers ?? 3,
      dimFeedforward: options.dimFeedforward ?? 4 * dModel, dropout: options.dropout ?? 0.1, maxLen: options.maxLen ?? 256,
      padId: options.padId ?? 0, bosId: options.bosId ?? 1, eosId: options.eosId ?? 2, normFirst: options.normFirst ?? true,
      shareEmbeddings: options.shareEmbeddings ?? false, activation: options.activation ?? 'relu',
    };
    const op = 'Seq2SeqTransformer';
    checkPositiveInts(op, { srcVocabSize: c.srcVocabSize, tgtVocabSize: c.tgtVocabSize, dModel: c.dModel, nhead: c.nhead, dimFeedforward: c.dimFeedforward, maxLen: c.maxLen });
    checkAttentionConfig(op, c.dModel, c.nhead, c.dropout);
    if (c.shareEmbeddings && c.srcVocabSize !== c.tgtVocabSize) {
      throw new HeedError(op, `shareEmbeddings needs equal vocab sizes, got ${c.srcVocabSize} and ${c.tgtVocabSize}.`);
    }
    this.config = c;
    const g = options.generator;
    const embed = (n: number) => {
      const e = new Embedding(n, dModel, { paddingIdx: c.padId, generator: g });
      normal_(e.weight, 0, dModel ** -0.5, g);
      noGrad(() => tidy(() => e.weight.assign(e.weight.mul(tensor(Array.from({ length: n }, (_, i) => (i === c.padId ? 0 : 1)), { shape: [n, 1] })))));
      return e;
    };
    this.srcEmbed = embed(c.srcVocabSize);
    this.tgtEmbed = c.shareEmbeddings ? this.srcEmbed : embed(c.tgtVocabSize);
    this.positional = new SinusoidalPositionalEncoding(dModel, { maxLen: c.maxLen, dropout: c.dropout, batchFirst: true, generator: g });
    this.transformer = new Transformer({
      dModel, nhead: c.nhead, numEncoderLayers: c.numEncoderLayers, numDecoderLayers: c.numDecoderLayers, dimFeedforward: c.dimFeedforward,
      dropout: c.dropout, activation: c.activation, batchFirst: true, normFirst: c.normFirst, generator: g,
    });
    this.outProj = new Linear(dModel, c.tgtVocabSize, { generator: g });
  }

  private ids(x: TokenIds): Tensor {
    return x instanceof Tensor ? x : padBatch(x, this.config.padId);
  }

  /** Embedded + positioned source `[N, S, E]`. */
  private embedSrc(src: Tensor): Tensor {
    return tidy(() => this.positional.forward(this.srcEmbed.forward(src).mul(Math.sqrt(this.config.dModel))));
  }

  /** Embedded + positioned target `[N, T, E]` starting at position `offset`. */
  private embedTgt(tgt: Tensor, offset = 0): Tensor {
    return tidy(() => this.positional.forward(this.tgtEmbed.forward(tgt).mul(Math.sqrt(this.config.dModel)), { offset }));
  }

  /**
   * Encodes a source batch `[N, S]` into the memory `[N, S, E]`.
   *
   * @example
   * ```ts
   * const memory = model.encode(src);
   * ```
   */
  encode(src: Tensor): Tensor {
    return tidy(() => this.transformer.encode(this.embedSrc(src), { srcKeyPaddingMask: src.eq(this.config.padId) }));
  }

  /**
   * Logits `[N, T, tgtVocabSize]` for target inputs `tgtIn [N, T]` (teacher forcing, causal).
   *
   * @example
   * ```ts
   * const logits = model.forward(src, tgtIn);
   * ```
   */
  forward(src: Tensor, tgtIn: Tensor): Tensor {
    return tidy(() => {
      const srcPad = src.eq(this.config.padId);
      const h = this.transformer.forward(this.embedSrc(src), this.embedTgt(tgtIn), {
        srcKeyPaddingMask: srcPad, memoryKeyPaddingMask: srcPad, tgtKeyPaddingMask: tgtIn.eq(this.config.padId), tgtIsCausal: true,
      });
      return this.outProj.forward(h);
    });
  }

  /**
   * Mean token cross-entropy of predicting `tgt[:, 1:]` from `tgt[:, :-1]` (padding ignored).
   *
   * @example
   * ```ts
   * const loss = model.loss(src, tgt, { labelSmoothing: 0.1 });
   * loss.backward();
   * ```
   */
  loss(src: Tensor, tgt: Tensor, options: { labelSmoothing?: number } = {}): Tensor {
    return tidy(() => {
      const T = tgt.shape[1] - 1;
      const logits = this.forward(src, tgt.narrow(1, 0, T));
      const N = tgt.shape[0];
      return crossEntropy(logits.reshape([N * T, this.config.tgtVocabSize]), tgt.narrow(1, 1, T).reshape([N * T]), {
        ignoreIndex: this.config.padId, labelSmoothing: options.labelSmoothing ?? 0,
      });
    });
  }

  /** An incremental decoding session over `src` with each row repeated `repeat` times. */
  private session(src: Tensor, repeat: number): BeamStepper & { dispose(): void } {
    const c = this.config;
    const N = src.shape[0];
    const rows = N * repeat;
    const { memory, memPad } = noGrad(() => tidy(() => {
      const idx = tensor(Array.from({ length: rows }, (_, r) => Math.floor(r / repeat)), { dtype: 'int32', backend: src.backend.name });
      const enc = this.encode(src);
      return { memory: keep(enc.indexSelect(0, idx)), memPad: keep(src.eq(c.padId).indexSelect(0, idx)) };
    }));
    let cache: DecoderLayerCache[] = this.transformer.decoder.createCache();
    return {
      vocabSize: c.tgtVocabSize,
      step: async (tokens, position) => {
        const lp = noGrad(() => tidy(() => {
          const x = this.embedTgt(tensor(Int32Array.from(tokens), { shape: [rows, 1], dtype: 'int32', backend: src.backend.name }), position);
          const h = this.transformer.decode(x, memory, { memoryKeyPaddingMask: memPad, tgtIsCausal: true, cache });
          return this.outProj.forward(h).reshape([rows, c.tgtVocabSize]).logSoftmax(-1);
        }));
        try {
          return (await lp.data()) as Float32Array;
        } finally {
          lp.dispose();
        }
      },
      reorder: (index) => {
        if (index.every((v, i) => v === i)) return;
        const idx = tensor(Int32Array.from(index), { dtype: 'int32', backend: src.backend.name });
        for (const layer of cache) {
          const kv = layer.selfAttn;
          if (!kv.keys || !kv.values) continue;
          const [k, v] = [keep(kv.keys.indexSelect(0, idx)), keep(kv.values.indexSelect(0, idx))];
          kv.keys.dispose();
          kv.values.dispose();
          kv.keys = k;
          kv.values = v;
        }
        idx.dispose();
      },
      dispose: () => {
        disposeDecoderCache(cache);
        cache = [];
        memory.dispose();
        memPad.dispose();
      },
    };
  }


  private maxDecodeLen(options: DecodeSeq2SeqOptions): number {
    const maxLen = options.maxLen ?? this.config.maxLen - 1;
    if (!Number.isInteger(maxLen) || maxLen <= 0 || maxLen >= this.config.maxLen) {
      throw new HeedError('Seq2SeqTransformer', `maxLen must be an integer in [1, ${this.config.maxLen - 1}], got ${maxLen}.`);
    }
    return maxLen;
  }

  /**
   * Greedy decoding with kv-caches: for each source row, the target ids without BOS/EOS.
   *
   * @example
   * ```ts
   * const outputs = await model.greedyDecode([[5, 6, 7], [8, 9]], { maxLen: 20 });
   * ```
   */
  async greedyDecode(src: TokenIds, options: DecodeSeq2SeqOptions = {}): Promise<number[][]> {
    const maxLen = this.maxDecodeLen(options);
    const s = this.ids(src);
    return withEval(this, async () => {
      const session = this.session(s, 1);
      const N = s.shape[0];
      const V = this.config.tgtVocabSize;
      const out: number[][] = Array.from({ length: N }, () => []);
      const finished = new Array<boolean>(N).fill(false);
      try {
        let last = new Array<number>(N).fill(this.config.bosId);
        for (let pos = 0; pos < maxLen && finished.some((f) => !f); pos++) {
          const lp = await session.step(last, pos);
          last = last.map((prev, n) => {
            if (finished[n]) return prev;
            let best = 0;
            for (let v = 1; v < V; v++) if (lp[n * V + v] > lp[n * V + best]) best = v;
            if (best === this.config.eosId) finished[n] = true;
            else out[n].push(best);
            return best;
          });
        }
      } finally {
        session.dispose();
        if (s !== src) s.dispose();
      }
      return out;
    });
  }

  /**
   * Beam search with kv-caches: for each source row, the best target ids (without BOS/EOS).
   * With `beamSize: 1` the result equals {@link Seq2SeqTransformer.greedyDecode}.
   *
   * @example
   * ```ts
   * const outputs = await model.beamSearch([[5, 6, 7]], { beamSize: 4, maxLen: 20 });
   * ```
   */
  async beamSearch(src: TokenIds, options: DecodeSeq2SeqOptions = {}): Promise<number[][]> {
    const maxLen = this.maxDecodeLen(options);
    const beamSize = options.beamSize ?? 4;
    const s = this.ids(src);
    return withEval(this, async () => {
      const session = this.session(s, beamSize);
      try {
        const results = await beamSearch(session, {
          batchSize: s.shape[0], beamSize, bosId: this.config.bosId, eosId: this.config.eosId, maxLen, lengthPenalty: options.lengthPenalty,
        });
        return results.map((r) => r[0].tokens);
      } finally {
        session.dispose();
        if (s !== src) s.dispose();
      }
    });
  }

  /**
   * Attention maps for one batch: encoder self-attention and decoder cross-attention (target
   * positions over source positions), one `[N, L, S]` tensor per layer, heads averaged.
   * `tgtIn` is the decoder input (`<bos>` + target tokens).
   *
   * @example
   * ```ts
   * const { cross } = model.attentionMaps(src, tgtIn);
   * await cross[cross.length - 1].array(); // last layer, [N, T, S]
   * ```
   */
  attentionMaps(src: Tensor, tgtIn: Tensor): { encoder: Tensor[]; cross: Tensor[] } {
    const wasTraining = this.training;
    this.eval();
    try {
      return noGrad(() => tidy(() => {
        const srcPad = src.eq(this.config.padId);
        const x = this.embedSrc(src);
        const encoder = encoderSelfAttention(this.transformer.encoder, x, { keyPaddingMask: srcPad });
        const memory = this.transformer.encode(x, { srcKeyPaddingMask: srcPad });
        const cross = decoderCrossAttention(this.transformer.decoder, this.embedTgt(tgtIn), memory, {
          memoryKeyPaddingMask: srcPad, tgtKeyPaddingMask: tgtIn.eq(this.config.padId),
        });
        return { encoder, cross };
      }));
    } finally {
      if (wasTraining) this.train();
    }
  }

  override extraRepr(): string {
    const c = this.config;
    return `dModel=${c.dModel}, nhead=${c.nhead}, layers=${c.numEncoderLayers}+${c.numDecoderLayers}, vocab=${c.srcVocabSize}->${c.tgtVocabSize}`;
  }
}
