// SPDX-License-Identifier: MIT
// Classification losses with PyTorch 1.13 semantics: `crossEntropy` (class indices or class
// probabilities, class weights, ignoreIndex, label smoothing) and `nllLoss` on log-probabilities.
// Invariants: the class dim is 1 for [N, C, d1, ...] inputs and 0 for an unbatched [C] input;
// targets equal to ignoreIndex contribute nothing, neither to the sum nor to the mean's
// denominator (the sum of the target weights); all temporaries are freed (one tidy per call).
import { HeedError, fmtShape, ones, tidy, where, type Tensor } from '@heed/core';
import { checkFloat, reduce, resolveReduction, type LossOptions, type Reduction } from './reduction.js';

/**
 * Options of {@link nllLoss}.
 *
 * @example
 * ```ts
 * const opts: NllLossOptions = { weight: tensor([1, 2, 1]), ignoreIndex: 0, reduction: 'sum' };
 * ```
 */
export interface NllLossOptions extends LossOptions {
  /** A float32 `[C]` weight per class (default: all ones). */
  weight?: Tensor | null;
  /** Targets equal to this value are ignored (default -100, like PyTorch). */
  ignoreIndex?: number;
}

/**
 * Options of {@link crossEntropy}.
 *
 * @example
 * ```ts
 * const opts: CrossEntropyOptions = { labelSmoothing: 0.1, ignoreIndex: padId };
 * ```
 */
export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the target with the uniform distribution: `(1 - s) * target + s / C` (default 0). */
  labelSmoothing?: number;
}

interface Prepared {
  input: Tensor;
  target: Tensor;
  unbatched: boolean;
}

/** Adds a batch dim to an unbatched [C] input (and its target), after checking shapes. */
function prepare(op: string, input: Tensor, target: Tensor, probabilities: boolean): Prepared {
  checkFloat(op, 'input', input);
  target.assertLive(op);
  if (input.rank === 0) throw new HeedError(op, 'input must have a class dimension; got a 0-d tensor.');
  const unbatched = input.rank === 1;
  const x = unbatched ? input.unsqueeze(0) : input;
  const t = unbatched ? target.unsqueeze(0) : target;
  const want = probabilities ? x.shape : x.shape.filter((_, i) => i !== 1);
  if (t.rank !== want.length || t.shape.some((d, i) => d !== want[i])) {
    const kind = probabilities ? 'class probabilities (float32) must have the input shape' : 'class indices (int32) must have the input shape without the class dim 1';
    throw new HeedError(op, `target ${fmtShape(target.shape)} does not fit input ${fmtShape(input.shape)}: ${kind}, ` +
      `i.e. ${fmtShape(unbatched ? want.slice(1) : want)}.`);
  }
  return { input: x, target: t, unbatched };
}

function checkWeight(op: string, weight: Tensor | null | undefined, classes: number): Tensor | null {
  if (!weight) return null;
  checkFloat(op, 'weight', weight);
  if (weight.rank !== 1 || weight.shape[0] !== classes) {
    throw new HeedError(op, `weight must have shape [${classes}] (one value per class), got ${fmtShape(weight.shape)}.`);
  }
  return weight;
}

/** `weight` viewed as [1, C, 1, ...] to broadcast against a rank-`rank` input. */
function classView(weight: Tensor, rank: number): Tensor {
  return weight.reshape(Array.from({ length: rank }, (_, i) => (i === 1 ? weight.shape[0] : 1)));
}

/**
 * The core of nll: per-element `-w[t] * logp[t]` (0 where ignored), and the per-element target
 * weights (0 where ignored), both with the target's shape. Runs inside the caller's tidy.
 */
function pickTargets(op: string, logp: Tensor, target: Tensor, weight: Tensor | null, ignoreIndex: number): { loss: Tensor; w: Tensor; mask: Tensor } {
  if (target.dtype !== 'int32') {
    throw new HeedError(op, `class-index targets must be int32, got ${target.dtype} ${fmtShape(target.shape)}; cast with .int().`);
  }
  const mask = target.ne(ignoreIndex);
  const safe = where(mask, target, 0);
  let picked: Tensor;
  try {
    picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1);
  } catch (e) {
    if (!(e instanceof HeedError)) throw e;
    throw new HeedError(op, `every target must be a class index in [0, ${logp.shape[1]}) or ignoreIndex (${ignoreIndex}). (${e.message})`);
  }
  const wt = weight ? weight.indexSelect(0, safe.flatten()).reshape(target.shape) : ones(target.shape, { backend: logp.backend.name });
  const w = where(mask, wt, 0);
  return { loss: picked.neg().mul(w), w, mask };
}

/** nll reduced PyTorch's way: the mean divides by the sum of the (non-ignored) target weights. */
function reduceWeighted(loss: Tensor, w: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'mean') return loss.sum().div(w.sum());
  return reduce(loss, reduction);
}

/**
 * Negative log-likelihood loss on log-probabilities `input` (`[N, C]`, `[N, C, d1, ...]` or an
 * unbatched `[C]`) and int32 class indices `target` (`[N]`, `[N, d1, ...]` or 0-d), like
 * `torch.nn.functional.nll_loss`. With `'mean'`, divides by the sum of the weights of the
 * non-ignored targets (NaN when every target is ignored, as in PyTorch).
 *
 * @example
 * ```ts
 * const logp = logSoftmax(tensor([[2, 0, -1], [0.5, 0.5, 3]]), 1);
 * const loss = nllLoss(logp, tensor([0, 2], { dtype: 'int32' })); // 0.153
 * ```
 */
export function nllLoss(input: Tensor, target: Tensor, options: NllLossOptions = {}): Tensor {
  const op = 'nllLoss';
  const reduction = resolveReduction(op, options.reduction);
  const ignoreIndex = options.ignoreIndex ?? -100;
  return tidy(() => {
    const p = prepare(op, input, target, false);
    const weight = checkWeight(op, options.weight, p.input.shape[1]);
    const { loss, w } = pickTargets(op, p.input, p.target, weight, ignoreIndex);
    const out = reduceWeighted(loss, w, reduction);
    return p.unbatched && reduction === 'none' ? out.squeeze(0) : out;
  });
}

/**
 * Cross-entropy between `input` logits and `target`, like `torch.nn.functional.cross_entropy`
 * (PyTorch 1.13). The class dim is 1 (`[N, C]`, `[N, C, d1, ...]`), or 0 for an unbatched `[C]`.
 * `target` is either int32 class indices (the input shape without dim 1), honouring `weight`,
 * `ignoreIndex` and `labelSmoothing`; or float32 class probabilities of the input's shape
 * (no ignoreIndex; the `'mean'` divides by the number of positions, as in PyTorch).
 *
 * @example
 * ```ts
 * const logits = tensor([[2, 0, -1], [0.5, 0.5, 3]], { requiresGrad: true });
 * const loss = crossEntropy(logits, tensor([0, 2], { dtype: 'int32' }), { labelSmoothing: 0.1 });
 * loss.backward();
 * ```
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const reduction = resolveReduction(op, options.reduction);
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1)) {
    throw new HeedError(op, `labelSmoothing must be in [0, 1], got ${smoothing}.`);
  }
  target.assertLive(op);
  const probabilities = target.dtype === 'float32';
  if (probabilities && options.ignoreIndex !== undefined && options.ignoreIndex >= 0) {
    throw new HeedError(op, 'ignoreIndex is not supported with class-probability (float32) targets; pass int32 class indices instead.');
  }
  return tidy(() => {
    const p = prepare(op, input, target, probabilities);
    const classes = p.input.shape[1];
    const weight = checkWeight(op, options.weight, classes);
    const logp = p.input.logSoftmax(1);
    const out = probabilities
      ? probabilityLoss(logp, p.target, weight, smoothing, reduction)
      : indexLoss(op, logp, p.target, weight, options.ignoreIndex ?? -100, smoothing, reduction);
    return p.unbatched && reduction === 'none' ? out.squeeze(0) : out;
  });
}

/** Class-index targets: `(1 - s) * nll + (s / C) * smooth`, as in ATen's label smoothing. */
function indexLoss(op: string, logp: Tensor, target: Tensor, weight: Tensor | null, ignoreIndex: number, smoothing: number, reduction: Reduction): Tensor {
  const { loss, w, mask } = pickTargets(op, logp, target, weight, ignoreIndex);
  const nll = reduceWeighted(loss, w, reduction);
  if (smoothing === 0) return nll;
  const classes = logp.shape[1];
  const weighted = weight ? logp.mul(classView(weight, logp.rank)) : logp;
  const smooth = where(mask, weighted.sum({ axis: 1 }).neg(), 0);
  let smoothReduced: Tensor;
  if (reduction === 'mean') {
    // PyTorch: with weights, divide by the sum of the target weights; else by the number of kept targets.
    smoothReduced = smooth.sum().div(weight ? w.sum() : mask.sum().float());
  } else {
    smoothReduced = reduce(smooth, reduction);
  }
  return nll.mul(1 - smoothing).add(smoothReduced.mul(smoothing / classes));
}

/** Probability targets: `-sum_c w_c * q_c * logp_c` with `q = (1 - s) * target + s / C`. */
function probabilityLoss(logp: Tensor, target: Tensor, weight: Tensor | null, smoothing: number, reduction: Reduction): Tensor {
  const classes = logp.shape[1];
  const q = smoothing > 0 ? target.mul(1 - smoothing).add(smoothing / classes) : target;
  let prod = logp.mul(q);
  if (weight) prod = prod.mul(classView(weight, logp.rank));
  if (reduction === 'none') return prod.sum({ axis: 1 }).neg();
  const total = prod.sum().neg();
  return reduction === 'sum' ? total : total.div(logp.size / classes);
}
