// SPDX-License-Identifier: MIT
// Hugging Face tokenizers (tokenizer.json): AutoTokenizer and PreTrainedTokenizerFast.
export { AutoTokenizer } from './auto-tokenizer.js';
export { PreTrainedTokenizerFast, type TokenizerEncodeOptions, type TokenizerDecodeOptions } from './tokenizer.js';
export type { EncodeBatchOptions, BatchEncoding, TensorBatchEncoding } from './batch-encode.js';
export type {
  TokenizerJSON as HFTokenizerJSON, ComponentJSON, AddedTokenJSON, ConfigTokenJSON, ConfigAddedTokenJSON, TokenizerConfigJSON,
} from './json.js';
