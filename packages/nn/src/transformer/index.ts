// SPDX-License-Identifier: MIT
// Public API of the transformer family: encoder/decoder layers, their stacks and the full
// encoder-decoder Transformer. No side effects on import.
export {
  TransformerEncoderLayer, TransformerDecoderLayer,
  type TransformerLayerOptions, type EncoderLayerForwardOptions, type DecoderLayerForwardOptions, type DecoderLayerCache,
} from './layers.js';
export {
  TransformerEncoder, TransformerDecoder, Transformer, disposeDecoderCache,
  type EncoderForwardOptions, type DecoderForwardOptions, type TransformerOptions, type TransformerForwardOptions,
} from './model.js';
