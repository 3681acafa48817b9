// SPDX-License-Identifier: MIT
// Public API of the losses: functional losses with PyTorch semantics and thin class wrappers.
// Importing this module has no side effects.
export type { Reduction, LossOptions } from './reduction.js';
export { crossEntropy, nllLoss, type CrossEntropyOptions, type NllLossOptions } from './classification.js';
export { mseLoss, l1Loss, binaryCrossEntropyWithLogits, type BceWithLogitsOptions } from './regression.js';
export {
  smoothL1Loss, huberLoss, klDiv, cosineSimilarity, type SmoothL1Options, type HuberOptions, type KlDivOptions, type KlDivReduction,
  type CosineSimilarityOptions,
} from './extra.js';
export { CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, BCEWithLogitsLoss, SmoothL1Loss, HuberLoss, KLDivLoss } from './wrappers.js';
