// SPDX-License-Identifier: MIT
// Public API of the layers: affine/lookup, normalisation (incl. batch and group norm), convolution
// and pooling, activations and dropout, containers, positional encodings. No side effects on import.
export { Linear, Identity, Embedding, type LinearOptions, type EmbeddingOptions } from './linear.js';
export { LayerNorm, RMSNorm, type LayerNormOptions, type RMSNormOptions } from './normalization.js';
export { BatchNorm, BatchNorm1d, BatchNorm2d, GroupNorm, type BatchNormOptions, type GroupNormOptions } from './batchnorm.js';
export { ConvNd, Conv1d, Conv2d, ConvTranspose2d, type ConvOptions, type ConvTransposeOptions, type PaddingMode } from './conv.js';
export { MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d, AdaptiveAvgPool2d, Flatten } from './pooling.js';
export {
  Dropout, ReLU, GELU, SiLU, Tanh, Sigmoid, Softplus, Hardtanh, LeakyReLU, ELU, Mish, ACTIVATIONS, resolveActivation, type ActivationName, type DropoutOptions,
} from './activation.js';
export { ModuleList, Sequential, ModuleDict, type TensorModule } from './containers.js';
export {
  SinusoidalPositionalEncoding, LearnedPositionalEmbedding, sinusoidTable,
  type SinusoidalOptions, type LearnedPositionalOptions, type PositionalForwardOptions,
} from './positional.js';
