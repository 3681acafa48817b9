// SPDX-License-Identifier: MIT
// Elementwise losses with PyTorch semantics: `mseLoss`, `l1Loss` and
// `binaryCrossEntropyWithLogits` (with `weight` and `posWeight`).
// Invariants: input and target have equal shapes (no silent broadcasting); BCE-with-logits is
// computed in the stable form `(1 - t) * x + lw * softplus(-x)` with a hand-written gradient
// equal to PyTorch's (`(lw * sigmoid(x) ... )`), exact at x = 0 and finite for any |x|.
import { customGrad, tidy, type Tensor } from '@heed/core';
import { checkBroadcastsTo, checkFloat, checkSameShape, reduce, resolveReduction, type LossOptions } from './reduction.js';

/**
 * Mean squared error `(input - target)^2`, reduced (like `torch.nn.functional.mse_loss`).
 * Gradients flow to both input and target.
 *
 * @example
 * ```ts
 * mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0])); // (0 + 4 + 9) / 3 = 4.333
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  const op = 'mseLoss';
  const reduction = resolveReduction(op, options.reduction);
  checkFloat(op, 'input', input);
  checkFloat(op, 'target', target);
  checkSameShape(op, input, target);
  return tidy(() => reduce(input.sub(target).square(), reduction));
}

/**
 * Mean absolute error `|input - target|`, reduced (like `torch.nn.functional.l1_loss`).
 * The gradient at `input == target` is 0, as in PyTorch.
 *
 * @example
 * ```ts
 * l1Loss(tensor([1, 2, 3]), tensor([1, 0, 0]), { reduction: 'sum' }); // 5
 * ```
 */
export function l1Loss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  const op = 'l1Loss';
  const reduction = resolveReduction(op, options.reduction);
  checkFloat(op, 'input', input);
  checkFloat(op, 'target', target);
  checkSameShape(op, input, target);
  return tidy(() => reduce(input.sub(target).abs(), reduction));
}

/**
 * Options of {@link binaryCrossEntropyWithLogits}.
 *
 * @example
 * ```ts
 * const opts: BceWithLogitsOptions = { posWeight: tensor([3]), reduction: 'sum' };
 * ```
 */
export interface BceWithLogitsOptions extends LossOptions {
  /** Rescales each element's loss; broadcasts to the input shape. */
  weight?: Tensor | null;
  /** Weight of the positive term per class (broadcast along the last dims), e.g. `negatives / positives`. */
  posWeight?: Tensor | null;
}

/** `softplus(-x) = log(1 + exp(-x))`, stable for any x: `max(-x, 0) + log1p(exp(-|x|))`. */
function softplusNeg(x: Tensor): Tensor {
  return x.neg().relu().add(x.abs().neg().exp().log1p());
}

/** Elementwise loss without pos_weight: `(1 - t) * x + softplus(-x)`; d/dx = sigmoid(x) - t. */
const bceCore = customGrad((x: Tensor, t: Tensor) => ({
  value: tidy(() => t.neg().add(1).mul(x).add(softplusNeg(x))),
  backward: (dy: Tensor, [xs, ts]: Tensor[]) => [
    dy.mul(xs.sigmoid().sub(ts)),
    ts.requiresGrad ? dy.mul(xs.neg()) : null,
  ],
}));

/**
 * Elementwise loss with pos_weight: `(1 - t) * x + (1 + (pw - 1) t) * softplus(-x)`.
 * d/dx = (pw t + 1 - t) sigmoid(x) - pw t; d/dt = -x + (pw - 1) softplus(-x); d/dpw = t softplus(-x).
 */
const bcePosCore = customGrad((x: Tensor, t: Tensor, pw: Tensor) => ({
  value: tidy(() => {
    const logWeight = pw.sub(1).mul(t).add(1);
    return t.neg().add(1).mul(x).add(logWeight.mul(softplusNeg(x)));
  }),
  backward: (dy: Tensor, [xs, ts, pws]: Tensor[]) => {
    const pt = pws.mul(ts);
    return [
      dy.mul(pt.add(1).sub(ts).mul(xs.sigmoid()).sub(pt)),
      ts.requiresGrad ? dy.mul(xs.neg().add(pws.sub(1).mul(softplusNeg(xs)))) : null,
      pws.requiresGrad ? dy.mul(ts.mul(softplusNeg(xs))) : null,
    ];
  },
}));

/**
 * Binary cross-entropy on logits (sigmoid + BCE in one stable step), like
 * `torch.nn.functional.binary_cross_entropy_with_logits`: per element
 * `weight * [(1 - t) * x + (1 + (posWeight - 1) * t) * log(1 + exp(-x))]`. Targets may be
 * soft (any value in [0, 1]). Gradients match PyTorch's, also at `x = 0` and for huge `|x|`.
 *
 * @example
 * ```ts
 * const logits = tensor([[2, -1], [0, 4]], { requiresGrad: true });
 * const loss = binaryCrossEntropyWithLogits(logits, tensor([[1, 0], [1, 1]]), { posWeight: tensor([2, 1]) });
 * loss.backward();
 * ```
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BceWithLogitsOptions = {}): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  const reduction = resolveReduction(op, options.reduction);
  checkFloat(op, 'input', input);
  checkFloat(op, 'target', target);
  checkSameShape(op, input, target);
  const { weight, posWeight } = options;
  if (weight) {
    checkFloat(op, 'weight', weight);
    checkBroadcastsTo(op, 'weight', weight, input.shape);
  }
  if (posWeight) {
    checkFloat(op, 'posWeight', posWeight);
    checkBroadcastsTo(op, 'posWeight', posWeight, input.shape);
  }
  return tidy(() => {
    const elementwise = posWeight ? bcePosCore(input, target, posWeight) : bceCore(input, target);
    return reduce(weight ? elementwise.mul(weight) : elementwise, reduction);
  });
}
