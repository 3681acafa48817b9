// SPDX-License-Identifier: MIT
// Hugging Face compatibility: tokenizers (tokenizer.json), pretrained checkpoints (config.json +
// safetensors) with Hugging Face's class names and key names, and generation for them.
export {};
export { processLogits, processorNames, softmaxRow, sampleScores, type LogitsProcessorSettings, type RowState } from './logits-process.js';
