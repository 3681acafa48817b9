// SPDX-License-Identifier: MIT
// Public entry point of @heed/train/node (Node.js only): the command line of a training
// script, the terminal progress bar, and the run's files (figures, checkpoints, the guard
// against overwriting a longer-trained model). Everything of `@heed/train` is re-exported,
// so a script needs one import. `node:` modules are loaded dynamically, when first used.
/**
 * The Node.js entry of @heed/train: everything of `@heed/train`, plus the training-script CLI, the terminal progress bar and the run's files.
 *
 * @packageDocumentation
 * @module @heed/train/node
 */
export * from '../index.js';
export { terminalProgress, type TerminalProgressOptions, type TerminalStream } from './progress.js';
export {
  RUN_FILES, TRAINED_STEPS_KEY, runFiles, ensureDir, writeTextFile, saveTrainingCheckpoint, readCheckpointInfo,
  resumeTraining, trainedSteps, guardOutput,
} from './files.js';
export {
  parseTrainingArgs, resolveEndStep, selectBackend, guardRunOutput, parsePositiveInt, parseNonNegativeInt, parsePositiveFloat,
  type TrainingArgs, type TrainingArgsOptions, type TrainingPreset,
} from './cli.js';
export { CPU_PATHS, cpuPathLoaders, type CpuPath } from './cpu-path.js';
