// SPDX-License-Identifier: MIT
// Public API of the attention family: MultiheadAttention, its kv-cache, rotary embeddings and
// mask helpers. No side effects on import.
export {
  MultiheadAttention, type MultiheadAttentionOptions, type MultiheadAttentionForwardOptions, type AttentionOutput,
} from './multihead.js';
export { KVCache, type KVCacheOptions } from './kv-cache.js';
export { RotaryEmbedding, type RotaryOptions, type RotaryApplyOptions, type RotaryStyle } from './rope.js';
export { generateSquareSubsequentMask, causalValid, normalizeMasks, type AttentionMasks, type MaskDims } from './masks.js';
export { maskedAttention, type MaskedAttentionOptions } from './functional.js';
