// SPDX-License-Identifier: MIT
// Public entry point of @heed/train (browser and Node): the training loop with its cadence
// and hooks, progress metering (tokens/s, ETA), a seedable data RNG, datasets and the DataLoader
// (seeded shuffle, collate with padding, prefetch), training checkpoints as
// bytes, backend selection with fallback, and the loss-curve / attention-heatmap figures as
// Vega-Lite specs rendered to SVG, and the ROUGE summary metric. File system and terminal pieces are in `@heed/train/node`.
// Importing it has no side effects and needs no `node:` module.
/**
 * The universal entry of @heed/train: runs in browsers, Web Workers and Node.
 *
 * @packageDocumentation
 * @module @heed/train
 */
export { Rng, epochPermutation } from './rng.js';
export { DistributedSampler, type DistributedSamplerOptions } from './distributed-sampler.js';
export {
  TensorDataset, Subset, randomSplit, splitLengths, isMapDataset, type Dataset, type IterableDataset,
} from './data.js';
export {
  defaultCollate, padCollate, disposeBatch, type Collated, type NumericArray, type NumericTypedArray, type PadCollateOptions, type SequenceItem, type PaddedBatch,
} from './collate.js';
export { DataLoader, type DataLoaderOptions, type EpochStart } from './loader.js';
export {
  ProgressMeter, lineProgress, formatProgress,
  type ProgressSnapshot, type ProgressReporter, type StepInfo,
} from './progress.js';
export {
  trainLoop, isDue, type TrainLoopOptions, type TrainLoopResult, type BatchLoss, type LossPoint, type CompiledBatch, type CompiledTrainStep, type TrainLoopOptimizer,
} from './loop.js';
export {
  chooseStepMode, stepReport, type StepMode, type StepModeBlocker, type StepModeOptions, type StepReport, type StepReportOptions,
} from './step-mode.js';
export {
  serializeTrainingCheckpoint, readTrainingCheckpointInfo, restoreTrainingCheckpoint, attachGenerator,
  type TrainingState, type TrainingSettings, type TrainingOptimizer, type TrainingScheduler, type TrainingCheckpointExtra, type RestoredTraining, type MakeOptimizer,
} from './checkpoint.js';
export { useBackend, BACKENDS, DEFAULT_LOADERS, type BackendName, type BackendLoaders, type UseBackendOptions } from './backend.js';
export { rouge, corpusRouge, rougeN, rougeL, rougeTokens, lcsLength, type RougeScore, type RougeScores } from './rouge.js';
export {
  renderSvg, lossCurveSpec, lossCurveSvg, heatmapSpec, heatmapSvg, withSmoothedTrain, tokenLabels,
  type LossCurveOptions, type HeatmapOptions,
} from './plot.js';
