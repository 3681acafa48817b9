// SPDX-License-Identifier: MIT
// Thin, Module-free class wrappers around the functional losses (PyTorch's `nn.CrossEntropyLoss`
// style): the options are fixed at construction and `forward(input, target)` applies them.
// Invariant: a wrapper holds no tensors of its own beyond the optional weights it was given,
// which remain owned by the caller.
import type { Tensor } from '@heed/core';
import { crossEntropy, nllLoss, type CrossEntropyOptions, type NllLossOptions } from './classification.js';
import { binaryCrossEntropyWithLogits, l1Loss, mseLoss, type BceWithLogitsOptions } from './regression.js';
import { huberLoss, klDiv, smoothL1Loss, type HuberOptions, type KlDivOptions, type SmoothL1Options } from './extra.js';
import type { LossOptions } from './reduction.js';

/**
 * Cross-entropy with fixed options; see {@link crossEntropy}.
 *
 * @example
 * ```ts
 * const criterion = new CrossEntropyLoss({ ignoreIndex: 0, labelSmoothing: 0.1 });
 * const loss = criterion.forward(logits, targets);
 * ```
 */
export class CrossEntropyLoss {
  constructor(readonly options: CrossEntropyOptions = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, this.options);
  }
}

/**
 * Negative log-likelihood with fixed options; see {@link nllLoss}.
 *
 * @example
 * ```ts
 * const loss = new NLLLoss({ reduction: 'sum' }).forward(logProbs, targets);
 * ```
 */
export class NLLLoss {
  constructor(readonly options: NllLossOptions = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, this.options);
  }
}

/**
 * Mean squared error with a fixed reduction; see {@link mseLoss}.
 *
 * @example
 * ```ts
 * const loss = new MSELoss().forward(prediction, target);
 * ```
 */
export class MSELoss {
  constructor(readonly options: LossOptions = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, this.options);
  }
}

/**
 * Mean absolute error with a fixed reduction; see {@link l1Loss}.
 *
 * @example
 * ```ts
 * const loss = new L1Loss({ reduction: 'sum' }).forward(prediction, target);
 * ```
 */
export class L1Loss {
  constructor(readonly options: LossOptions = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, this.options);
  }
}

/**
 * Binary cross-entropy on logits with fixed options; see {@link binaryCrossEntropyWithLogits}.
 *
 * @example
 * ```ts
 * const loss = new BCEWithLogitsLoss({ posWeight: tensor([3]) }).forward(logits, labels);
 * ```
 */
export class BCEWithLogitsLoss {
  constructor(readonly options: BceWithLogitsOptions = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, this.options);
  }
}

/**
 * Smooth L1 loss with fixed options; see {@link smoothL1Loss}.
 *
 * @example
 * ```ts
 * const loss = new SmoothL1Loss({ beta: 0.5 }).forward(prediction, target);
 * ```
 */
export class SmoothL1Loss {
  constructor(readonly options: SmoothL1Options = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, this.options);
  }
}

/**
 * Huber loss with fixed options; see {@link huberLoss}.
 *
 * @example
 * ```ts
 * const loss = new HuberLoss({ delta: 2 }).forward(prediction, target);
 * ```
 */
export class HuberLoss {
  constructor(readonly options: HuberOptions = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, this.options);
  }
}

/**
 * KL divergence with fixed options; see {@link klDiv}.
 *
 * @example
 * ```ts
 * const loss = new KLDivLoss({ reduction: 'batchmean' }).forward(logProbs, targetProbs);
 * ```
 */
export class KLDivLoss {
  constructor(readonly options: KlDivOptions = {}) {}
  /** Computes the loss. */
  forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, this.options);
  }
}
