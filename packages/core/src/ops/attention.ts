// SPDX-License-Identifier: MIT
// Scaled dot-product attention (like torch.nn.functional.scaled_dot_product_attention):
// softmax(q k^T * scale + mask) v, with bool or additive masks, causal masking and dropout.
// Fully masked query rows produce zeros (not NaN) in the output and in gradients.
// Uses the backend's fused kernel for inference (no grad, no dropout). Training without dropout
// or weights uses the fused forward/backward pair (flash-attention style, no [L, S] matrix) when
// the backend has both: ONE autograd node whose backward calls the fused backward kernel; with
// createGraph (second order) that node's backward is the differentiable decomposition instead,
// since the fused backward is not itself differentiable (like PyTorch's flash SDPA). Otherwise
// the decomposition, whose gradients come from the primitives' rules.
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled, noGrad } from '../autograd/mode.js';
import { customGrad } from '../autograd/api.js';
import { tidy } from '../scope.js';
import { commonBackend, fromData } from './operands.js';
import { binary, where } from './elementwise.js';
import { matmul } from './matmul.js';
import { any, sum } from './reduce.js';
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
  const canTrainFused = needsGrad && !options.needWeights && !(training && dropoutP > 0) && !(mask?.requiresGrad ?? false)
    && q.rank === 4 && k.rank === 4 && v.rank === 4
    && hasFusedKernel(backend, 'attentionForward') && hasFusedKernel(backend, 'attentionBackward');
  if (canTrainFused) {
    const output = fusedTraining(q, k, v, mask, scale, options.isCausal ?? false);
    if (output !== null) return { output, weights: null };
  }

  return tidy(() => {
    const weights = attentionWeights(q, k, mask, scale, options.isCausal ?? false);
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

/**
 * softmax(q k^T * scale + mask) with the causal flag and bool/additive mask, fully masked rows
 * all zeros: the decomposition's weights (also the recomputation of the second-order backward).
 */
function attentionWeights(q: Tensor, k: Tensor, mask: Tensor | null, scale: number, causal: boolean): Tensor {
  const L = q.shape[q.rank - 2];
  const S = k.shape[k.rank - 2];
  let scores = binary('mul', matmul(q, transpose(k, -2, -1)), scale);
  // valid[..., l, s]: whether query l may attend key s (null = everything allowed).
  let valid: Tensor | null = null;
  if (causal) valid = causalMask(L, S, q.backend.name);
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
  const weights = softmax(scores, -1);
  return rowOk ? where(rowOk, weights, 0) : weights;
}

/**
 * Training attention through the backend's attentionForward/attentionBackward pair: one
 * autograd node over the contiguous [B, H, *, *] operands (their expand/contiguous record the
 * way back to q, k, v), saving out and lse; null when the forward kernel declines.
 */
function fusedTraining(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, scale: number, causal: boolean): Tensor | null {
  return tidy(() => {
    const L = q.shape[2];
    const S = k.shape[2];
    const batch = broadcastShapes('scaledDotProductAttention', q.shape.slice(0, -2), k.shape.slice(0, -2), v.shape.slice(0, -2));
    const cq = contiguous(expand(q, [...batch, L, q.shape[3]]));
    const ck = contiguous(expand(k, [...batch, S, k.shape[3]]));
    const cv = contiguous(expand(v, [...batch, S, v.shape[3]]));
    // The mask stays a broadcast view (stride 0 on broadcast axes): never an [L, S] copy per head.
    const additive = mask ? noGrad(() => expand(toAdditive(mask), [...batch, L, S])) : null;
    const backend = q.backend;
    const op = 'attentionForward';
    const res = runFusedKernel(backend, op, cq.stridedView(op), ck.stridedView(op), cv.stridedView(op), additive?.stridedView(op) ?? null, scale, causal);
    if (res === null) return null;
    const out = fromData(backend, res[0], [...batch, L, v.shape[3]], 'float32');
    const lse = fromData(backend, res[1], [...batch, L], 'float32');
    const node = customGrad((...ts: Tensor[]) => ({
      value: reshape(ts[3], ts[3].shape),
      backward: (dy: Tensor, saved: Tensor[]) => attentionGrads(saved, dy, scale, causal),
    }));
    return node(...(additive ? [cq, ck, cv, out, lse, additive] : [cq, ck, cv, out, lse]));
  });
}

/**
 * Gradients of the fused node's inputs [q, k, v, out, lse, mask?]: the fused backward kernel,
 * or (under createGraph, or when the kernel declines) the differentiable formulas
 * dV = P^T dY, dS = P * (dY V^T - rowsum(dY V^T * P)), dQ = dS K scale, dK = dS^T Q scale.
 */
function attentionGrads(saved: Tensor[], dy: Tensor, scale: number, causal: boolean): (Tensor | null)[] {
  const [q, k, v, out, lse] = saved;
  const mask = saved[5] ?? null;
  const rest = saved.slice(3).map(() => null);
  return tidy(() => {
    if (!isGradEnabled()) {
      const op = 'attentionBackward';
      const g = contiguous(dy);
      const res = runFusedKernel(q.backend, op, q.stridedView(op), k.stridedView(op), v.stridedView(op), mask?.stridedView(op) ?? null, scale, causal,
        out.stridedView(op), g.stridedView(op), lse.stridedView(op));
      if (res !== null) {
        return [fromData(q.backend, res[0], q.shape, 'float32'), fromData(q.backend, res[1], k.shape, 'float32'),
          fromData(q.backend, res[2], v.shape, 'float32'), ...rest];
      }
    }
    const p = attentionWeights(q, k, mask, scale, causal);
    const dv = matmul(transpose(p, -2, -1), dy);
    const dp = matmul(dy, transpose(v, -2, -1));
    const ds = binary('mul', p, binary('sub', dp, sum(binary('mul', dp, p), -1, { keepdim: true })));
    const dq = binary('mul', matmul(ds, k), scale);
    const dk = binary('mul', matmul(transpose(ds, -2, -1), q), scale);
    return [dq, dk, dv, ...rest];
  });
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
