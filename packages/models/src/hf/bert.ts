// SPDX-License-Identifier: MIT
// Hugging Face BERT: BertModel (embeddings, post-LN encoder layers, pooler) and the
// BertForSequenceClassification / BertForMaskedLM heads, with HF's module tree, so stateDict()
// keys are exactly HF's (`bert.encoder.layer.0.attention.self.query.weight`, `cls.predictions.bias`).
// Semantics follow transformers' modeling_bert: absolute position ids (past length + arange),
// token_type_ids defaulting to zeros, the [B, S] 0/1 attention_mask applied to the keys (HF's
// extended mask), `hidden_act` and `layer_norm_eps` from the config, HF's losses for `labels`.
// Invariants: forward passes leave no temporaries (everything inside tidy); the MLM decoder's
// weight IS the word-embedding tensor and its bias IS `cls.predictions.bias` (tied, as in HF);
// bad ids or masks give a HeedError naming the model and the expected shape/range.
import { HeedError, arange, fmtShape, scaledDotProductAttention, tidy, zeros, type Generator, type Tensor } from '@heed/core';
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleList } from '@heed/nn';
import { BERT_IGNORED_KEYS, bertSettings, type BertConfig, type BertSettings } from './bert-config.js';
import type { PretrainedConfig } from './config.js';
import { embedTokens, hfActivation, initHFWeights, keyPaddingMask } from './modeling-utils.js';
import { PreTrainedModel } from './pretrained.js';

/** Keeps HF's `LayerNorm` property name as its state key (the default would be `layer_norm`). */
class HFModule extends Module {
  protected override stateKey(prop: string): string {
    return prop === 'LayerNorm' ? 'LayerNorm' : super.stateKey(prop);
  }
}

/**
 * Word + position + token-type embeddings, LayerNorm and dropout (HF's `BertEmbeddings`).
 *
 * @example
 * ```ts
 * const h = model.bert.embeddings.forward(inputIds); // [B, T, hidden]
 * ```
 */
export class BertEmbeddings extends HFModule {
  wordEmbeddings: Embedding;
  positionEmbeddings: Embedding;
  tokenTypeEmbeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.wordEmbeddings = new Embedding(s.vocabSize, s.hidden, s.pad === null ? {} : { paddingIdx: s.pad });
    this.positionEmbeddings = new Embedding(s.maxPositions, s.hidden);
    this.tokenTypeEmbeddings = new Embedding(s.typeVocab, s.hidden);
    this.LayerNorm = new LayerNorm(s.hidden, { eps: s.eps });
    this.dropout = new Dropout(s.hiddenDropout);
  }

  /**
   * Embeds `inputIds [B, T]` (int32); token types default to zeros, positions to `0..T-1`.
   *
   * @example
   * ```ts
   * embeddings.forward(ids, { tokenTypeIds });
   * ```
   */
  forward(inputIds: Tensor, options: { tokenTypeIds?: Tensor; positionIds?: Tensor } = {}): Tensor {
    const op = 'BertModel';
    const [B, T] = inputIds.shape;
    const words = embedTokens(op, this.wordEmbeddings, inputIds);
    return tidy(() => {
      const maxPos = this.positionEmbeddings.numEmbeddings;
      if (!options.positionIds && T > maxPos) {
        throw new HeedError(op, `inputIds has ${T} tokens but max_position_embeddings is ${maxPos}; truncate the input.`);
      }
      for (const [name, t] of [['tokenTypeIds', options.tokenTypeIds], ['positionIds', options.positionIds]] as const) {
        if (t && (t.dtype !== 'int32' || t.rank !== 2 || t.shape[1] !== T || (t.shape[0] !== B && t.shape[0] !== 1))) {
          throw new HeedError(op, `${name} must be int32 ${fmtShape([B, T])} like inputIds, got ${t.dtype} ${fmtShape(t.shape)}.`);
        }
      }
      const types = options.tokenTypeIds ?? zeros([1, T], { dtype: 'int32', backend: inputIds.backend.name });
      const positions = options.positionIds ?? arange(T, undefined, 1, { dtype: 'int32', backend: inputIds.backend.name }).reshape([1, T]);
      const x = words.add(embedTokens(op, this.tokenTypeEmbeddings, types, 'tokenTypeIds', 'type_vocab_size'))
        .add(embedTokens(op, this.positionEmbeddings, positions, 'positionIds', 'max_position_embeddings'));
      words.dispose();
      return this.dropout.forward(this.LayerNorm.forward(x));
    });
  }
}

/**
 * Multi-head self-attention projections (HF's `BertSelfAttention`: `query`, `key`, `value`).
 *
 * @example
 * ```ts
 * layer.attention.self.forward(h, keyMask);
 * ```
 */
export class BertSelfAttention extends HFModule {
  query: Linear;
  key: Linear;
  value: Linear;
  dropout: Dropout;
  /** Heads. */
  readonly numHeads: number;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.numHeads = s.heads;
    this.query = new Linear(s.hidden, s.hidden);
    this.key = new Linear(s.hidden, s.hidden);
    this.value = new Linear(s.hidden, s.hidden);
    this.dropout = new Dropout(s.attnDropout);
  }

  /**
   * Attention of `h [B, T, hidden]` over itself; `keyMask` is a bool `[B, 1, 1, T]` or null.
   *
   * @example
   * ```ts
   * self.forward(h, null); // [B, T, hidden]
   * ```
   */
  forward(h: Tensor, keyMask: Tensor | null): Tensor {
    return tidy(() => {
      const [B, T, E] = h.shape;
      const H = this.numHeads;
      const split = (x: Tensor) => x.reshape([B, T, H, E / H]).transpose(1, 2);
      const out = scaledDotProductAttention(split(this.query.forward(h)), split(this.key.forward(h)), split(this.value.forward(h)), {
        attnMask: keyMask, dropoutP: this.training ? this.dropout.p : 0, training: this.training, generator: this.dropout.generator,
      });
      return out.transpose(1, 2).reshape([B, T, E]);
    });
  }
}

/**
 * `LayerNorm(dropout(dense(x)) + residual)` (HF's `BertSelfOutput` and `BertOutput`).
 *
 * @example
 * ```ts
 * layer.output.forward(inner, residual);
 * ```
 */
export class BertResidualOutput extends HFModule {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  /** @internal */
  constructor(s: BertSettings, inFeatures: number) {
    super();
    this.dense = new Linear(inFeatures, s.hidden);
    this.LayerNorm = new LayerNorm(s.hidden, { eps: s.eps });
    this.dropout = new Dropout(s.hiddenDropout);
  }

  /**
   * Projects `x`, adds `residual` and normalises.
   *
   * @example
   * ```ts
   * out.forward(x, residual);
   * ```
   */
  forward(x: Tensor, residual: Tensor): Tensor {
    return tidy(() => this.LayerNorm.forward(this.dropout.forward(this.dense.forward(x)).add(residual)));
  }
}

/**
 * Self-attention + its output block (HF's `BertAttention`: `self`, `output`).
 *
 * @example
 * ```ts
 * layer.attention.forward(h, keyMask);
 * ```
 */
export class BertAttention extends HFModule {
  self: BertSelfAttention;
  output: BertResidualOutput;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.self = new BertSelfAttention(s);
    this.output = new BertResidualOutput(s, s.hidden);
  }

  /**
   * Attention and the residual LayerNorm.
   *
   * @example
   * ```ts
   * attention.forward(h, null);
   * ```
   */
  forward(h: Tensor, keyMask: Tensor | null): Tensor {
    return tidy(() => this.output.forward(this.self.forward(h, keyMask), h));
  }
}

/**
 * A module holding one `dense` Linear (HF's `BertIntermediate`, `BertPooler`): its state keys
 * are `dense.weight`, `dense.bias`.
 *
 * @example
 * ```ts
 * new DenseBlock(32, 64).dense.forward(x);
 * ```
 */
export class DenseBlock extends Module {
  dense: Linear;

  constructor(inFeatures: number, outFeatures: number) {
    super();
    this.dense = new Linear(inFeatures, outFeatures);
  }
}

/**
 * The layer stack (HF's `BertEncoder`: keys `layer.N...`).
 *
 * @example
 * ```ts
 * for (const layer of model.bert.encoder.layer) console.log(String(layer));
 * ```
 */
export class BertEncoder extends Module {
  layer: ModuleList<BertLayer>;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.layer = new ModuleList(Array.from({ length: s.layers }, () => new BertLayer(s)));
  }
}

/**
 * One encoder layer (HF's `BertLayer`: `attention`, `intermediate.dense` + activation, `output`).
 *
 * @example
 * ```ts
 * model.bert.encoder.layer.at(0).forward(h, keyMask);
 * ```
 */
export class BertLayer extends HFModule {
  attention: BertAttention;
  intermediate: DenseBlock;
  output: BertResidualOutput;
  private readonly act: (x: Tensor) => Tensor;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.attention = new BertAttention(s);
    this.intermediate = new DenseBlock(s.hidden, s.intermediate);
    this.output = new BertResidualOutput(s, s.intermediate);
    this.act = hfActivation(s.act);
  }

  /**
   * The layer on `h [B, T, hidden]`.
   *
   * @example
   * ```ts
   * layer.forward(h, keyMask);
   * ```
   */
  forward(h: Tensor, keyMask: Tensor | null): Tensor {
    return tidy(() => {
      const a = this.attention.forward(h, keyMask);
      return this.output.forward(this.act(this.intermediate.dense.forward(a)), a);
    });
  }
}

/**
 * The output of {@link BertModel.forward}.
 *
 * @example
 * ```ts
 * const { lastHiddenState, poolerOutput }: BertModelOutput = model.bert.forward(ids);
 * ```
 */
export interface BertModelOutput {
  /** `[B, T, hidden]`. */
  lastHiddenState: Tensor;
  /** `tanh(dense(h[:, 0]))` `[B, hidden]`, when the model has a pooler. */
  poolerOutput?: Tensor;
}

/**
 * Inputs of the BERT forward passes besides `inputIds` (HF's names, camelCase).
 *
 * @example
 * ```ts
 * const o: BertForwardOptions = { attentionMask, tokenTypeIds };
 * ```
 */
export interface BertForwardOptions {
  /** `[B, T]` with 1 for tokens and 0 for padding (int32, bool or float). */
  attentionMask?: Tensor;
  /** int32 `[B, T]` segment ids (default zeros). */
  tokenTypeIds?: Tensor;
  /** int32 `[B, T]` or `[1, T]` positions (default `0..T-1`). */
  positionIds?: Tensor;
}

/**
 * The BERT encoder (HF's `BertModel`: `embeddings`, `encoder.layer.N`, optional `pooler.dense`).
 *
 * @example
 * ```ts
 * const bert = new BertModel({ model_type: 'bert', vocab_size: 100, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64 });
 * const { lastHiddenState } = bert.forward(tensor([[2, 5, 3]], { dtype: 'int32' }));
 * ```
 */
export class BertModel extends PreTrainedModel<BertConfig> {
  /** HF `model_type`. */
  static readonly modelType = 'bert';
  /** HF class name. */
  static readonly architecture = 'BertModel';
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: DenseBlock | null;

  constructor(config: BertConfig, options: { addPoolingLayer?: boolean; generator?: Generator } = {}) {
    super(config);
    const s = bertSettings(config, 'BertModel');
    this.embeddings = new BertEmbeddings(s);
    this.encoder = new BertEncoder(s);
    this.pooler = (options.addPoolingLayer ?? true) ? new DenseBlock(s.hidden, s.hidden) : null;
    initHFWeights(this, s.initStd, options.generator);
  }

  /**
   * A model with random weights (HF's init) for `config`.
   *
   * @example `const bert = BertModel.fromConfig(config);`
   */
  static fromConfig(config: PretrainedConfig): BertModel {
    return new BertModel(config as BertConfig);
  }

  /** HF class name. */
  get architecture(): string {
    return 'BertModel';
  }

  /** HF's `base_model_prefix`: a head checkpoint's `bert.*` keys load into this model. */
  override get baseModelPrefix(): string {
    return 'bert';
  }

  /**
   * Checkpoint keys HF ignores ({@link BERT_IGNORED_KEYS}).
   *
   * @example `bert.ignoredCheckpointKeys().length; // 1`
   */
  override ignoredCheckpointKeys(): RegExp[] {
    return [...BERT_IGNORED_KEYS];
  }

  /**
   * Runs the encoder on int32 `inputIds [B, T]`.
   *
   * @example
   * ```ts
   * const { lastHiddenState, poolerOutput } = bert.forward(ids, { attentionMask });
   * ```
   */
  forward(inputIds: Tensor, options: BertForwardOptions = {}): BertModelOutput {
    return tidy(() => {
      const [B, T] = inputIds.shape;
      let h = this.embeddings.forward(inputIds, options);
      const keyMask = keyPaddingMask('BertModel', options.attentionMask, B, T);
      for (const layer of this.encoder.layer) h = layer.forward(h, keyMask);
      const out: BertModelOutput = { lastHiddenState: h };
      if (this.pooler) out.poolerOutput = this.pooler.dense.forward(h.narrow(1, 0, 1).reshape([B, h.shape[2]])).tanh();
      return out;
    });
  }
}

