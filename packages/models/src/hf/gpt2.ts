// SPDX-License-Identifier: MIT
// GPT-2 with Hugging Face's module tree, key names and forward semantics (transformers'
// modeling_gpt2.py): `GPT2Model` (wte + learned wpe, pre-LayerNorm blocks, ln_f) and
// `GPT2LMHeadModel` (+ lm_head tied to wte). GPT-2's projections are HF `Conv1D`s, whose weight
// is [in, out] (the transpose of a Linear's).
// Invariants: stateDict keys are exactly HF's (`transformer.h.0.attn.c_attn.weight`, ...);
// forward leaves no temporaries (everything but logits and the returned cache is freed);
// position ids default to past + arange, the mask hides padded keys and future positions.
import { HeedError, matmul, scaledDotProductAttention, split, tidy, zeros, type Tensor } from '@heed/core';
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, normal_, parameter } from '@heed/nn';
import {
  appendKeyValue, causalPaddingMask, checkCausalInputs, defaultPositionIds,
  type CausalLM, type CausalLMForwardOptions, type CausalLMOutput, type LayerKeyValue, type PastKeyValues,
} from './cache.js';
import type { PretrainedConfig } from './config.js';
import { gpt2Settings, type GPT2Config, type GPT2Settings } from './gpt2-config.js';
import { embedTokens, hfActivation } from './modeling-utils.js';
import { generate, type HFGenerateOptions } from './generate.js';
import { PreTrainedModel } from './pretrained.js';
import { causalLMForward, lmHead } from './causal-lm.js';

export type { GPT2Config } from './gpt2-config.js';

/**
 * HF's `Conv1D`: a linear layer whose weight is stored `[inFeatures, outFeatures]`
 * (`y = x W + b`), as in every GPT-2 checkpoint. Keys `weight`, `bias`.
 *
 * @example
 * ```ts
 * const proj = new Conv1D(768, 2304); // weight [768, 2304]
 * proj.forward(x).shape; // [..., 2304]
 * ```
 */
export class Conv1D extends Module {
  /** `[inFeatures, outFeatures]`. */
  weight: Tensor;
  /** `[outFeatures]`. */
  bias: Tensor;

  constructor(readonly inFeatures: number, readonly outFeatures: number) {
    super();
    this.weight = normal_(parameter(zeros([inFeatures, outFeatures])), 0, 0.02);
    this.bias = parameter(zeros([outFeatures]));
  }

  /**
   * `x [..., inFeatures]` -> `[..., outFeatures]`.
   *
   * @example `proj.forward(x);`
   */
  forward(x: Tensor): Tensor {
    if (x.shape.at(-1) !== this.inFeatures) throw new HeedError('Conv1D', `expects input [..., ${this.inFeatures}], got [${x.shape.join(', ')}].`);
    return tidy(() => matmul(x, this.weight).add(this.bias));
  }
}

/**
 * GPT-2 self-attention (`c_attn` q/k/v projection, `c_proj` output), HF's `GPT2Attention`.
 *
 * @example
 * ```ts
 * const { output, cache } = block.attn.forward(h, valid, undefined);
 * ```
 */
export class GPT2Attention extends Module {
  /** `c_attn`: the q, k, v projection `[n_embd, 3 * n_embd]`. */
  cAttn: Conv1D;
  /** `c_proj`: the output projection. */
  cProj: Conv1D;
  /** Dropout on the attention weights (`attn_pdrop`). */
  attnDropout: Dropout;
  /** Dropout on the output (`resid_pdrop`). */
  residDropout: Dropout;
  private readonly heads: number;
  private readonly scale: number;

  /** @internal */
  constructor(s: GPT2Settings, layerIdx: number) {
    super();
    this.cAttn = new Conv1D(s.embd, 3 * s.embd);
    this.cProj = new Conv1D(s.embd, s.embd);
    this.attnDropout = new Dropout(s.attnDrop);
    this.residDropout = new Dropout(s.residDrop);
    this.heads = s.heads;
    this.scale = (s.scale ? 1 / Math.sqrt(s.embd / s.heads) : 1) / (s.scaleByLayer ? layerIdx + 1 : 1);
  }

  /**
   * Attends `x [B, T, C]` over the cached and new keys under the bool mask `valid`; returns
   * the output and the layer's keys/values (past + new).
   *
   * @example `attn.forward(x, valid, past?.layers[0]);`
   */
  forward(x: Tensor, valid: Tensor, past: LayerKeyValue | undefined): { output: Tensor; cache: LayerKeyValue } {
    return tidy(() => {
      const [B, T, C] = x.shape;
      const D = C / this.heads;
      const heads = (t: Tensor) => t.reshape([B, T, this.heads, D]).transpose(1, 2);
      const [q, k, v] = split(this.cAttn.forward(x), C, -1).map(heads);
      const cache = appendKeyValue(past, k, v);
      const out = scaledDotProductAttention(q, cache.key, cache.value, {
        attnMask: valid, scale: this.scale, dropoutP: this.attnDropout.p, training: this.training,
      });
      const output = this.residDropout.forward(this.cProj.forward(out.transpose(1, 2).reshape([B, T, C])));
      return { output, cache };
    });
  }
}

/**
 * GPT-2's MLP (`c_fc`, activation, `c_proj`), HF's `GPT2MLP`.
 *
 * @example `block.mlp.forward(h);`
 */
export class GPT2MLP extends Module {
  /** `c_fc`: `[n_embd, n_inner]`. */
  cFc: Conv1D;
  /** `c_proj`: `[n_inner, n_embd]`. */
  cProj: Conv1D;
  /** Dropout on the output (`resid_pdrop`). */
  dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;

  /** @internal */
  constructor(s: GPT2Settings) {
    super();
    this.cFc = new Conv1D(s.embd, s.inner);
    this.cProj = new Conv1D(s.inner, s.embd);
    this.dropout = new Dropout(s.residDrop);
    this.act = hfActivation(s.act);
  }

  /**
   * `[B, T, C]` -> `[B, T, C]`.
   *
   * @example `mlp.forward(h);`
   */
  forward(x: Tensor): Tensor {
    return tidy(() => this.dropout.forward(this.cProj.forward(this.act(this.cFc.forward(x)))));
  }
}

/** Maps `ln1`/`ln2` onto HF's `ln_1`/`ln_2`. */
const BLOCK_KEYS: Readonly<Record<string, string>> = { ln1: 'ln_1', ln2: 'ln_2' };

/**
 * One pre-LayerNorm GPT-2 block (`ln_1`, `attn`, `ln_2`, `mlp`), HF's `GPT2Block`.
 *
 * @example `const { hidden, cache } = model.transformer.h.at(0).forward(x, valid, undefined);`
 */
export class GPT2Block extends Module {
  /** `ln_1`, before attention. */
  ln1: LayerNorm;
  /** Self-attention. */
  attn: GPT2Attention;
  /** `ln_2`, before the MLP. */
  ln2: LayerNorm;
  /** The MLP. */
  mlp: GPT2MLP;

  /** @internal */
  constructor(s: GPT2Settings, layerIdx: number) {
    super();
    this.ln1 = new LayerNorm(s.embd, { eps: s.eps });
    this.attn = new GPT2Attention(s, layerIdx);
    this.ln2 = new LayerNorm(s.embd, { eps: s.eps });
    this.mlp = new GPT2MLP(s);
  }

  protected override stateKey(prop: string): string {
    return BLOCK_KEYS[prop] ?? super.stateKey(prop);
  }

  /**
   * `x [B, T, C]` through attention and MLP with residuals.
   *
   * @example `block.forward(x, valid, undefined);`
   */
  forward(x: Tensor, valid: Tensor, past: LayerKeyValue | undefined): { hidden: Tensor; cache: LayerKeyValue } {
    return tidy(() => {
      const { output, cache } = this.attn.forward(this.ln1.forward(x), valid, past);
      const h = x.add(output);
      return { hidden: h.add(this.mlp.forward(this.ln2.forward(h))), cache };
    });
  }
}

/**
 * What {@link GPT2Model.forward} returns.
 *
 * @example `const { lastHiddenState } = model.forward(ids);`
 */
export interface GPT2ModelOutput {
  /** `[B, T, n_embd]` after `ln_f`. */
  lastHiddenState: Tensor;
  /** The cache when `useCache` was set. */
  pastKeyValues?: PastKeyValues;
}

/**
 * The GPT-2 transformer without a head (HF's `GPT2Model`): keys `wte`, `wpe`, `h.N.*`, `ln_f`.
 *
 * @example
 * ```ts
 * const base = await GPT2Model.fromPretrained('./checkpoints/gpt2');
 * base.forward(ids).lastHiddenState.shape; // [B, T, 768]
 * ```
 */
export class GPT2Model extends PreTrainedModel<GPT2Config> {
  /** HF's `model_type`. */
  static readonly modelType = 'gpt2';
  /** HF's class name. */
  static readonly architecture = 'GPT2Model';
  /** Token embeddings `[vocab_size, n_embd]`. */
  wte: Embedding;
  /** Learned position embeddings `[n_positions, n_embd]`. */
  wpe: Embedding;
  /** Dropout after the embeddings (`embd_pdrop`). */
  drop: Dropout;
  /** The blocks (`h.0`, `h.1`, ...). */
  h: ModuleList<GPT2Block>;
  /** `ln_f`, the final LayerNorm. */
  lnF: LayerNorm;
  /** @internal */
  readonly settings: GPT2Settings;

  constructor(config: GPT2Config) {
    super(config);
    const s = gpt2Settings(config, 'GPT2Model');
    this.settings = s;
    this.wte = new Embedding(s.vocab, s.embd);
    this.wpe = new Embedding(s.positions, s.embd);
    this.drop = new Dropout(s.embdDrop);
    this.h = new ModuleList(Array.from({ length: s.layers }, (_, i) => new GPT2Block(s, i)));
    this.lnF = new LayerNorm(s.embd, { eps: s.eps });
  }

  /** HF's class name. */
  get architecture(): string {
    return GPT2Model.architecture;
  }

  override get baseModelPrefix(): string {
    return 'transformer';
  }

  override ignoredCheckpointKeys(): RegExp[] {
    return [/(^|\.)attn\.(bias|masked_bias)$/, /(^|\.)crossattention\.(bias|masked_bias)$/]; // old checkpoints' mask buffers
  }

  /**
   * A GPT-2 with random weights for `config`.
   *
   * @example `const m = GPT2Model.fromConfig({ model_type: 'gpt2', n_layer: 2 });`
   */
  static fromConfig(config: PretrainedConfig): GPT2Model {
    return new GPT2Model(config as GPT2Config);
  }

  /**
   * Runs the transformer on int32 ids `[B, T]` (HF's `GPT2Model.forward`).
   *
   * @example `const { lastHiddenState } = base.forward(ids, { attentionMask });`
   */
  forward(inputIds: Tensor, options: CausalLMForwardOptions = {}): GPT2ModelOutput {
    const op = this.architecture;
    const { length, past } = checkCausalInputs(op, inputIds, options, this.h.length);
    const backend = this.wte.weight.backend.name;
    if (options.positionIds === undefined && past + length > this.settings.positions) {
      throw new HeedError(op, `positions ${past}..${past + length - 1} exceed n_positions ${this.settings.positions}.`);
    }
    return tidy(() => {
      const positions = options.positionIds ?? defaultPositionIds(length, past, backend);
      let x = this.drop.forward(embedTokens(op, this.wte, inputIds).add(this.wpe.forward(positions)));
      const valid = causalPaddingMask(options.attentionMask, length, past, backend);
      const layers: LayerKeyValue[] = [];
      for (let i = 0; i < this.h.length; i++) {
        const { hidden, cache } = this.h.at(i).forward(x, valid, options.pastKeyValues?.layers[i]);
        x = hidden;
        layers.push(cache);
      }
      const out: GPT2ModelOutput = { lastHiddenState: this.lnF.forward(x) };
      if (options.useCache) out.pastKeyValues = { layers };
      return out;
    });
  }
}

/**
 * GPT-2 with its language-model head (HF's `GPT2LMHeadModel`): `transformer` (a
 * {@link GPT2Model}) and `lm_head`, tied to `transformer.wte` unless `tie_word_embeddings` is false.
 *
 * @example
 * ```ts
 * const model = await GPT2LMHeadModel.fromPretrained('./checkpoints/gpt2');
 * const { logits } = model.forward(tensor([[464, 3290]], { dtype: 'int32' })); // [1, 2, 50257]
 * ```
 */
export class GPT2LMHeadModel extends PreTrainedModel<GPT2Config> implements CausalLM {
  /** HF's `model_type`. */
  static readonly modelType = 'gpt2';
  /** HF's class name. */
  static readonly architecture = 'GPT2LMHeadModel';
  /** The base model (HF's `base_model_prefix` 'transformer'). */
  transformer: GPT2Model;
  /** `lm_head` `[vocab_size, n_embd]`, sharing wte's weight when tied. */
  lmHead: Linear;

  constructor(config: GPT2Config) {
    super(config);
    this.transformer = new GPT2Model(config);
    const s = this.transformer.settings;
    this.lmHead = lmHead(s.embd, s.vocab, s.tied, this.transformer.wte);
  }

  /** HF's class name. */
  get architecture(): string {
    return GPT2LMHeadModel.architecture;
  }

  override get baseModelPrefix(): string {
    return 'transformer';
  }

  override tiedWeightKeys(): Record<string, string> {
    return this.transformer.settings.tied ? { 'lm_head.weight': 'transformer.wte.weight' } : {};
  }

  override ignoredCheckpointKeys(): RegExp[] {
    return this.transformer.ignoredCheckpointKeys();
  }

  /**
   * A GPT-2 LM with random weights for `config`.
   *
   * @example `const m = GPT2LMHeadModel.fromConfig({ model_type: 'gpt2', n_layer: 2, n_embd: 64, n_head: 4 });`
   */
  static fromConfig(config: PretrainedConfig): GPT2LMHeadModel {
    return new GPT2LMHeadModel(config as GPT2Config);
  }

  /**
   * Next-token logits `[B, T, vocab]` for int32 ids `[B, T]` (HF's `GPT2LMHeadModel.forward`).
   *
   * @example
   * ```ts
   * const { logits, pastKeyValues } = model.forward(ids, { attentionMask, useCache: true });
   * ```
   */
  forward(inputIds: Tensor, options: CausalLMForwardOptions = {}): CausalLMOutput {
    return causalLMForward(this.transformer, this.lmHead, inputIds, options);
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
