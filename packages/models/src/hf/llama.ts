// SPDX-License-Identifier: MIT
// Llama with Hugging Face's module tree, key names and forward semantics (transformers'
// modeling_llama.py): `LlamaModel` (embed_tokens, pre-RMSNorm decoder layers with grouped-query
// attention, RoPE in HF's rotate_half layout and a SwiGLU MLP, final norm) and
// `LlamaForCausalLM` (+ lm_head, tied only when `tie_word_embeddings`).
// Invariants: stateDict keys are exactly HF's (`model.layers.0.self_attn.q_proj.weight`, ...;
// the RoPE tables are non-persistent, like HF's inv_freq); the cache holds keys after RoPE with
// num_key_value_heads heads; forward leaves no temporaries.
import { HeedError, scaledDotProductAttention, tidy, type Tensor } from '@heed/core';
import { Embedding, Linear, Module, ModuleList, RMSNorm, RotaryEmbedding } from '@heed/nn';
import {
  appendKeyValue, causalPaddingMask, checkCausalInputs,
  type CausalLM, type CausalLMForwardOptions, type CausalLMOutput, type LayerKeyValue, type PastKeyValues,
} from './cache.js';
import type { PretrainedConfig } from './config.js';
import { embedTokens, hfActivation } from './modeling-utils.js';
import { llamaSettings, type LlamaConfig, type LlamaSettings } from './llama-config.js';
import { generate, type HFGenerateOptions } from './generate.js';
import { PreTrainedModel } from './pretrained.js';
import { causalLMForward, lmHead } from './causal-lm.js';

export type { LlamaConfig } from './llama-config.js';

/**
 * Grouped-query self-attention with RoPE (HF's `LlamaAttention`): `q_proj` (heads), `k_proj`
 * and `v_proj` (key/value heads), `o_proj`.
 *
 * @example `const { output, cache } = layer.selfAttn.forward(h, valid, rope, positions, undefined);`
 */
export class LlamaAttention extends Module {
  /** `q_proj`: `[heads * head_dim, hidden]`. */
  qProj: Linear;
  /** `k_proj`: `[kv_heads * head_dim, hidden]`. */
  kProj: Linear;
  /** `v_proj`: `[kv_heads * head_dim, hidden]`. */
  vProj: Linear;
  /** `o_proj`: `[hidden, heads * head_dim]`. */
  oProj: Linear;
  private readonly s: LlamaSettings;
  private readonly dropoutP: number;

  /** @internal */
  constructor(s: LlamaSettings) {
    super();
    this.s = s;
    this.qProj = new Linear(s.hidden, s.heads * s.headDim, { bias: s.attnBias });
    this.kProj = new Linear(s.hidden, s.kvHeads * s.headDim, { bias: s.attnBias });
    this.vProj = new Linear(s.hidden, s.kvHeads * s.headDim, { bias: s.attnBias });
    this.oProj = new Linear(s.heads * s.headDim, s.hidden, { bias: s.attnBias });
    this.dropoutP = s.attnDrop;
  }

  /**
   * Attends `x [B, T, hidden]`; `rotate` applies RoPE at the right positions.
   *
   * @example `attn.forward(x, valid, (t) => rope.rotate(t, { offset: 0 }), undefined);`
   */
  forward(x: Tensor, valid: Tensor, rotate: (t: Tensor) => Tensor, past: LayerKeyValue | undefined): { output: Tensor; cache: LayerKeyValue } {
    const { heads, kvHeads, headDim } = this.s;
    return tidy(() => {
      const [B, T] = x.shape;
      const q = rotate(this.qProj.forward(x).reshape([B, T, heads, headDim]).transpose(1, 2));
      const k = rotate(this.kProj.forward(x).reshape([B, T, kvHeads, headDim]).transpose(1, 2));
      const v = this.vProj.forward(x).reshape([B, T, kvHeads, headDim]).transpose(1, 2);
      const cache = appendKeyValue(past, k, v);
      const S = cache.key.shape[2];
      // HF's repeat_kv: each key/value head serves heads / kvHeads query heads.
      const repeat = (t: Tensor) => (heads === kvHeads ? t
        : t.reshape([B, kvHeads, 1, S, headDim]).expand([B, kvHeads, heads / kvHeads, S, headDim]).reshape([B, heads, S, headDim]));
      const out = scaledDotProductAttention(q, repeat(cache.key), repeat(cache.value), {
        attnMask: valid, scale: 1 / Math.sqrt(headDim), dropoutP: this.dropoutP, training: this.training,
      });
      return { output: this.oProj.forward(out.transpose(1, 2).reshape([B, T, heads * headDim])), cache };
    });
  }
}

/**
 * The SwiGLU MLP (HF's `LlamaMLP`): `down_proj(act(gate_proj(x)) * up_proj(x))`.
 *
 * @example `layer.mlp.forward(h);`
 */
export class LlamaMLP extends Module {
  /** `gate_proj` (through the activation). */
  gateProj: Linear;
  /** `up_proj`. */
  upProj: Linear;
  /** `down_proj`. */
  downProj: Linear;
  private readonly act: (x: Tensor) => Tensor;

  /** @internal */
  constructor(s: LlamaSettings) {
    super();
    this.gateProj = new Linear(s.hidden, s.inner, { bias: s.mlpBias });
    this.upProj = new Linear(s.hidden, s.inner, { bias: s.mlpBias });
    this.downProj = new Linear(s.inner, s.hidden, { bias: s.mlpBias });
    this.act = hfActivation(s.act);
  }

  /**
   * `[B, T, hidden]` -> `[B, T, hidden]`.
   *
   * @example `mlp.forward(h);`
   */
  forward(x: Tensor): Tensor {
    return tidy(() => this.downProj.forward(this.act(this.gateProj.forward(x)).mul(this.upProj.forward(x))));
  }
}

/**
 * One decoder layer (HF's `LlamaDecoderLayer`): `input_layernorm`, `self_attn`,
 * `post_attention_layernorm`, `mlp`, with residuals.
 *
 * @example `model.model.layers.at(0).forward(x, valid, rotate, undefined);`
 */
export class LlamaDecoderLayer extends Module {
  /** Grouped-query self-attention. */
  selfAttn: LlamaAttention;
  /** The SwiGLU MLP. */
  mlp: LlamaMLP;
  /** RMSNorm before attention. */
  inputLayernorm: RMSNorm;
  /** RMSNorm before the MLP. */
  postAttentionLayernorm: RMSNorm;

  /** @internal */
  constructor(s: LlamaSettings) {
    super();
    this.selfAttn = new LlamaAttention(s);
    this.mlp = new LlamaMLP(s);
    this.inputLayernorm = new RMSNorm(s.hidden, { eps: s.eps });
    this.postAttentionLayernorm = new RMSNorm(s.hidden, { eps: s.eps });
  }

  /**
   * `x [B, T, hidden]` through the layer.
   *
   * @example `layer.forward(x, valid, rotate, past?.layers[0]);`
   */
  forward(x: Tensor, valid: Tensor, rotate: (t: Tensor) => Tensor, past: LayerKeyValue | undefined): { hidden: Tensor; cache: LayerKeyValue } {
    return tidy(() => {
      const { output, cache } = this.selfAttn.forward(this.inputLayernorm.forward(x), valid, rotate, past);
      const h = x.add(output);
      return { hidden: h.add(this.mlp.forward(this.postAttentionLayernorm.forward(h))), cache };
    });
  }
}

/**
 * What {@link LlamaModel.forward} returns.
 *
 * @example `const { lastHiddenState } = model.forward(ids);`
 */
export interface LlamaModelOutput {
  /** `[B, T, hidden]` after the final norm. */
  lastHiddenState: Tensor;
  /** The cache when `useCache` was set. */
  pastKeyValues?: PastKeyValues;
}

/**
 * The Llama decoder without a head (HF's `LlamaModel`): keys `embed_tokens`, `layers.N.*`, `norm`.
 *
 * @example
 * ```ts
 * const base = await LlamaModel.fromPretrained('./checkpoints/llama');
 * base.forward(ids).lastHiddenState.shape; // [B, T, hidden]
 * ```
 */
export class LlamaModel extends PreTrainedModel<LlamaConfig> {
  /** HF's `model_type`. */
  static readonly modelType = 'llama';
  /** HF's class name. */
  static readonly architecture = 'LlamaModel';
  /** Token embeddings `[vocab_size, hidden]` (padding row: `pad_token_id`). */
  embedTokens: Embedding;
  /** The decoder layers (`layers.0`, ...). */
  layers: ModuleList<LlamaDecoderLayer>;
  /** The final RMSNorm. */
  norm: RMSNorm;
  /** RoPE tables (`rope_theta`, head_dim; non-persistent, like HF's inv_freq). */
  rotaryEmb: RotaryEmbedding;
  /** @internal */
  readonly settings: LlamaSettings;

  constructor(config: LlamaConfig) {
    super(config);
    const s = llamaSettings(config, 'LlamaModel');
    this.settings = s;
    this.embedTokens = new Embedding(s.vocab, s.hidden, s.pad === null ? {} : { paddingIdx: s.pad });
    this.layers = new ModuleList(Array.from({ length: s.layers }, () => new LlamaDecoderLayer(s)));
    this.norm = new RMSNorm(s.hidden, { eps: s.eps });
    this.rotaryEmb = new RotaryEmbedding(s.headDim, { base: s.ropeTheta, maxLen: s.positions, style: 'half' });
  }

  /** HF's class name. */
  get architecture(): string {
    return LlamaModel.architecture;
  }

  override get baseModelPrefix(): string {
    return 'model';
  }

  override ignoredCheckpointKeys(): RegExp[] {
    return [/(^|\.)rotary_emb\.inv_freq$/]; // written by old transformers versions
  }

  /**
   * A Llama with random weights for `config`.
   *
   * @example `const m = LlamaModel.fromConfig({ model_type: 'llama', num_hidden_layers: 2 });`
   */
  static fromConfig(config: PretrainedConfig): LlamaModel {
    return new LlamaModel(config as LlamaConfig);
  }

  /**
   * Runs the decoder on int32 ids `[B, T]` (HF's `LlamaModel.forward`).
   *
   * @example `const { lastHiddenState } = base.forward(ids, { attentionMask });`
   */
  forward(inputIds: Tensor, options: CausalLMForwardOptions = {}): LlamaModelOutput {
    const op = this.architecture;
    const { length, past } = checkCausalInputs(op, inputIds, options, this.layers.length);
    if (options.positionIds === undefined && past + length > this.settings.positions) {
      throw new HeedError(op, `positions ${past}..${past + length - 1} exceed max_position_embeddings ${this.settings.positions}.`);
    }
    const backend = this.embedTokens.weight.backend.name;
    const positions = options.positionIds;
    const rotate = (t: Tensor) => (positions === undefined ? this.rotaryEmb.rotate(t, { offset: past }) : this.rotaryEmb.rotate(t, { positions }));
    return tidy(() => {
      let x = embedTokens(op, this.embedTokens, inputIds);
      const valid = causalPaddingMask(options.attentionMask, length, past, backend);
      const layers: LayerKeyValue[] = [];
      for (let i = 0; i < this.layers.length; i++) {
        const { hidden, cache } = this.layers.at(i).forward(x, valid, rotate, options.pastKeyValues?.layers[i]);
        x = hidden;
        layers.push(cache);
      }
      const out: LlamaModelOutput = { lastHiddenState: this.norm.forward(x) };
      if (options.useCache) out.pastKeyValues = { layers };
      return out;
    });
  }
}

/**
 * Llama with its language-model head (HF's `LlamaForCausalLM`): `model` (a {@link LlamaModel})
 * and `lm_head`, tied to `model.embed_tokens` only when `tie_word_embeddings` is true.
 *
 * @example
 * ```ts
 * const model = await LlamaForCausalLM.fromPretrained('./checkpoints/llama');
 * const { logits } = model.forward(ids, { attentionMask }); // [B, T, vocab]
 * ```
 */
export class LlamaForCausalLM extends PreTrainedModel<LlamaConfig> implements CausalLM {
  /** HF's `model_type`. */
  static readonly modelType = 'llama';
  /** HF's class name. */
  static readonly architecture = 'LlamaForCausalLM';
  /** The base model (HF's `base_model_prefix` 'model'). */
  model: LlamaModel;
  /** `lm_head` `[vocab_size, hidden]`, sharing embed_tokens' weight when tied. */
  lmHead: Linear;

  constructor(config: LlamaConfig) {
    super(config);
    this.model = new LlamaModel(config);
    const s = this.model.settings;
    this.lmHead = lmHead(s.hidden, s.vocab, s.tied, this.model.embedTokens);
  }

  /** HF's class name. */
  get architecture(): string {
    return LlamaForCausalLM.architecture;
  }

  override get baseModelPrefix(): string {
    return 'model';
  }

  override tiedWeightKeys(): Record<string, string> {
    return this.model.settings.tied ? { 'lm_head.weight': 'model.embed_tokens.weight' } : {};
  }

  override ignoredCheckpointKeys(): RegExp[] {
    return this.model.ignoredCheckpointKeys();
  }

  /**
   * A Llama LM with random weights for `config`.
   *
   * @example `const m = LlamaForCausalLM.fromConfig({ model_type: 'llama', num_hidden_layers: 2, hidden_size: 64 });`
   */
  static fromConfig(config: PretrainedConfig): LlamaForCausalLM {
    return new LlamaForCausalLM(config as LlamaConfig);
  }

  /**
   * Next-token logits `[B, T, vocab]` for int32 ids `[B, T]` (HF's `LlamaForCausalLM.forward`).
   *
   * @example
   * ```ts
   * const { logits, pastKeyValues } = model.forward(ids, { attentionMask, useCache: true });
   * ```
   */
  forward(inputIds: Tensor, options: CausalLMForwardOptions = {}): CausalLMOutput {
    return causalLMForward(this.model, this.lmHead, inputIds, options);
  }

  /**
   * Generates continuations of int32 `inputIds` `[B, T]` with HF `generate()` semantics: the
   * input followed by the new tokens (see {@link generate} for the options).
   *
   * @example
   * ```ts
   * const out = await model.generate(ids, { maxNewTokens: 20, attentionMask: mask }); // int32 [B, T + 20]
   * ```
   */
  generate(inputIds: Tensor, options: HFGenerateOptions = {}): Promise<Tensor> {
    return generate(this, inputIds, options);
  }
}
