// SPDX-License-Identifier: MIT
// MultiheadAttention with torch.nn.MultiheadAttention's semantics, parameters and state-dict
// keys (`in_proj_weight`/`in_proj_bias`/`out_proj.*` when kdim = vdim = embedDim, else
// `q_proj_weight`/`k_proj_weight`/`v_proj_weight`), plus a kv-cache and rotary embeddings for
// incremental decoding.
// Invariants: inputs are `[L, N, E]` (or `[N, L, E]` with batchFirst, or unbatched `[L, E]`);
// masks follow PyTorch's MHA convention (bool true = NOT allowed); query rows with nothing
// to attend give zeros, not NaN; dropout on the weights only in training; a forward leaves
// only its outputs (and the cache's tensors) alive.
import { HeedError, fmtShape, linear, tidy, zeros, type Generator, type Tensor } from '@heed/core';
import { Module, parameter } from '../module.js';
import { xavierUniform, zeros_ } from '../init.js';
import { Linear } from '../layers/linear.js';
import { maskedAttention } from './functional.js';
import { normalizeMasks } from './masks.js';
import type { KVCache } from './kv-cache.js';
import type { RotaryEmbedding } from './rope.js';

/**
 * Options of {@link MultiheadAttention} (PyTorch's constructor arguments).
 *
 * @example
 * ```ts
 * new MultiheadAttention(64, 8, { dropout: 0.1, batchFirst: true });
 * ```
 */
export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights in training (default 0). */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Feature size of keys (default embedDim). */
  kdim?: number;
  /** Feature size of values (default embedDim). */
  vdim?: number;
  /** Inputs and outputs are `[N, L, E]` instead of `[L, N, E]` (default false). */
  batchFirst?: boolean;
  /** Random stream for the init and the dropout (default: the global generator). */
  generator?: Generator;
}

/**
 * Options of {@link MultiheadAttention.forward} (PyTorch's forward arguments, plus the cache).
 *
 * @example
 * ```ts
 * mha.forward(q, k, v, { keyPaddingMask: pad, attnMask: causal, needWeights: false });
 * ```
 */
export interface MultiheadAttentionForwardOptions {
  /** `[N, S]` (or `[S]` unbatched): bool true = ignore that key, or float added to the scores. */
  keyPaddingMask?: Tensor | null;
  /** `[L, S]` or `[N*H, L, S]`: bool true = NOT allowed, or float added to the scores. */
  attnMask?: Tensor | null;
  /** Return the attention weights (default true, like PyTorch). */
  needWeights?: boolean;
  /** Average the weights over heads `[N, L, S]`, else per head `[N, H, L, S]` (default true). */
  averageAttnWeights?: boolean;
  /** Mask future keys (key s > query l + cache length), combined with `attnMask`. */
  isCausal?: boolean;
  /** Key/value cache: new keys/values are appended and attention covers all cached positions. */
  cache?: KVCache | null;
  /** Rotary embedding applied to the per-head queries and keys (positions continue the cache). */
  rotary?: RotaryEmbedding | null;
}

/**
 * Output of {@link MultiheadAttention.forward}.
 *
 * @example
 * ```ts
 * const { output, weights }: AttentionOutput = mha.forward(x, x, x);
 * ```
 */
export interface AttentionOutput {
  /** `[L, N, E]` (`[N, L, E]` with batchFirst; `[L, E]` unbatched). */
  output: Tensor;
  /** `[N, L, S]` averaged or `[N, H, L, S]` per head (no N when unbatched); null unless needWeights. */
  weights: Tensor | null;
}

/**
 * Multi-head attention (Vaswani et al., 2017) with PyTorch's parameters and semantics:
 * `out_proj(concat_h softmax(q_h k_hᵀ / sqrt(d) + mask) v_h)`.
 *
 * @example
 * ```ts
 * const mha = new MultiheadAttention(16, 4, { batchFirst: true });
 * const x = randn([2, 5, 16]);
 * const { output, weights } = mha.forward(x, x, x, { isCausal: true });
 * output.shape; // [2, 5, 16]; weights: [2, 5, 5]
 * ```
 */
export class MultiheadAttention extends Module {
  /** Packed q/k/v projection `[3E, E]` (null when kdim or vdim differ from E). */
  inProjWeight: Tensor | null = null;
  /** Query projection `[E, E]` (only when kdim or vdim differ from E). */
  qProjWeight: Tensor | null = null;
  /** Key projection `[E, kdim]` (only when kdim or vdim differ from E). */
  kProjWeight: Tensor | null = null;
  /** Value projection `[E, vdim]` (only when kdim or vdim differ from E). */
  vProjWeight: Tensor | null = null;
  /** Packed q/k/v bias `[3E]` (null without bias). */
  inProjBias: Tensor | null = null;
  /** Output projection `E -> E`. */
  outProj: Linear;
  /** Feature size of keys. */
  readonly kdim: number;
  /** Feature size of values. */
  readonly vdim: number;
  /** Size of each head (`embedDim / numHeads`). */
  readonly headDim: number;
  /** Dropout probability on the attention weights. */
  readonly dropout: number;
  /** Layout of 3-D inputs. */
  readonly batchFirst: boolean;
  /** Random stream of the dropout. */
  generator: Generator | undefined;

  constructor(readonly embedDim: number, readonly numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || embedDim <= 0 || !Number.isInteger(numHeads) || numHeads <= 0 || embedDim % numHeads !== 0) {
      throw new HeedError('MultiheadAttention', `embedDim (${embedDim}) must be a positive multiple of numHeads (${numHeads}).`);
    }
    this.kdim = options.kdim ?? embedDim;
    this.vdim = options.vdim ?? embedDim;
    this.headDim = embedDim / numHeads;
    this.dropout = options.dropout ?? 0;
    if (!(this.dropout >= 0 && this.dropout <= 1)) throw new HeedError('MultiheadAttention', `dropout must be in [0, 1], got ${this.dropout}.`);
    this.batchFirst = options.batchFirst ?? false;
    this.generator = options.generator;
    const g = options.generator;
    if (this.packed) {
      this.inProjWeight = xavierUniform(parameter(zeros([3 * embedDim, embedDim])), { generator: g });
    } else {
      this.qProjWeight = xavierUniform(parameter(zeros([embedDim, embedDim])), { generator: g });
      this.kProjWeight = xavierUniform(parameter(zeros([embedDim, this.kdim])), { generator: g });
      this.vProjWeight = xavierUniform(parameter(zeros([embedDim, this.vdim])), { generator: g });
    }
    const bias = options.bias ?? true;
    if (bias) this.inProjBias = parameter(zeros([3 * embedDim]));
    this.outProj = new Linear(embedDim, embedDim, { bias, generator: g });
    if (this.outProj.bias) zeros_(this.outProj.bias);
  }

  /** Whether q/k/v share one packed `in_proj_weight` (kdim = vdim = embedDim). */
  get packed(): boolean {
    return this.kdim === this.embedDim && this.vdim === this.embedDim;
  }

  /** The q, k, v projection weights and biases (views of the packed ones when packed). */
  private projections(): { w: [Tensor, Tensor, Tensor]; b: [Tensor | null, Tensor | null, Tensor | null] } {
    const E = this.embedDim;
    const w: [Tensor, Tensor, Tensor] = this.inProjWeight
      ? [this.inProjWeight.narrow(0, 0, E), this.inProjWeight.narrow(0, E, E), this.inProjWeight.narrow(0, 2 * E, E)]
      : [this.qProjWeight as Tensor, this.kProjWeight as Tensor, this.vProjWeight as Tensor];
    const ib = this.inProjBias;
    const b: [Tensor | null, Tensor | null, Tensor | null] = ib ? [ib.narrow(0, 0, E), ib.narrow(0, E, E), ib.narrow(0, 2 * E, E)] : [null, null, null];
    return { w, b };
  }

  /**
   * Attends from `query` to `key`/`value`. Shapes `[L, N, E]`, `[S, N, kdim]`, `[S, N, vdim]`
   * (batch first with `batchFirst`; or unbatched `[L, E]`...). With a `cache`, `key`/`value`
   * hold only the new positions (for a filled static cache they are ignored).
   *
   * @example
   * ```ts
   * const { output } = mha.forward(x, memory, memory, { keyPaddingMask: memoryPad, needWeights: false });
   * ```
   */
  forward(query: Tensor, key: Tensor, value: Tensor, options: MultiheadAttentionForwardOptions = {}): AttentionOutput {
    const op = 'MultiheadAttention';
    const batched = query.rank === 3;
    if ((query.rank !== 2 && query.rank !== 3) || key.rank !== query.rank || value.rank !== query.rank) {
      throw new HeedError(op, `query, key and value must all be 3-D (batched) or 2-D (unbatched), got ${fmtShape(query.shape)}, ` +
        `${fmtShape(key.shape)}, ${fmtShape(value.shape)}.`);
    }
    for (const [name, t, d] of [['query', query, this.embedDim], ['key', key, this.kdim], ['value', value, this.vdim]] as const) {
      if (t.shape[t.rank - 1] !== d) throw new HeedError(op, `${name} must have ${d} features (last axis), got ${fmtShape(t.shape)}.`);
    }
    const needWeights = options.needWeights ?? true;
    const cache = options.cache ?? null;
    return tidy(() => {
      const toBatchFirst = (x: Tensor) => (!batched ? x.unsqueeze(0) : this.batchFirst ? x : x.transpose(0, 1));
      const q0 = toBatchFirst(query);
      const k0 = toBatchFirst(key);
      const v0 = toBatchFirst(value);
      const [N, L] = q0.shape;
      if (k0.shape[0] !== N || v0.shape[0] !== N || k0.shape[1] !== v0.shape[1]) {
        throw new HeedError(op, `batch sizes and key/value lengths must agree: query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, ` +
          `value ${fmtShape(value.shape)} (batchFirst=${this.batchFirst}).`);
      }
      const H = this.numHeads;
      const hd = this.headDim;
      const heads = (x: Tensor) => x.reshape([N, x.shape[1], H, hd]).transpose(1, 2);
      const { w, b } = this.projections();
      const past = cache && !cache.static ? cache.length : 0;
      let q = heads(linear(q0, w[0], b[0]));
      if (options.rotary) q = options.rotary.rotate(q, { offset: past });
      let k: Tensor;
      let v: Tensor;
      if (cache?.static && cache.filled) {
        k = cache.keys as Tensor;
        v = cache.values as Tensor;
      } else {
        k = heads(linear(k0, w[1], b[1]));
        v = heads(linear(v0, w[2], b[2]));
        if (options.rotary) k = options.rotary.rotate(k, { offset: past });
        if (cache) ({ keys: k, values: v } = cache.append(k, v));
      }
      if (k.shape[0] !== N) throw new HeedError(op, `the cache holds batch ${k.shape[0]} but the query has batch ${N}.`);
      const S = k.shape[2];
      const masks = normalizeMasks(op, options, { N, H, L, S, batched, causalOffset: past, backend: query.backend.name });
      const att = maskedAttention(q, k, v, {
        ...masks, dropoutP: this.dropout, training: this.training, generator: this.generator, needWeights,
      });
      const merged = att.output.transpose(1, 2).reshape([N, L, this.embedDim]);
      const projected = this.outProj.forward(merged);
      const output = !batched ? projected.squeeze(0) : this.batchFirst ? projected : projected.transpose(0, 1);
      let weights: Tensor | null = null;
      if (needWeights && att.weights) {
        weights = (options.averageAttnWeights ?? true) ? att.weights.mean({ axis: 1 }) : att.weights;
        if (!batched) weights = weights.squeeze(0);
      }
      return { output, weights };
    });
  }

  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, dropout=${this.dropout}, batchFirst=${this.batchFirst}` +
      (this.packed ? '' : `, kdim=${this.kdim}, vdim=${this.vdim}`);
  }
}
