// SPDX-License-Identifier: MIT
// Scaled dot-product attention (like torch.nn.functional.scaled_dot_product_attention):
// softmax(q k^T * scale + mask) v, with bool or additive masks, causal masking and dropout.
// Fully masked query rows produce zeros (not NaN) in the output and in gradients.
// Uses the backend's fused kernel for inference (no grad, no dropout); training uses the
// decomposition, whose gradients come from the primitives' rules.
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled, noGrad } from '../autograd/mode.js';
import { tidy } from '../scope.js';
import { commonBackend, fromData } from './operands.js';
import { binary, where } from './elementwise.js';
import { matmul } from './matmul.js';
import { any } from './reduce.js';
import { contiguous, expand, reshape, transpose } from './views.js';
import { arange } from './creation.js';
import { dropout, softmax } from './composites.js';
import { Generator } from '../random.js';
import { checkBoolean, checkNumber, checkOptions, describeValue, type OptionKeys } from '../validate.js';
import { hasFusedKernel, runFusedKernel } from '../kernel-dispatch.js';

/**
 * Options for {@link scaledDotProductAttention}.
 *
 * @example
 * ```ts
 * const opts: AttentionOptions = { isCausal: true, dropoutP: 0.1, training: true };
 * ```
 */
export interface AttentionOptions {
  /**
   * Bool mask (true = may attend) or additive float mask, broadcastable to `[..., L, S]`.
   */
  attnMask?: Tensor | null;
  /** Mask out future keys (key index > query index). */
  isCausal?: boolean;
  /** Dropout probability on the attention weights (only when `training`). */
  dropoutP?: number;
  /** Whether dropout is active (default true when dropoutP > 0). */
  training?: boolean;
  /** Multiplier of q k^T (default `1/sqrt(D)`). */
  scale?: number;
  /** Random stream for dropout. */
  generator?: Generator;
  /** Also return the attention weights `[..., L, S]`. */
  needWeights?: boolean;
}

/**
 * Attention output (and optionally the weights).
 *
 * @example
 * ```ts
 * const { output, weights } = attention(q, k, v, { needWeights: true });
 * ```
 */
export interface AttentionResult {
  output: Tensor;
  weights: Tensor | null;
}

/**
 * `softmax(q @ k^T * scale + mask) @ v` for q `[..., L, D]`, k `[..., S, D]`, v `[..., S, Dv]`.
 *
 * @example
 * ```ts
 * const out = scaledDotProductAttention(q, k, v, { isCausal: true }); // [..., L, Dv]
 * ```
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const { output, weights } = attention(q, k, v, { ...options, needWeights: false });
  weights?.dispose();
  return output;
}

/**
 * Like {@link scaledDotProductAttention}, also returning the attention weights on request.
 *
 * @example
 * ```ts
 * const { output, weights } = attention(q, k, v, { needWeights: true });
 * ```
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): AttentionResult {
  checkAttentionOptions(options);
  const mask = options.attnMask ?? null;
  const backend = commonBackend('scaledDotProductAttention', mask ? [q, k, v, mask] : [q, k, v]);
  if (q.rank < 2 || k.rank < 2 || v.rank < 2 || q.shape.at(-1) !== k.shape.at(-1) || k.shape.at(-2) !== v.shape.at(-2)) {
    throw new HeedError('scaledDotProductAttention', `expects q [..., L, D], k [..., S, D], v [..., S, Dv]; got q ${fmtShape(q.shape)}, ` +
      `k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}.`);
  }
  const L = q.shape[q.rank - 2];
  const S = k.shape[k.rank - 2];
  const scale = options.scale ?? 1 / Math.sqrt(q.shape[q.rank - 1]);
  const dropoutP = options.dropoutP ?? 0;
  const training = options.training ?? dropoutP > 0;
  if (mask && mask.dtype !== 'bool' && mask.dtype !== 'float32') {
    throw new HeedError('scaledDotProductAttention', `attnMask must be bool or float32, got ${mask.dtype}.`);
  }
  if (mask) broadcastShapes('scaledDotProductAttention', mask.shape, [L, S]);

  const needsGrad = isGradEnabled() && (q.requiresGrad || k.requiresGrad || v.requiresGrad);
  const canFuse = hasFusedKernel(backend, 'attention') && !needsGrad && !options.needWeights && !(training && dropoutP > 0)
    && q.rank === 4 && k.rank === 4 && v.rank === 4;
  if (canFuse) {
    const fused = noGrad(() => tidy(() => {
      const batch = broadcastShapes('scaledDotProductAttention', q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2));
      const cq = contiguous(expand(q, [...batch, L, q.shape[3]]));
      const ck = contiguous(expand(k, [...batch, S, k.shape[3]]));
      const cv = contiguous(expand(v, [...batch, S, v.shape[3]]));
      const additive = mask ? contiguous(expand(toAdditive(mask), [...batch, L, S])) : null;
      const data = runFusedKernel(backend, 'attention', cq.stridedView('attention'), ck.stridedView('attention'), cv.stridedView('attention'), additive?.stridedView('attention') ?? null, scale, options.isCausal ?? false);
      // null: the kernel declined; the decomposition below runs instead.
      return data === null ? null : { output: fromData(backend, data, [...batch, L, v.shape[3]], 'float32'), weights: null };
    }));
    if (fused !== null) return fused;
  }

  return tidy(() => {
    const kt = transpose(k, -2, -1);
    let scores = binary('mul', matmul(q, kt), scale);
    // valid[..., l, s]: whether query l may attend key s (null = everything allowed).
    let valid: Tensor | null = null;
    if (options.isCausal) valid = causalMask(L, S, backend.name);
    if (mask) {
      // A float mask may hide keys with -Infinity: treat those like false in a bool mask.
      const allowed = mask.dtype === 'bool' ? mask : binary('gt', mask, -Infinity);
      valid = valid ? binary('and', valid, allowed) : allowed;
      if (mask.dtype !== 'bool') scores = binary('add', scores, mask);
    }
    if (valid) scores = where(valid, scores, -Infinity);
    // Rows with no allowed key get uniform logits, then zero weights (no NaN anywhere).
    const rowOk = valid ? any(valid, { axis: -1, keepdim: true }) : null;
    if (rowOk) scores = where(rowOk, scores, 0);
    let weights = softmax(scores, -1);
    if (rowOk) weights = where(rowOk, weights, 0);
    const used = training && dropoutP > 0 ? dropout(weights, dropoutP, true, options.generator) : weights;
    const output = matmul(used, v);
    return { output, weights: options.needWeights ? weights : null };
  });
}

const ATTENTION_KEYS: OptionKeys<AttentionOptions> = {
  attnMask: true, isCausal: true, dropoutP: true, training: true, scale: true, generator: true, needWeights: true,
};

function checkAttentionOptions(options: AttentionOptions): void {
  const op = 'scaledDotProductAttention';
  const o = checkOptions(op, options, ATTENTION_KEYS);
  for (const key of ['isCausal', 'training', 'needWeights'] as const) checkBoolean(op, key, o[key]);
  if (o.dropoutP !== undefined) checkNumber(op, 'dropoutP', o.dropoutP, { min: 0, max: 1 });
  if (o.scale !== undefined) checkNumber(op, 'scale', o.scale);
  if (o.generator !== undefined && !(o.generator instanceof Generator)) {
    throw new HeedError(op, `generator must be a Generator (new Generator(seed)), got ${describeValue(o.generator)}.`);
  }
}

function toAdditive(mask: Tensor): Tensor {
  return mask.dtype === 'bool' ? where(mask, 0, -Infinity) : mask;
}

/** Bool [L, S]: key s visible from query l when s <= l (top-left aligned, like torch). */
function causalMask(L: number, S: number, backendName: string): Tensor {
  return noGrad(() => tidy(() => {
    const rows = reshape(arange(L, undefined, 1, { backend: backendName }), [L, 1]);
    const cols = reshape(arange(S, undefined, 1, { backend: backendName }), [1, S]);
    return binary('le', cols, rows);
  }));
}
