// SPDX-License-Identifier: MIT
// PreTrainedTokenizerFast: a Hugging Face tokenizer.json pipeline (added tokens -> normalizer ->
// pre-tokenizer -> model -> post-processor; decoder for the way back) with transformers' special
// tokens from tokenizer_config.json. encode/decode/tokenize follow the Rust `tokenizers` library
// exactly; decode also applies transformers' clean_up_tokenization_spaces when the config asks.
// Invariants: building from JSON validates every component (unknown types are HeedErrors naming
// them); a tokenizer never changes after construction (the BPE word cache aside).
import { HeedError, describeValue } from '@heed/core';
import { AddedVocabulary, type Segment } from './added-tokens.js';
import { encodeBatch, toTensors, type BatchEncoding, type EncodeBatchOptions, type TensorBatchEncoding } from './batch-encode.js';
import { buildDecoder, cleanupSpaces, type Decoder } from './decoders.js';
import { writeTokenizerFiles } from './files.js';
import type { ConfigTokenJSON, TokenizerConfigJSON, TokenizerJSON } from './json.js';
import { buildModel, type TokenizerModel } from './models.js';
import { buildNormalizer, type Normalizer } from './normalizers.js';
import { buildPreTokenizer, type PreTokenizer } from './pre-tokenizers.js';
import { bosEosProcessor, buildPostProcessor, postProcess, type EncodedIds, type PostProcessor } from './processors.js';

const OP = 'AutoTokenizer';

/** @internal Tokenize splits only until `max` tokens are reached, from the end when `left`. */
export interface TokenLimit {
  max: number;
  left: boolean;
}

/**
 * Options of {@link PreTrainedTokenizerFast.encode}.
 *
 * @example
 * ```ts
 * tok.encode('Hello', { addSpecialTokens: false, textPair: 'world' });
 * ```
 */
export interface TokenizerEncodeOptions {
  /** Add the post-processor's special tokens ([CLS]/[SEP], <s>, ...); default true. */
  addSpecialTokens?: boolean;
  /** A second sequence (BERT-style pairs). */
  textPair?: string;
}

/**
 * Options of {@link PreTrainedTokenizerFast.decode}.
 *
 * @example
 * ```ts
 * tok.decode([2, 34, 3], { skipSpecialTokens: true });
 * ```
 */
export interface TokenizerDecodeOptions {
  /** Drop special added tokens (default false). */
  skipSpecialTokens?: boolean;
  /**
   * transformers' clean_up_tokenization (" ." -> "." ...); default: the config's clean_up_tokenization_spaces.
   * As in transformers 5, BPE tokenizers skip it unless the config sets
   * clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output.
   */
  cleanUpTokenizationSpaces?: boolean;
}

function tokenContent(t: ConfigTokenJSON | undefined): string | null {
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t;
  if (typeof t === 'object' && typeof t.content === 'string') return t.content;
  throw new HeedError(OP, `a special token in tokenizer_config.json is ${describeValue(t)}; expected a string or {"content": ...}.`);
}

function checkJSON(json: unknown): TokenizerJSON {
  const j = json as Partial<TokenizerJSON> | null;
  if (typeof j !== 'object' || j === null || typeof j.model !== 'object' || j.model === null) {
    throw new HeedError(OP, 'tokenizer.json has no "model" object; is it a Hugging Face tokenizers file (saved by tokenizer.save / save_pretrained)?');
  }
  if (j.added_tokens !== undefined && !Array.isArray(j.added_tokens)) throw new HeedError(OP, 'tokenizer.json "added_tokens" must be an array.');
  return { version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null, pre_tokenizer: null,
    post_processor: null, decoder: null, ...j } as TokenizerJSON;
}

/**
 * A Hugging Face fast tokenizer (tokenizer.json), usually made by {@link AutoTokenizer.fromPretrained}.
 *
 * @example
 * ```ts
 * const tok = PreTrainedTokenizerFast.fromJSON(tokenizerJson, { eos_token: '</s>' });
 * tok.decode(tok.encode('Hello world'), { skipSpecialTokens: true }); // 'Hello world'
 * ```
 */
export class PreTrainedTokenizerFast {
  /** The tokenizer.json content (as read; `savePretrained` writes it back). */
  readonly json: TokenizerJSON;
  /** The tokenizer_config.json content (merged with special_tokens_map.json). */
  readonly config: TokenizerConfigJSON;
  /** The longest input a model takes (tokenizer_config.json's model_max_length; Infinity when absent). */
  readonly modelMaxLength: number;
  /** Which side `encodeBatch` pads (tokenizer_config.json's padding_side; default 'right'). */
  readonly paddingSide: 'left' | 'right';
  /** Which side truncation cuts (tokenizer_config.json's truncation_side; default 'right'). */
  readonly truncationSide: 'left' | 'right';
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly model: TokenizerModel;
  private readonly added: AddedVocabulary;
  private readonly postProcessor: PostProcessor | null;
  private readonly decoder: Decoder | null;

  /** Builds a tokenizer from parsed tokenizer.json (and tokenizer_config.json) objects. */
  constructor(json: TokenizerJSON, config: TokenizerConfigJSON = {}) {
    this.json = checkJSON(json);
    this.config = config;
    this.normalizer = this.json.normalizer ? buildNormalizer(this.json.normalizer) : null;
    this.preTokenizer = this.json.pre_tokenizer ? buildPreTokenizer(this.json.pre_tokenizer) : null;
    this.model = buildModel(this.json.model);
    this.added = new AddedVocabulary(this.json.added_tokens, this.normalizer);
    this.postProcessor = this.json.post_processor ? buildPostProcessor(this.json.post_processor) : null;
    if ('add_bos_token' in config || 'add_eos_token' in config) {
      // transformers rebuilds the post-processor from these flags (each false when absent).
      const special = (on: unknown, token: string | null): [string, number] | null => {
        const id = on === true && token !== null ? this.tokenToId(token) : undefined;
        return id === undefined ? null : [token as string, id];
      };
      this.postProcessor = bosEosProcessor(special(config.add_bos_token, this.bosToken), special(config.add_eos_token, this.eosToken));
    }
    this.decoder = this.json.decoder ? buildDecoder(this.json.decoder) : null;
    const max = config.model_max_length;
    this.modelMaxLength = typeof max === 'number' && Number.isInteger(max) && max > 0 && max < 1e18 ? max : Infinity;
    this.paddingSide = config.padding_side === 'left' ? 'left' : 'right';
    this.truncationSide = config.truncation_side === 'left' ? 'left' : 'right';
  }

  /**
   * Builds a tokenizer from tokenizer.json text or object (browser-friendly, no I/O).
   *
   * @example
   * ```ts
   * const tok = PreTrainedTokenizerFast.fromJSON(await (await fetch('/tok/tokenizer.json')).text());
   * ```
   */
  static fromJSON(json: string | TokenizerJSON, config: TokenizerConfigJSON = {}): PreTrainedTokenizerFast {
    let parsed: unknown = json;
    if (typeof json === 'string') {
      try {
        parsed = JSON.parse(json);
      } catch (e) {
        throw new HeedError(OP, `tokenizer.json is not valid JSON: ${(e as Error).message}`);
      }
    }
    return new PreTrainedTokenizerFast(parsed as TokenizerJSON, config);
  }

  /** The number of distinct tokens, added tokens included (transformers' `len(tokenizer)`). */
  get vocabSize(): number {
    let n = this.model.vocab.size;
    for (const t of this.added.tokens) if (!this.model.vocab.has(t.content)) n++;
    return n;
  }

  /** token -> id for the whole vocabulary, added tokens included. */
  getVocab(): Map<string, number> {
    const v = new Map(this.model.vocab);
    for (const t of this.added.tokens) v.set(t.content, t.id);
    return v;
  }

  private special(name: 'bos_token' | 'eos_token' | 'unk_token' | 'pad_token' | 'sep_token' | 'cls_token' | 'mask_token'): string | null {
    return tokenContent(this.config[name]);
  }

  /** The bos token (tokenizer_config.json), or null. */
  get bosToken(): string | null { return this.special('bos_token'); }
  /** The eos token (tokenizer_config.json), or null. */
  get eosToken(): string | null { return this.special('eos_token'); }
  /** The unk token (tokenizer_config.json), or null. */
  get unkToken(): string | null { return this.special('unk_token'); }
  /** The pad token (tokenizer_config.json), or null. */
  get padToken(): string | null { return this.special('pad_token'); }
  /** Id of the bos token, or null. */
  get bosTokenId(): number | null { return this.idOrNull(this.bosToken); }
  /** Id of the eos token, or null. */
  get eosTokenId(): number | null { return this.idOrNull(this.eosToken); }
  /** Id of the unk token, or null. */
  get unkTokenId(): number | null { return this.idOrNull(this.unkToken); }
  /** Id of the pad token, or null (then `encodeBatch` cannot pad). */
  get padTokenId(): number | null { return this.idOrNull(this.padToken); }
  /** Id of the sep token ([SEP]), or null. */
  get sepTokenId(): number | null { return this.idOrNull(this.special('sep_token')); }
  /** Id of the cls token ([CLS]), or null. */
  get clsTokenId(): number | null { return this.idOrNull(this.special('cls_token')); }
  /** Id of the mask token, or null. */
  get maskTokenId(): number | null { return this.idOrNull(this.special('mask_token')); }

  private idOrNull(token: string | null): number | null {
    return token === null ? null : this.tokenToId(token) ?? null;
  }

  /** Id of one token (added tokens first, then the model's vocabulary), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.added.byContent.get(token)?.id ?? this.model.vocab.get(token);
  }

  /** The token of one id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.added.tokenOf(id) ?? this.model.vocabR.get(id);
  }

  /**
   * Ids of tokens; unknown tokens get the unk id (null without one), as transformers does.
   *
   * @example
   * ```ts
   * tok.convertTokensToIds(['[CLS]', 'hello']); // [2, 57]
   * ```
   */
  convertTokensToIds(tokens: readonly string[]): (number | null)[];
  /** The id of one token (the unk id when unknown, null without one). */
  convertTokensToIds(token: string): number | null;
  convertTokensToIds(tokens: string | readonly string[]): number | null | (number | null)[] {
    const one = (t: string) => this.tokenToId(t) ?? this.unkTokenId;
    return typeof tokens === 'string' ? one(tokens) : tokens.map(one);
  }

  /**
   * Tokens of ids (unknown ids are a HeedError).
   *
   * @example
   * ```ts
   * tok.convertIdsToTokens([2, 57]); // ['[CLS]', 'hello']
   * ```
   */
  convertIdsToTokens(ids: readonly number[]): string[] {
    return ids.map((id) => {
      const t = this.idToToken(id);
      if (t === undefined) throw new HeedError('convertIdsToTokens', `id ${describeValue(id)} is not in the vocabulary (size ${this.vocabSize}).`);
      return t;
    });
  }

  /** One sequence through added tokens, normalizer, pre-tokenizer and model. */
  private encodeSequence(text: string, typeId: number, limit?: TokenLimit): EncodedIds {
    if (typeof text !== 'string') throw new HeedError('encode', `text must be a string, got ${describeValue(text)}.`);
    // The pre-tokenized splits: an added token (its id) or a word for the model.
    const splits: Segment[] = [];
    for (const seg of this.added.extractAndNormalize(text)) {
      if (seg.id !== undefined) splits.push(seg);
      else for (const w of this.preTokenizer ? this.preTokenizer(seg) : [seg]) splits.push(w);
    }
    const words: number[][] = new Array<number[]>(splits.length);
    let first = 0;
    let end = splits.length;
    if (limit === undefined) {
      for (let k = 0; k < splits.length; k++) words[k] = this.splitIds(splits[k]);
    } else {
      // With truncation on, the Rust library tokenizes splits only until max_length tokens are
      // reached (from the cut side; added tokens count but never stop it), and truncates after.
      let total = 0;
      const order = limit.left ? splits.map((_, k) => splits.length - 1 - k) : splits.map((_, k) => k);
      for (const k of order) {
        words[k] = this.splitIds(splits[k]);
        total += words[k].length;
        if (limit.left) first = k; else end = k + 1;
        if (splits[k].id === undefined && total >= limit.max) break;
      }
    }
    const ids: number[] = [];
    const tokens: string[] = [];
    const vocabR = this.model.vocabR;
    for (let k = first; k < end; k++) {
      const seg = splits[k];
      // An added token's token is the text it matched (with lstrip/rstrip spaces, normalized), as in Rust.
      if (seg.id !== undefined) { ids.push(seg.id); tokens.push(seg.text); continue; }
      const w = words[k];
      for (let q = 0; q < w.length; q++) { ids.push(w[q]); tokens.push(vocabR.get(w[q]) as string); }
    }
    return { ids, tokens, typeIds: new Array<number>(ids.length).fill(typeId) };
  }

  private splitIds(split: Segment): number[] {
    return split.id !== undefined ? [split.id] : this.model.tokenize(split.text);
  }

  /**
   * @internal The ids and token type ids of one input (a pair when `textPair` is given), before
   * truncation; `limits` stop tokenizing each sequence early as the Rust library does when truncating.
   */
  encodeParts(text: string, textPair?: string, limits?: readonly (TokenLimit | undefined)[]): EncodedIds[] {
    const parts = [this.encodeSequence(text, 0, limits?.[0])];
    if (textPair !== undefined) parts.push(this.encodeSequence(textPair, 1, limits?.[1]));
    return parts;
  }

  /** @internal Adds the special tokens (or just joins a pair). */
  finish(parts: EncodedIds[], addSpecialTokens: boolean): EncodedIds {
    return postProcess(this.postProcessor, parts, addSpecialTokens);
  }

  /** @internal How many special tokens the post-processor adds to a single input or a pair. */
  numSpecialTokensToAdd(pair: boolean): number {
    const empty = (): EncodedIds => ({ ids: [], tokens: [], typeIds: [] });
    return this.finish(pair ? [empty(), empty()] : [empty()], true).ids.length;
  }

  /**
   * Text (and an optional pair) to ids, special tokens included unless `addSpecialTokens: false`.
   *
   * @example
   * ```ts
   * tok.encode('Hello world'); // e.g. [2, 34, 128, 3] for a BERT tokenizer
   * ```
   */
  encode(text: string, options: TokenizerEncodeOptions = {}): number[] {
    return this.finish(this.encodeParts(text, options.textPair), options.addSpecialTokens ?? true).ids;
  }

  /**
   * The tokens of a text, without special tokens (transformers' `tokenize`).
   *
   * @example
   * ```ts
   * tok.tokenize('Hello world'); // ['Hello', 'Ġworld'] for GPT-2
   * ```
   */
  tokenize(text: string, options: TokenizerEncodeOptions = {}): string[] {
    return this.finish(this.encodeParts(text, options.textPair), options.addSpecialTokens ?? false).tokens;
  }

  /**
   * Ids back to text through the decoder (tokens joined by spaces when there is none).
   *
   * @example
   * ```ts
   * tok.decode(tok.encode('Hello world'), { skipSpecialTokens: true }); // 'hello world' (an uncased BERT)
   * ```
   */
  decode(ids: readonly number[], options: TokenizerDecodeOptions = {}): string {
    if (!Array.isArray(ids)) throw new HeedError('decode', `ids must be an array of token ids, got ${describeValue(ids)}.`);
    const tokens: string[] = [];
    for (const id of ids) {
      const t = Number.isInteger(id) ? this.idToToken(id) : undefined;
      if (t === undefined) continue; // the Rust library skips ids it does not know
      if (options.skipSpecialTokens && this.added.isSpecial(id)) continue;
      tokens.push(t);
    }
    const text = this.decoder ? this.decoder(tokens).join('') : tokens.join(' ');
    const clean = options.cleanUpTokenizationSpaces ?? this.config.clean_up_tokenization_spaces === true;
    // transformers 5 skips the cleanup for BPE models (it would eat real spaces before punctuation).
    const bpeSkip = this.json.model.type === 'BPE' && this.config.clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output !== true;
    return clean && !bpeSkip ? cleanupSpaces(text) : text;
  }

  /**
   * Decodes several id lists.
   *
   * @example
   * ```ts
   * tok.batchDecode([[1, 2], [3]], { skipSpecialTokens: true });
   * ```
   */
  batchDecode(batch: readonly (readonly number[])[], options: TokenizerDecodeOptions = {}): string[] {
    return batch.map((ids) => this.decode(ids, options));
  }

  /**
   * Encodes several texts (or pairs) with transformers' padding and truncation rules and an attention mask.
   *
   * @example
   * ```ts
   * const { inputIds, attentionMask } = tok.encodeBatch(['Hello', 'Hello world'], { padding: true });
   * const t = tok.encodeBatch(['Hello'], { padding: 'max_length', maxLength: 8, returnTensors: 'heed' });
   * ```
   */
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions & { returnTensors: 'heed' }): TensorBatchEncoding;
  /** Encodes several texts into arrays (see the tensor overload for the options). */
  encodeBatch(texts: readonly string[], options?: EncodeBatchOptions & { returnTensors?: undefined }): BatchEncoding;
  encodeBatch(texts: readonly string[], options: EncodeBatchOptions = {}): BatchEncoding | TensorBatchEncoding {
    const b = encodeBatch(this, texts, options);
    return options.returnTensors === 'heed' ? toTensors(b) : b;
  }

  /**
   * Writes tokenizer.json and tokenizer_config.json into `dir` (Node.js); `AutoTokenizer.fromPretrained(dir)` reads them back.
   *
   * @example
   * ```ts
   * await tok.savePretrained('./my-tokenizer');
   * ```
   */
  async savePretrained(dir: string): Promise<void> {
    await writeTokenizerFiles(dir, { json: this.json, config: this.config }, 'savePretrained');
  }
}
