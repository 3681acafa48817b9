// SPDX-License-Identifier: MIT
// The attention kernel behind MultiheadAttention: softmax((q * scale) kᵀ + additive) v with a
// bool validity mask, dropout on the weights, and the weights on request. Same op order as
// PyTorch 1.13's multi_head_attention_forward (q is scaled before the product).
// Invariants: query rows with no valid key give zero weights and zero output (never NaN),
// and no gradient flows through them; without weights/dropout/float masks (inference or
// training) it goes through core's scaledDotProductAttention, so backends' fused kernels are used.
import { attention, dropout, tidy, where, type Generator, type Tensor } from '@heed/core';
import type { AttentionMasks } from './masks.js';

/**
 * Options of {@link maskedAttention}.
 *
 * @example
 * ```ts
 * const o: MaskedAttentionOptions = { valid: null, additive: null, dropoutP: 0.1, training: true, needWeights: false };
 * ```
 */
export interface MaskedAttentionOptions extends AttentionMasks {
  /** Multiplier of q (default `1/sqrt(D)`). */
  scale?: number;
  /** Dropout on the attention weights (only when `training`). */
  dropoutP?: number;
  /** Whether dropout is active. */
  training?: boolean;
  /** Random stream of the dropout. */
  generator?: Generator;
  /** Also return the weights `[..., L, S]` (after dropout, like PyTorch). */
  needWeights?: boolean;
}

/**
 * Attention over `q [..., L, D]`, `k [..., S, D]`, `v [..., S, Dv]` with masks in the internal
 * form of `normalizeMasks` (bool `valid`, true = may attend; float `additive`).
 *
 * @example
 * ```ts
 * const { output, weights } = maskedAttention(q, k, v, { valid, additive: null, needWeights: true });
 * ```
 */
export function maskedAttention(q: Tensor, k: Tensor, v: Tensor, options: MaskedAttentionOptions): { output: Tensor; weights: Tensor | null } {
  const D = q.shape[q.rank - 1];
  const scale = options.scale ?? 1 / Math.sqrt(D);
  const p = options.training ? (options.dropoutP ?? 0) : 0;
  if (!options.needWeights && !options.additive && p === 0) {
    return attention(q, k, v, { attnMask: options.valid, scale, needWeights: false });
  }
  return tidy(() => {
    let scores = q.mul(scale).matmul(k.transpose(-2, -1));
    if (options.additive) scores = scores.add(options.additive);
    const valid = options.valid;
    let rowOk: Tensor | null = null;
    if (valid) {
      scores = where(valid, scores, -Infinity);
      // Rows with no allowed key get uniform logits, then zero weights (no NaN anywhere).
      rowOk = valid.any({ axis: -1, keepdim: true });
      scores = where(rowOk, scores, 0);
    }
    let weights = scores.softmax(-1);
    if (rowOk) weights = where(rowOk, weights, 0);
    if (p > 0) weights = dropout(weights, p, true, options.generator);
    const output = weights.matmul(v);
    return { output, weights: options.needWeights ? weights : null };
  });
}
