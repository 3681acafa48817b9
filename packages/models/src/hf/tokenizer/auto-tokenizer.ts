// SPDX-License-Identifier: MIT
// AutoTokenizer: Hugging Face's entry point for tokenizers. Every family Heed supports ships a
// tokenizer.json (byte-level BPE for GPT-2, WordPiece for BERT, byte-fallback BPE for Llama), so
// one class, PreTrainedTokenizerFast, serves them all.
import type { PretrainedSource } from '../source.js';
import { readTokenizerFiles } from './files.js';
import { PreTrainedTokenizerFast } from './tokenizer.js';

/**
 * Loads the tokenizer of a pretrained checkpoint folder.
 *
 * @example
 * ```ts
 * const tok = await AutoTokenizer.fromPretrained('./checkpoints/gpt2');
 * const ids = tok.encode('Hello world');
 * ```
 */
export class AutoTokenizer {
  private constructor() {}

  /**
   * Reads tokenizer.json (+ tokenizer_config.json / special_tokens_map.json) from a local
   * directory (Node.js) or a URL prefix (browser, `fetch`).
   *
   * @example
   * ```ts
   * const tok = await AutoTokenizer.fromPretrained('https://example.org/models/bert/');
   * ```
   */
  static async fromPretrained(source: PretrainedSource): Promise<PreTrainedTokenizerFast> {
    const { json, config } = await readTokenizerFiles(source, 'AutoTokenizer.fromPretrained');
    return new PreTrainedTokenizerFast(json, config);
  }
}
