// SPDX-License-Identifier: MIT
// More losses with PyTorch's names, arguments and reductions: `smoothL1Loss` (beta),
// `huberLoss` (delta), `klDiv` (logTarget, reduction incl. 'batchmean') and
// `cosineSimilarity` (dim, eps; PyTorch's current formula with each norm clamped by eps).
// Invariants: composites of differentiable core ops, so gradients come from autograd; every
// branch is finite (klDiv masks target == 0 like PyTorch; cosineSimilarity clamps the squared
// norm, so a zero vector has gradient 0/eps-scaled, never NaN); bad input is a HeedError.
import { HeedError, broadcastShapes, checkAxis, checkOptions, tidy, where, type OptionKeys, type Tensor } from '@heed/core';
import { checkFloat, checkSameShape, reduce, resolveReduction, type LossOptions, type Reduction } from './reduction.js';

/**
 * Options of {@link smoothL1Loss}.
 *
 * @example
 * ```ts
 * const o: SmoothL1Options = { beta: 0.5, reduction: 'sum' };
 * ```
 */
export interface SmoothL1Options extends LossOptions {
  /** Where the loss switches from quadratic to linear (default 1; 0 gives the L1 loss). */
  beta?: number;
}

/**
 * Options of {@link huberLoss}.
 *
 * @example
 * ```ts
 * const o: HuberOptions = { delta: 2 };
 * ```
 */
export interface HuberOptions extends LossOptions {
  /** Where the loss switches from quadratic to linear (default 1, must be > 0). */
  delta?: number;
}

const SMOOTH_KEYS: OptionKeys<SmoothL1Options> = { beta: true, reduction: true };
const HUBER_KEYS: OptionKeys<HuberOptions> = { delta: true, reduction: true };

function checkPair(op: string, input: Tensor, target: Tensor): void {
  checkFloat(op, 'input', input);
  checkFloat(op, 'target', target);
  checkSameShape(op, input, target);
}

function nonNegative(op: string, key: string, v: unknown, strict: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (strict && v === 0)) {
    throw new HeedError(op, `${key} must be a finite number ${strict ? '> 0' : '>= 0'}, got ${String(v)}.`);
  }
  return v;
}

/**
 * Smooth L1 loss (like `torch.nn.functional.smooth_l1_loss`): per element, with
 * `d = |input - target|`, `0.5 * d^2 / beta` if `d < beta`, else `d - 0.5 * beta`; `beta = 0`
 * is the L1 loss. Gradients flow to input and target.
 *
 * @example
 * ```ts
 * smoothL1Loss(tensor([0, 2]), tensor([0.5, 0])); // mean(0.125, 1.5) = 0.8125
 * ```
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1Options = {}): Tensor {
  const op = 'smoothL1Loss';
  const o = checkOptions(op, options, SMOOTH_KEYS);
  const reduction = resolveReduction(op, o.reduction);
  const beta = nonNegative(op, 'beta', o.beta ?? 1, false);
  checkPair(op, input, target);
  return tidy(() => {
    const d = input.sub(target);
    const ad = d.abs();
    if (beta === 0) return reduce(ad, reduction);
    return reduce(where(ad.lt(beta), d.square().mul(0.5 / beta), ad.sub(0.5 * beta)), reduction);
  });
}

/**
 * Huber loss (like `torch.nn.functional.huber_loss`): per element, with
 * `d = |input - target|`, `0.5 * d^2` if `d < delta`, else `delta * (d - 0.5 * delta)`
 * (that is `delta *` {@link smoothL1Loss} with `beta = delta`).
 *
 * @example
 * ```ts
 * huberLoss(tensor([0, 3]), tensor([1, 0]), { delta: 2, reduction: 'sum' }); // 0.5 + 2 * (3 - 1) = 4.5
 * ```
 */
export function huberLoss(input: Tensor, target: Tensor, options: HuberOptions = {}): Tensor {
  const op = 'huberLoss';
  const o = checkOptions(op, options, HUBER_KEYS);
  const reduction = resolveReduction(op, o.reduction);
  const delta = nonNegative(op, 'delta', o.delta ?? 1, true);
  checkPair(op, input, target);
  return tidy(() => {
    const d = input.sub(target);
    const ad = d.abs();
    return reduce(where(ad.lt(delta), d.square().mul(0.5), ad.sub(0.5 * delta).mul(delta)), reduction);
  });
}

/**
 * Reductions of {@link klDiv}: the loss reductions plus `'batchmean'` (the sum divided by the
 * batch size `input.shape[0]`, the mathematically correct KL divergence per sample).
 *
 * @example
 * ```ts
 * const r: KlDivReduction = 'batchmean';
 * ```
 */
export type KlDivReduction = Reduction | 'batchmean';

/**
 * Options of {@link klDiv}.
 *
 * @example
 * ```ts
 * const o: KlDivOptions = { reduction: 'batchmean', logTarget: true };
 * ```
 */
export interface KlDivOptions {
  /** Default `'mean'` (over all elements, as in PyTorch); `'batchmean'` is usually what you want. */
  reduction?: KlDivReduction;
  /** Whether `target` holds log-probabilities (default false: probabilities). */
  logTarget?: boolean;
}

const KL_KEYS: OptionKeys<KlDivOptions> = { reduction: true, logTarget: true };

/**
 * Kullback-Leibler divergence (like `torch.nn.functional.kl_div`): `input` holds
 * log-probabilities; per element `target * (log(target) - input)` (0 where `target == 0`, NaN where
 * `target < 0`, as in PyTorch), or
 * with `logTarget: true`, `exp(target) * (target - input)`. Input and target must have the same
 * shape. Gradients flow to both; where `target == 0` the element is masked (value 0 and
 * gradient 0 for input and target, where PyTorch's target gradient is NaN).
 *
 * @example
 * ```ts
 * const logP = logSoftmax(logits, -1);
 * const loss = klDiv(logP, teacherProbs, { reduction: 'batchmean' });
 * ```
 */
export function klDiv(input: Tensor, target: Tensor, options: KlDivOptions = {}): Tensor {
  const op = 'klDiv';
  const o = checkOptions(op, options, KL_KEYS);
  const batchmean = o.reduction === 'batchmean';
  const reduction = batchmean ? 'sum' : resolveReduction(op, o.reduction as Reduction | undefined);
  if (o.logTarget !== undefined && typeof o.logTarget !== 'boolean') throw new HeedError(op, `logTarget must be a boolean, got ${String(o.logTarget)}.`);
  checkPair(op, input, target);
  if (batchmean && input.rank === 0) throw new HeedError(op, "reduction 'batchmean' needs an input with a batch dimension, got a 0-d tensor.");
  return tidy(() => {
    const pointwise = o.logTarget
      ? target.exp().mul(target.sub(input))
      // PyTorch: target * (log(target) - input), 0 where target == 0, NaN where target < 0 (log of a negative).
      : where(target.lt(0), Number.NaN, where(target.gt(0), target.mul(where(target.gt(0), target, 1).log().sub(input)), 0));
    const r = reduce(pointwise, reduction);
    return batchmean ? r.div(input.shape[0]) : r;
  });
}

/**
 * Options of {@link cosineSimilarity}.
 *
 * @example
 * ```ts
 * const o: CosineSimilarityOptions = { dim: -1, eps: 1e-6 };
 * ```
 */
export interface CosineSimilarityOptions {
  /** The axis of the vectors (default 1, as in PyTorch). */
  dim?: number;
  /** Each norm is clamped to at least `eps` (default 1e-8). */
  eps?: number;
}

const COS_KEYS: OptionKeys<CosineSimilarityOptions> = { dim: true, eps: true };

/**
 * Cosine similarity along `dim` (like `torch.nn.functional.cosine_similarity`, current
 * formula): `sum(x1 * x2) / (max(|x1|, eps) * max(|x2|, eps))`. The inputs broadcast; the
 * result drops `dim`. A zero vector gives 0 (and finite gradients).
 *
 * @example
 * ```ts
 * cosineSimilarity(tensor([[1, 0], [1, 1]]), tensor([[2, 0], [-1, -1]])); // [1, -1]
 * ```
 */
export function cosineSimilarity(x1: Tensor, x2: Tensor, options: CosineSimilarityOptions = {}): Tensor {
  const op = 'cosineSimilarity';
  const o = checkOptions(op, options, COS_KEYS);
  checkFloat(op, 'x1', x1);
  checkFloat(op, 'x2', x2);
  const eps = nonNegative(op, 'eps', o.eps ?? 1e-8, true);
  const shape = broadcastShapes(op, x1.shape, x2.shape);
  const dim = checkAxis(op, o.dim ?? 1, shape.length, 'dim');
  return tidy(() => {
    const unit = (x: Tensor): Tensor => {
      const full = x.expand(shape);
      // sqrt(max(|x|^2, eps^2)) = max(|x|, eps), with a zero (not NaN) gradient when clamped
      return full.div(full.square().sum(dim, { keepdim: true }).clamp(eps * eps).sqrt());
    };
    return unit(x1).mul(unit(x2)).sum(dim);
  });
}
