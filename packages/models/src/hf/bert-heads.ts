// SPDX-License-Identifier: MIT
// The task heads on Hugging Face BERT: BertForSequenceClassification (pooler -> dropout ->
// `classifier`, HF's three `problem_type` losses) and BertForMaskedLM (`cls.predictions`:
// transform dense + activation + LayerNorm, then the decoder tied to the word embeddings plus
// `cls.predictions.bias`; cross-entropy over labels with -100 ignored).
// Invariants: stateDict() keys equal HF's state_dict() keys (tied keys included, as in PyTorch);
// a forward with labels returns `{ loss, logits }`, without `{ logits }`; nothing leaks.
import { HeedError, fmtShape, tidy, zeros, type Generator, type Tensor } from '@heed/core';
import { Dropout, LayerNorm, Linear, Module, binaryCrossEntropyWithLogits, crossEntropy, mseLoss, parameter } from '@heed/nn';
import { loadConfig, type PretrainedConfig } from './config.js';
import { PreTrainedModel } from './pretrained.js';
import { openSource, type PretrainedSource } from './source.js';
import { loadWeights } from './weights.js';
import { BertModel, type BertForwardOptions } from './bert.js';
import {
  BERT_IGNORED_KEYS, bertSettings, defaultLabels, numLabelsOf, type BertConfig, type BertProblemType, type BertSettings,
  type FromPretrainedEncoderOptions,
} from './bert-config.js';
import { hfActivation, initHFWeights } from './modeling-utils.js';
import { tieToEmbedding } from './causal-lm.js';

/**
 * Output of the BERT heads (HF's `SequenceClassifierOutput` / `MaskedLMOutput`).
 *
 * @example
 * ```ts
 * const { loss, logits }: BertHeadOutput = model.forward(ids, { attentionMask, labels });
 * ```
 */
export interface BertHeadOutput {
  /** The loss, when `labels` were given. */
  loss?: Tensor;
  /** `[B, numLabels]` (classification) or `[B, T, vocab]` (masked LM). */
  logits: Tensor;
}

/**
 * Forward options of the heads: the encoder inputs plus optional `labels`.
 *
 * @example
 * ```ts
 * const o: BertHeadForwardOptions = { attentionMask, labels: tensor([1, 0], { dtype: 'int32' }) };
 * ```
 */
export interface BertHeadForwardOptions extends BertForwardOptions {
  /**
   * Classification: int32 `[B]` class ids (single label), float32 `[B, numLabels]` (multi-label
   * 0/1 targets, or regression values). Masked LM: int32 `[B, T]` token ids, -100 = ignored.
   */
  labels?: Tensor;
}

/**
 * BERT with a classification/regression head on the pooled `[CLS]` output (HF's
 * `BertForSequenceClassification`; keys `bert.*`, `classifier.weight`, `classifier.bias`).
 *
 * @example
 * ```ts
 * const model = new BertForSequenceClassification({ model_type: 'bert', vocab_size: 100, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, num_labels: 2 });
 * const { loss, logits } = model.forward(ids, { attentionMask, labels: tensor([1], { dtype: 'int32' }) });
 * ```
 */
export class BertForSequenceClassification extends PreTrainedModel<BertConfig> {
  /** HF `model_type`. */
  static readonly modelType = 'bert';
  /** HF class name. */
  static readonly architecture = 'BertForSequenceClassification';
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;
  /** Output size of the classifier. */
  readonly numLabels: number;

  /** `config.problem_type` is set by the first forward with labels when it is null, as in HF. */
  constructor(config: BertConfig, options: { generator?: Generator } = {}) {
    super(config);
    const s = bertSettings(config, 'BertForSequenceClassification');
    this.numLabels = numLabelsOf(config);
    this.bert = new BertModel(config, { generator: options.generator });
    const p = config.classifier_dropout;
    this.dropout = new Dropout(typeof p === 'number' ? p : s.hiddenDropout);
    this.classifier = new Linear(s.hidden, this.numLabels);
    initHFWeights(this.classifier, s.initStd, options.generator);
  }

  /**
   * A model with random weights (HF's init) for `config`.
   *
   * @example `const model = BertForSequenceClassification.fromConfig({ ...config, num_labels: 2 });`
   */
  static fromConfig(config: PretrainedConfig): BertForSequenceClassification {
    return new BertForSequenceClassification(config as BertConfig);
  }

  /** HF class name. */
  get architecture(): string {
    return 'BertForSequenceClassification';
  }

  /** HF's `base_model_prefix`: a `BertModel` checkpoint loads into `bert` (the head stays random). */
  override get baseModelPrefix(): string {
    return 'bert';
  }

  /**
   * Checkpoint keys HF ignores (BertEmbeddings' `position_ids` buffer of old checkpoints).
   *
   * @example `model.ignoredCheckpointKeys()[0].test('bert.embeddings.position_ids'); // true`
   */
  override ignoredCheckpointKeys(): RegExp[] {
    return [...BERT_IGNORED_KEYS];
  }

  /**
   * The config savePretrained writes: with `id2label`/`label2id` of the classifier's size (HF
   * keeps them in step with `num_labels`).
   *
   * @example `model.configToSave().id2label; // { '0': 'LABEL_0', '1': 'LABEL_1' }`
   */
  override configToSave(): PretrainedConfig {
    const config = super.configToSave();
    const id2label = config.id2label;
    const size = id2label && typeof id2label === 'object' && !Array.isArray(id2label) ? Object.keys(id2label).length : -1;
    if (size !== this.numLabels) Object.assign(config, defaultLabels(this.numLabels));
    delete config.num_labels;
    return config;
  }

  /**
   * A classifier on the encoder of any BERT checkpoint (HF's `from_pretrained(dir, num_labels=N,
   * ignore_mismatched_sizes=True)` for fine-tuning): the `bert.*` weights of a head checkpoint
   * (BertForPreTraining, BertForMaskedLM, another classifier) or all weights of a BertModel
   * checkpoint load strictly into `bert`; the classifier is new (HF's init), and so is the pooler
   * when the checkpoint has none (as HF does). Other heads' keys are ignored.
   *
   * @example
   * ```ts
   * const model = await BertForSequenceClassification.fromPretrainedEncoder('./checkpoints/bert-base-uncased', { numLabels: 2 });
   * ```
   */
  static async fromPretrainedEncoder(source: PretrainedSource, options: FromPretrainedEncoderOptions = {}): Promise<BertForSequenceClassification> {
    const op = 'BertForSequenceClassification.fromPretrainedEncoder';
    const src = openSource(source, op);
    const config = await loadConfig(src, op) as BertConfig;
    if (config.model_type !== 'bert') throw new HeedError(op, `'${src.location}' holds a "${config.model_type}" model, not "bert".`);
    const cfg: BertConfig = { ...config, architectures: ['BertForSequenceClassification'] };
    const n = options.id2label ? Object.keys(options.id2label).length : options.numLabels;
    if (n !== undefined) {
      delete cfg.num_labels;
      Object.assign(cfg, defaultLabels(n));
      if (options.id2label) {
        cfg.id2label = { ...options.id2label };
        cfg.label2id = Object.fromEntries(Object.entries(options.id2label).map(([id, name]) => [name, Number(id)]));
      }
    }
    if (options.problemType) cfg.problem_type = options.problemType;
    const weights = await loadWeights(src, {}, op);
    let model: BertForSequenceClassification | undefined;
    try {
      model = new BertForSequenceClassification(cfg);
      const prefixed = [...weights.keys()].some((k) => k.startsWith('bert.'));
      const encoder = new Map<string, Tensor>();
      for (const [k, t] of weights) {
        if (prefixed ? !k.startsWith('bert.') : false) continue;
        const key = prefixed ? k.slice('bert.'.length) : k;
        if (!BERT_IGNORED_KEYS.some((r) => r.test(key))) encoder.set(key, t);
      }
      const own = model.bert.stateDict();
      const hasPooler = [...encoder.keys()].some((k) => k.startsWith('pooler.'));
      const missing = [...own.keys()].filter((k) => !encoder.has(k) && (hasPooler || !k.startsWith('pooler.')));
      const unexpected = [...encoder.keys()].filter((k) => !own.has(k));
      if (missing.length > 0 || unexpected.length > 0) {
        throw new HeedError(op, `the encoder weights do not match the config: missing keys ${missing.join(', ') || 'none'}; ` +
          `unexpected keys ${unexpected.join(', ') || 'none'}. Check that config.json describes these weights.`);
      }
      model.bert.loadStateDict(encoder, { strict: false });
    } catch (e) {
      model?.dispose();
      throw e;
    } finally {
      for (const t of weights.values()) t.dispose();
    }
    model.eval();
    if (options.backend !== undefined && options.backend !== model.parameters()[0]?.backend.name) await model.toAsync(options.backend);
    return model;
  }

  /**
   * Logits `[B, numLabels]` for int32 `inputIds [B, T]`, and HF's loss when `labels` are given.
   *
   * @example
   * ```ts
   * const { logits } = model.forward(ids, { attentionMask });
   * ```
   */
  forward(inputIds: Tensor, options: BertHeadForwardOptions = {}): BertHeadOutput {
    return tidy(() => {
      const { poolerOutput } = this.bert.forward(inputIds, options);
      const logits = this.classifier.forward(this.dropout.forward(poolerOutput as Tensor));
      return options.labels ? { loss: this.loss(logits, options.labels), logits } : { logits };
    });
  }

  private loss(logits: Tensor, labels: Tensor): Tensor {
    const op = 'BertForSequenceClassification';
    const [B, C] = logits.shape;
    const kind: BertProblemType = this.config.problem_type
      ?? (C === 1 ? 'regression' : labels.dtype === 'int32' ? 'single_label_classification' : 'multi_label_classification');
    this.config.problem_type = kind;
    if (kind === 'single_label_classification') {
      if (labels.dtype !== 'int32' || labels.size !== B) {
        throw new HeedError(op, `single_label_classification labels must be int32 [${B}] class ids, got ${labels.dtype} ${fmtShape(labels.shape)}.`);
      }
      return crossEntropy(logits.reshape([B, C]), labels.reshape([B]));
    }
    if (labels.dtype !== 'float32' || labels.size !== B * C) {
      throw new HeedError(op, `${kind} labels must be float32 [${B}, ${C}], got ${labels.dtype} ${fmtShape(labels.shape)}.`);
    }
    if (kind === 'regression') return C === 1 ? mseLoss(logits.reshape([B]), labels.reshape([B])) : mseLoss(logits, labels.reshape([B, C]));
    return binaryCrossEntropyWithLogits(logits, labels.reshape([B, C]));
  }
}

/**
 * `dense` -> activation -> `LayerNorm` before the MLM decoder (HF's `BertPredictionHeadTransform`).
 *
 * @example
 * ```ts
 * model.cls.predictions.transform.forward(h);
 * ```
 */
export class BertPredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.dense = new Linear(s.hidden, s.hidden);
    this.LayerNorm = new LayerNorm(s.hidden, { eps: s.eps });
    this.act = hfActivation(s.act);
  }

  protected override stateKey(prop: string): string {
    return prop === 'LayerNorm' ? 'LayerNorm' : super.stateKey(prop);
  }

  /**
   * Transforms `h [..., hidden]`.
   *
   * @example
   * ```ts
   * transform.forward(h);
   * ```
   */
  forward(h: Tensor): Tensor {
    return tidy(() => this.LayerNorm.forward(this.act(this.dense.forward(h))));
  }
}

/**
 * The MLM prediction head (HF's `BertLMPredictionHead`: `bias`, `transform`, `decoder`); the
 * decoder's bias is `bias` itself.
 *
 * @example
 * ```ts
 * model.cls.predictions.forward(h); // [B, T, vocab]
 * ```
 */
export class BertLMPredictionHead extends Module {
  bias: Tensor;
  transform: BertPredictionHeadTransform;
  decoder: Linear;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.bias = parameter(zeros([s.vocabSize]));
    this.transform = new BertPredictionHeadTransform(s);
    this.decoder = new Linear(s.hidden, s.vocabSize);
    this.decoder.bias?.dispose();
    this.decoder.bias = this.bias;
  }

  /**
   * Vocabulary logits of `h [..., hidden]`.
   *
   * @example
   * ```ts
   * predictions.forward(h);
   * ```
   */
  forward(h: Tensor): Tensor {
    return tidy(() => this.decoder.forward(this.transform.forward(h)));
  }
}

/**
 * Holder of `predictions` (HF's `BertOnlyMLMHead`, the `cls` of BertForMaskedLM).
 *
 * @example
 * ```ts
 * model.cls.predictions.decoder.weight === model.bert.embeddings.wordEmbeddings.weight; // true (tied)
 * ```
 */
export class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;

  /** @internal */
  constructor(s: BertSettings) {
    super();
    this.predictions = new BertLMPredictionHead(s);
  }
}

/**
 * BERT with the masked-language-model head (HF's `BertForMaskedLM`; no pooler; the decoder
 * weight is tied to `bert.embeddings.word_embeddings.weight` unless `tie_word_embeddings` is false).
 *
 * @example
 * ```ts
 * const model = new BertForMaskedLM({ model_type: 'bert', vocab_size: 100, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64 });
 * const { logits } = model.forward(ids); // [B, T, 100]
 * ```
 */
export class BertForMaskedLM extends PreTrainedModel<BertConfig> {
  /** HF `model_type`. */
  static readonly modelType = 'bert';
  /** HF class name. */
  static readonly architecture = 'BertForMaskedLM';
  bert: BertModel;
  cls: BertOnlyMLMHead;

  constructor(config: BertConfig, options: { generator?: Generator } = {}) {
    super(config);
    const s = bertSettings(config, 'BertForMaskedLM');
    this.bert = new BertModel(config, { addPoolingLayer: false, generator: options.generator });
    this.cls = new BertOnlyMLMHead(s);
    initHFWeights(this.cls, s.initStd, options.generator);
    if (config.tie_word_embeddings !== false) tieToEmbedding(this.cls.predictions.decoder, this.bert.embeddings.wordEmbeddings);
  }

  /**
   * A model with random weights (HF's init) for `config`.
   *
   * @example `const model = BertForMaskedLM.fromConfig(config);`
   */
  static fromConfig(config: PretrainedConfig): BertForMaskedLM {
    return new BertForMaskedLM(config as BertConfig);
  }

  /** HF class name. */
  get architecture(): string {
    return 'BertForMaskedLM';
  }

  /** HF's `base_model_prefix`. */
  override get baseModelPrefix(): string {
    return 'bert';
  }

  /**
   * Checkpoint keys HF ignores (BertEmbeddings' `position_ids` buffer of old checkpoints).
   *
   * @example `model.ignoredCheckpointKeys()[0].test('bert.embeddings.position_ids'); // true`
   */
  override ignoredCheckpointKeys(): RegExp[] {
    return [...BERT_IGNORED_KEYS];
  }

  /**
   * HF's tied weights: the decoder weight is the word embedding (unless `tie_word_embeddings`
   * is false) and the decoder bias is `cls.predictions.bias`; neither alias is saved.
   *
   * @example `model.tiedWeightKeys()['cls.predictions.decoder.bias']; // 'cls.predictions.bias'`
   */
  override tiedWeightKeys(): Record<string, string> {
    const out: Record<string, string> = { 'cls.predictions.decoder.bias': 'cls.predictions.bias' };
    if (this.config.tie_word_embeddings !== false) out['cls.predictions.decoder.weight'] = 'bert.embeddings.word_embeddings.weight';
    return out;
  }

  /**
   * Logits `[B, T, vocab]`, and the token cross-entropy over `labels` (-100 ignored) when given.
   *
   * @example
   * ```ts
   * const { loss, logits } = model.forward(ids, { attentionMask, labels });
   * ```
   */
  forward(inputIds: Tensor, options: BertHeadForwardOptions = {}): BertHeadOutput {
    return tidy(() => {
      const { lastHiddenState } = this.bert.forward(inputIds, options);
      const logits = this.cls.predictions.forward(lastHiddenState);
      const labels = options.labels;
      if (!labels) return { logits };
      const [B, T, V] = logits.shape;
      if (labels.dtype !== 'int32' || labels.rank !== 2 || labels.shape[0] !== B || labels.shape[1] !== T) {
        throw new HeedError('BertForMaskedLM', `labels must be int32 [${B}, ${T}] token ids (-100 = ignored), got ${labels.dtype} ${fmtShape(labels.shape)}.`);
      }
      return { loss: crossEntropy(logits.reshape([B * T, V]), labels.reshape([B * T])), logits };
    });
  }
}
