// SPDX-License-Identifier: MIT
// The tokenizers (character-level and byte-level BPE) and the JSON dispatcher that restores
// either kind from its serialised form. No side effects on import.
import { HeedError } from '@heed/core';
import { BpeTokenizer } from './bpe.js';
import { CharTokenizer } from './char.js';
import type { Tokenizer, TokenizerJSON } from './types.js';

export { CharTokenizer, type CharTokenizerOptions } from './char.js';
export { BpeTokenizer, preTokenize, type BpeTrainOptions } from './bpe.js';
export {
  SPECIAL_TOKENS, RESERVED_TOKENS, splitSpecial, checkSpecialTokens,
  type SpecialTokenName, type Tokenizer, type TokenizerJSON, type CharTokenizerJSON, type BpeTokenizerJSON,
  type EncodeOptions, type DecodeOptions,
} from './types.js';

const FROM_JSON: { [K in TokenizerJSON['type']]: (json: Extract<TokenizerJSON, { type: K }>) => Tokenizer } = {
  char: (json) => CharTokenizer.fromJSON(json),
  bpe: (json) => BpeTokenizer.fromJSON(json),
};

/**
 * Restores a tokenizer of any kind from `tokenizer.toJSON()` (or a JSON string of it).
 *
 * @example
 * ```ts
 * const tok2 = tokenizerFromJSON(JSON.stringify(tok.toJSON()));
 * tok2.encode('abc'); // same ids as tok.encode('abc')
 * ```
 */
export function tokenizerFromJSON(json: TokenizerJSON | string): Tokenizer {
  const value: unknown = typeof json === 'string' ? JSON.parse(json) : json;
  const type = (value as { type?: unknown } | null)?.type;
  if (type !== 'char' && type !== 'bpe') {
    throw new HeedError('tokenizerFromJSON', `unknown tokenizer type '${String(type)}'; expected one of ${Object.keys(FROM_JSON).join(', ')}.`);
  }
  return (FROM_JSON[type] as (j: TokenizerJSON) => Tokenizer)(value as TokenizerJSON);
}
