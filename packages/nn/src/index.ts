// SPDX-License-Identifier: MIT
// Public entry point of @heed/nn: Module and weight init, layers, attention, transformers,
// and the losses, optimizers and safetensors I/O. Importing it has no side effects.
export {
  Module, parameter, buffer, isParameter, isBuffer, toSnakeCase,
  type BufferOptions, type StateDict, type LoadStateDictOptions, type LoadStateDictResult,
} from './module.js';
export { withEval } from './eval-mode.js';
export * from './init.js';
export * from './layers/index.js';
export * from './attention/index.js';
export * from './transformer/index.js';
export * from './losses/index.js';
export * from './optim/index.js';
export * from './io/index.js';
export * from './parallel/index.js';
