// SPDX-License-Identifier: MIT
// Public entry point of @heed/models: ready models (seq2seq translator, GPT, classifier),
// tokenizers (character-level, byte-level BPE), generation helpers (sampling, beam search),
// attention-map extraction, and single-file model I/O. Importing it has no side effects.
export * from './tokenizers/index.js';
export { padBatch, checkPositiveInts, checkAttentionConfig, type SequenceIds } from './batch.js';
export { argmaxRow, samplingDistribution, uniform, sampleToken, type SamplingOptions } from './generation/sampling.js';
export { beamSearch, type BeamStepper, type BeamSearchOptions, type BeamHypothesis } from './generation/beam.js';
export {
  encoderSelfAttention, decoderCrossAttention, type EncoderAttentionOptions, type DecoderAttentionOptions,
} from './attention-maps.js';
export { Seq2SeqTransformer, type Seq2SeqConfig, type Seq2SeqOptions, type DecodeSeq2SeqOptions, type TokenIds } from './seq2seq.js';
export { GPT, type GPTConfig, type GPTOptions, type GenerateOptions } from './gpt.js';
export { TransformerClassifier, type ClassifierConfig, type ClassifierOptions, type Pooling } from './classifier.js';
export {
  saveModel, loadModel, serializeModel, deserializeModel, readModelInfo, createModel, modelKind,
  type ModelTypes, type ModelKind, type AnyModel, type LoadedModel, type SaveModelOptions,
} from './io.js';
export * from './hf/index.js';
