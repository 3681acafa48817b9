// SPDX-License-Identifier: MIT
// Hugging Face BartModel and BartForConditionalGeneration (the encoder-decoder used for
// summarization): `model.shared` token embeddings tied to both stacks' `embed_tokens`, the LM
// head `lm_head` tied to them too (unless `tie_word_embeddings` is false) plus the
// `final_logits_bias` buffer, HF's forward: default decoder inputs = shift_tokens_right of
// `labels` (or of `input_ids` without labels), the loss over labels with -100 ignored,
// precomputed `encoderOutputs`, and the decoder kv-cache (`pastKeyValues` / `useCache`).
// Invariants: stateDict() keys are HF's state_dict() keys (tied aliases included); a forward
// leaves no temporaries; generation lives in bart-generate.ts (greedy and beam search, HF's).
import { HeedError, concat, fmtShape, full, tidy, where, zeros, type Generator, type Tensor } from '@heed/core';
import { Embedding, Linear, buffer, crossEntropy } from '@heed/nn';
import { BartDecoder, BartEncoder } from './bart.js';
import { bartSettings, type BartConfig, type EncoderDecoderCache } from './bart-config.js';
import { generateSeq2Seq, type Seq2SeqGenerateOptions } from './bart-generate.js';
import type { PretrainedConfig } from './config.js';
import { initHFWeights, keyPaddingMask } from './modeling-utils.js';
import { PreTrainedModel } from './pretrained.js';
import { lmHead } from './causal-lm.js';

/**
 * HF's `shift_tokens_right`: `[start, ids[:, :-1]]` with -100 replaced by the pad id (the
 * decoder inputs of teacher forcing).
 *
 * @example
 * ```ts
 * shiftTokensRight(tensor([[0, 44, 2]], { dtype: 'int32' }), 1, 2); // [[2, 0, 44]]
 * ```
 */
export function shiftTokensRight(ids: Tensor, padTokenId: number, decoderStartTokenId: number): Tensor {
  if (ids.dtype !== 'int32' || ids.rank !== 2) throw new HeedError('shiftTokensRight', `ids must be int32 [batch, length], got ${ids.dtype} ${fmtShape(ids.shape)}.`);
  return tidy(() => {
    const [B, T] = ids.shape;
    const start = full([B, 1], decoderStartTokenId, { dtype: 'int32', backend: ids.backend.name });
    const shifted = T > 1 ? concat([start, ids.narrow(1, 0, T - 1)], 1) : start;
    return where(shifted.eq(-100), full([1, 1], padTokenId, { dtype: 'int32', backend: ids.backend.name }), shifted);
  });
}

/**
 * Forward inputs of the BART classes besides `inputIds` (HF's names in camelCase).
 *
 * @example
 * ```ts
 * const o: BartForwardOptions = { attentionMask, decoderInputIds, decoderAttentionMask };
 * ```
 */
export interface BartForwardOptions {
  /** `[B, S]` 0/1 source mask (1 = token). */
  attentionMask?: Tensor;
  /** int32 `[B, T]` decoder inputs (default: shift_tokens_right of labels, else of inputIds). */
  decoderInputIds?: Tensor;
  /** `[B, pastLength + T]` 0/1 decoder mask (default all ones; the causal mask always applies). */
  decoderAttentionMask?: Tensor;
  /** int32 `[B, T]` target ids (-100 = ignored): adds the mean token cross-entropy as `loss`. */
  labels?: Tensor;
  /** The encoder's output from an earlier call (then `inputIds` may be null). Not disposed. */
  encoderOutputs?: { lastHiddenState: Tensor };
  /** The decoder cache of the previous step. Not disposed. */
  pastKeyValues?: EncoderDecoderCache;
  /** Return the updated decoder cache (default false). */
  useCache?: boolean;
}

/**
 * What {@link BartModel.forward} returns.
 *
 * @example
 * ```ts
 * const { lastHiddenState }: Seq2SeqModelOutput = bart.forward(ids, { decoderInputIds });
 * ```
 */
export interface Seq2SeqModelOutput {
  /** Decoder output `[B, T, d_model]`. */
  lastHiddenState: Tensor;
  /** The decoder cache (past + these positions) when `useCache` was set. */
  pastKeyValues?: EncoderDecoderCache;
  /** Encoder output `[B, S, d_model]`, when it was computed by this call. */
  encoderLastHiddenState?: Tensor;
}

/**
 * What {@link BartForConditionalGeneration.forward} returns (HF's `Seq2SeqLMOutput`).
 *
 * @example
 * ```ts
 * const { loss, logits } = model.forward(ids, { attentionMask, labels });
 * ```
 */
export interface Seq2SeqLMOutput {
  /** Mean token cross-entropy, when labels were given. */
  loss?: Tensor;
  /** `[B, T, vocab]`. */
  logits: Tensor;
  /** The decoder cache when `useCache` was set. */
  pastKeyValues?: EncoderDecoderCache;
  /** Encoder output, when it was computed by this call. */
  encoderLastHiddenState?: Tensor;
}

/**
 * The BART encoder-decoder without a head (HF's `BartModel`: `shared`, `encoder`, `decoder`).
 *
 * @example
 * ```ts
 * const bart = BartModel.fromConfig({ model_type: 'bart', vocab_size: 96, d_model: 32, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 4, decoder_attention_heads: 4, encoder_ffn_dim: 64, decoder_ffn_dim: 64 });
 * const { lastHiddenState } = bart.forward(ids);
 * ```
 */
export class BartModel extends PreTrainedModel<BartConfig> {
  /** HF `model_type`. */
  static readonly modelType = 'bart';
  /** HF class name. */
  static readonly architecture = 'BartModel';
  shared: Embedding;
  encoder: BartEncoder;
  decoder: BartDecoder;
  /** pad_token_id and decoder_start_token_id, resolved. */
  readonly padTokenId: number;
  readonly decoderStartTokenId: number;

  constructor(config: BartConfig, options: { generator?: Generator } = {}) {
    super(config);
    const s = bartSettings(config, 'BartModel');
    this.padTokenId = s.pad;
    this.decoderStartTokenId = s.decoderStart;
    this.shared = new Embedding(s.vocabSize, s.dModel, s.pad < s.vocabSize ? { paddingIdx: s.pad } : {});
    this.encoder = new BartEncoder(s, this.shared);
    this.decoder = new BartDecoder(s, this.shared);
    initHFWeights(this, s.initStd, options.generator);
  }

  /**
   * A model with random weights (HF's init) for `config`.
   *
   * @example `const bart = BartModel.fromConfig(config);`
   */
  static fromConfig(config: PretrainedConfig): BartModel {
    return new BartModel(config as BartConfig);
  }

  /** HF class name. */
  get architecture(): string {
    return 'BartModel';
  }

  /** HF's `base_model_prefix`. */
  override get baseModelPrefix(): string {
    return 'model';
  }

  /**
   * Both stacks' `embed_tokens` are `shared` (not saved, like HF).
   *
   * @example `bart.tiedWeightKeys(); // { 'encoder.embed_tokens.weight': 'shared.weight', ... }`
   */
  override tiedWeightKeys(): Record<string, string> {
    return { 'encoder.embed_tokens.weight': 'shared.weight', 'decoder.embed_tokens.weight': 'shared.weight' };
  }

  /**
   * Runs the encoder (unless `encoderOutputs` are given) and the decoder.
   *
   * @example
   * ```ts
   * const { lastHiddenState } = bart.forward(ids, { attentionMask, decoderInputIds });
   * ```
   */
  forward(inputIds: Tensor | null, options: BartForwardOptions = {}): Seq2SeqModelOutput {
    const op = 'BartModel';
    return tidy(() => {
      let decoderInputIds = options.decoderInputIds;
      if (!decoderInputIds) {
        if (!inputIds) throw new HeedError(op, 'pass decoderInputIds (or inputIds, whose shift_tokens_right is the default decoder input).');
        decoderInputIds = shiftTokensRight(inputIds, this.padTokenId, this.decoderStartTokenId);
      }
      let memory = options.encoderOutputs?.lastHiddenState;
      let computed: Tensor | undefined;
      if (!memory) {
        if (!inputIds) throw new HeedError(op, 'pass inputIds or encoderOutputs.');
        computed = this.encode(inputIds, options.attentionMask);
        memory = computed;
      }
      const [B, S] = memory.shape;
      if (decoderInputIds.shape[0] !== B) {
        throw new HeedError(op, `decoderInputIds ${fmtShape(decoderInputIds.shape)} and the encoder output ${fmtShape(memory.shape)} differ in batch size.`);
      }
      const encoderMask = keyPaddingMask(op, options.attentionMask, B, S);
      const { h, cache } = this.decoder.forward(decoderInputIds, {
        encoderHiddenStates: memory, encoderMask, attentionMask: options.decoderAttentionMask, past: options.pastKeyValues, useCache: options.useCache,
      });
      const out: Seq2SeqModelOutput = { lastHiddenState: h };
      if (cache) out.pastKeyValues = cache;
      if (computed) out.encoderLastHiddenState = computed;
      return out;
    });
  }

  /**
   * The encoder's output `[B, S, d_model]` for int32 `inputIds [B, S]` and an optional `[B, S]` 0/1 mask.
   *
   * @example
   * ```ts
   * const memory = bart.encode(ids, attentionMask);
   * ```
   */
  encode(inputIds: Tensor, attentionMask?: Tensor): Tensor {
    if (inputIds.rank !== 2) throw new HeedError('BartModel', `inputIds must be int32 [batch, length], got ${inputIds.dtype} ${fmtShape(inputIds.shape)}.`);
    return tidy(() => this.encoder.forward(inputIds, keyPaddingMask('BartModel', attentionMask, inputIds.shape[0], inputIds.shape[1])));
  }
}

/**
 * BART with its language-model head (HF's `BartForConditionalGeneration`): summarization,
 * translation, denoising. Keys `model.*`, `final_logits_bias`, `lm_head.weight` (tied).
 *
 * @example
 * ```ts
 * const model = await BartForConditionalGeneration.fromPretrained('./checkpoints/bart');
 * const { loss } = model.forward(ids, { attentionMask, labels });
 * const summaries = await model.generate(ids, { attentionMask, numBeams: 4, maxNewTokens: 60 });
 * ```
 */
export class BartForConditionalGeneration extends PreTrainedModel<BartConfig> {
  /** HF `model_type`. */
  static readonly modelType = 'bart';
  /** HF class name. */
  static readonly architecture = 'BartForConditionalGeneration';
  model: BartModel;
  /** `[1, vocab]` added to the logits (a buffer, as in HF). */
  finalLogitsBias: Tensor;
  lmHead: Linear;

  constructor(config: BartConfig, options: { generator?: Generator } = {}) {
    super(config);
    const s = bartSettings(config, 'BartForConditionalGeneration');
    this.model = new BartModel(config, options);
    this.finalLogitsBias = buffer(zeros([1, s.vocabSize]));
    const tied = config.tie_word_embeddings !== false;
    this.lmHead = lmHead(s.dModel, s.vocabSize, tied, this.model.shared);
    if (!tied) initHFWeights(this.lmHead, s.initStd, options.generator);
  }

  /**
   * A model with random weights (HF's init) for `config`.
   *
   * @example `const model = BartForConditionalGeneration.fromConfig(config);`
   */
  static fromConfig(config: PretrainedConfig): BartForConditionalGeneration {
    return new BartForConditionalGeneration(config as BartConfig);
  }

  /** HF class name. */
  get architecture(): string {
    return 'BartForConditionalGeneration';
  }

  /** HF's `base_model_prefix`: a `BartModel` checkpoint loads into `model`. */
  override get baseModelPrefix(): string {
    return 'model';
  }

  /**
   * The embed_tokens aliases of `model.shared`, and `lm_head.weight` when tied; none is saved.
   *
   * @example `model.tiedWeightKeys()['lm_head.weight']; // 'model.shared.weight'`
   */
  override tiedWeightKeys(): Record<string, string> {
    const out: Record<string, string> = { 'model.encoder.embed_tokens.weight': 'model.shared.weight', 'model.decoder.embed_tokens.weight': 'model.shared.weight' };
    if (this.config.tie_word_embeddings !== false) out['lm_head.weight'] = 'model.shared.weight';
    return out;
  }

  /**
   * Loads checkpoint tensors strictly, except that a missing `final_logits_bias` stays zero
   * (HF's `_keys_to_ignore_on_load_missing`, e.g. for a BartModel checkpoint).
   *
   * @example
   * ```ts
   * model.loadPretrainedState(await loadWeights('./checkpoints/bart-base'));
   * ```
   */
  override loadPretrainedState(weights: Map<string, Tensor>, op = 'fromPretrained'): void {
    if (weights.has('final_logits_bias')) {
      super.loadPretrainedState(weights, op);
      return;
    }
    const bias = zeros(this.finalLogitsBias.shape, { backend: this.finalLogitsBias.backend.name });
    try {
      super.loadPretrainedState(new Map([...weights, ['final_logits_bias', bias]]), op);
    } finally {
      bias.dispose();
    }
  }

  /**
   * Logits `[B, T, vocab]` (HF's forward); with `labels`, the decoder inputs default to
   * shift_tokens_right(labels) and `loss` is their mean cross-entropy (-100 ignored).
   *
   * @example
   * ```ts
   * const { logits, pastKeyValues } = model.forward(null, { encoderOutputs, decoderInputIds: last, pastKeyValues: past, useCache: true });
   * ```
   */
  forward(inputIds: Tensor | null, options: BartForwardOptions = {}): Seq2SeqLMOutput {
    return tidy(() => {
      const labels = options.labels;
      let decoderInputIds = options.decoderInputIds;
      if (labels) {
        if (labels.dtype !== 'int32' || labels.rank !== 2) {
          throw new HeedError('BartForConditionalGeneration', `labels must be int32 [batch, length] (-100 = ignored), got ${labels.dtype} ${fmtShape(labels.shape)}.`);
        }
        decoderInputIds ??= shiftTokensRight(labels, this.model.padTokenId, this.model.decoderStartTokenId);
      }
      const out = this.model.forward(inputIds, { ...options, decoderInputIds });
      const logits = this.lmHead.forward(out.lastHiddenState).add(this.finalLogitsBias);
      const result: Seq2SeqLMOutput = { logits };
      if (out.pastKeyValues) result.pastKeyValues = out.pastKeyValues;
      if (out.encoderLastHiddenState) result.encoderLastHiddenState = out.encoderLastHiddenState;
      if (labels) {
        const [B, T, V] = logits.shape;
        if (labels.shape[0] !== B || labels.shape[1] !== T) {
          throw new HeedError('BartForConditionalGeneration', `labels ${fmtShape(labels.shape)} must match the decoder inputs ${fmtShape([B, T])}.`);
        }
        result.loss = crossEntropy(logits.reshape([B * T, V]), labels.reshape([B * T]));
      }
      return result;
    });
  }

  /**
   * HF's `generate()` for this model: greedy (`numBeams` 1) or beam search, with a decoder
   * kv-cache; defaults come from `generationConfig`. Returns each row's decoder ids (starting
   * with `decoder_start_token_id`, padded with `pad_token_id`), as HF's `sequences`.
   *
   * @example
   * ```ts
   * const out = await model.generate(ids, { attentionMask, maxNewTokens: 20, numBeams: 4, noRepeatNgramSize: 3 });
   * ```
   */
  generate(inputIds: Tensor, options: Seq2SeqGenerateOptions = {}): Promise<number[][]> {
    return generateSeq2Seq(this, inputIds, options);
  }
}
