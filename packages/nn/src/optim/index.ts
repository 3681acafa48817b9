// SPDX-License-Identifier: MIT
// Public API of the optimizers: the Optimizer base with param groups and state dicts, SGD,
// Adam, AdamW, gradient clipping and learning-rate schedules (incl. OneCycleLR, LinearLR,
// SequentialLR, ReduceLROnPlateau). No side effects on import.
export { type HasNamedParameters, type ParamSource, decayMatricesOnly, excludeFromDecay } from './params.js';
export {
  Optimizer, type BaseHyperParams, type ParamGroup, type ParamGroupSpec, type OptimizerOptions, type OptimizerStateDict,
  type OptimStateValue, type HyperValue, type StepScalars, type GroupStepScalars, type CapturedStep, disposeStepScalars,
} from './optimizer.js';
export { SGD, type SgdHyperParams, type SgdOptions, type SgdState } from './sgd.js';
export { Adam, AdamW, type AdamHyperParams, type AdamOptions, type AdamState } from './adam.js';
export { clipGradNorm, clipGradValue, type ClipGradNormOptions } from './clip.js';
export {
  LRScheduler, StepLR, CosineAnnealingLR, NoamLR, LambdaLR, type HasLrGroups, type SchedulerStateDict, type LrFunction, type CosineAnnealingOptions,
} from './schedules.js';
export {
  LinearLR, OneCycleLR, SequentialLR, type LinearLROptions, type OneCycleOptions, type HasMomentumGroups, type SequentialLRStateDict,
} from './schedules-extra.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions, type PlateauStateDict } from './plateau.js';
