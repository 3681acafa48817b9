// SPDX-License-Identifier: MIT
// Hugging Face compatibility: tokenizers (tokenizer.json), pretrained checkpoints (config.json +
// safetensors) with Hugging Face's class names and key names, and generation for them.
export {};
export { processLogits, processorNames, softmaxRow, sampleScores, type LogitsProcessorSettings, type RowState } from './logits-process.js';
export { openSource, writeSourceFile, type PretrainedSource, type SourceReader } from './source.js';
export {
  CONFIG_NAME, GENERATION_CONFIG_NAME, parseConfig, loadConfig, loadGenerationConfig, generationConfigFromModel, serializeConfig,
  ConfigFields, type PretrainedConfig, type GenerationConfig, type TokenIdField,
} from './config.js';
export { WEIGHTS_NAME, WEIGHTS_INDEX_NAME, loadWeights, saveWeights, type LoadWeightsOptions, type SaveWeightsOptions } from './weights.js';
export {
  cacheLength, disposeCache, checkCausalInputs, defaultPositionIds, causalPaddingMask, appendKeyValue,
  type LayerKeyValue, type PastKeyValues, type CausalLMForwardOptions, type CausalLMOutput, type CausalLM,
} from './cache.js';
export {
  PreTrainedModel, loadPretrained, type FromPretrainedOptions, type SavePretrainedOptions, type PretrainedModelClass,
} from './pretrained.js';
export {
  AutoModelForCausalLM, AutoModelForSequenceClassification, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, autoModelClass,
  supportedModelTypes, AUTO_MODELS, type AutoTask, type AutoTaskModels, type SupportedModelType,
} from './auto.js';
export { generate, streamGenerate, type HFGenerateOptions, type GenerationStep } from './generate.js';
export { HF_ACTIVATIONS, hfActivation, initHFWeights, keyPaddingMask, embedTokens, type HFActivation } from './modeling-utils.js';
export {
  bertSettings, BERT_IGNORED_KEYS, numLabelsOf, defaultLabels,
  type BertConfig, type BertProblemType, type BertSettings, type FromPretrainedEncoderOptions,
} from './bert-config.js';
export {
  BertModel, BertEmbeddings, BertSelfAttention, BertResidualOutput, BertAttention, BertLayer, BertEncoder, DenseBlock,
  type BertModelOutput, type BertForwardOptions,
} from './bert.js';
export {
  BertForSequenceClassification, BertForMaskedLM, BertPredictionHeadTransform, BertLMPredictionHead, BertOnlyMLMHead,
  type BertHeadOutput, type BertHeadForwardOptions,
} from './bert-heads.js';
export { GPT2Model, GPT2LMHeadModel, GPT2Block, GPT2Attention, GPT2MLP, Conv1D, type GPT2Config, type GPT2ModelOutput } from './gpt2.js';
export {
  LlamaModel, LlamaForCausalLM, LlamaDecoderLayer, LlamaAttention, LlamaMLP, type LlamaConfig, type LlamaModelOutput,
} from './llama.js';
export * from './tokenizer/index.js';
export { bartSettings, disposeEncoderDecoderCache, type BartConfig, type BartSettings, type EncoderDecoderCache } from './bart-config.js';
export {
  BartAttention, BartEncoderLayer, BartDecoderLayer, BartLearnedPositionalEmbedding, BartEncoder, BartDecoder, decoderSelfMask,
} from './bart.js';
export {
  BartModel, BartForConditionalGeneration, shiftTokensRight, type BartForwardOptions, type Seq2SeqModelOutput, type Seq2SeqLMOutput,
} from './bart-model.js';
export { generateSeq2Seq, noRepeatNgram, type Seq2SeqGenerateOptions } from './bart-generate.js';
