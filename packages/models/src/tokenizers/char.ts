// SPDX-License-Identifier: MIT
// CharTokenizer: one id per Unicode code point seen in a training corpus, after the reserved
// special tokens (ids 0..3) and any extra special tokens (ids 4..).
// Invariants: the character table is sorted by code point (so building from the same set of
// characters always gives the same ids); unknown characters encode to `<unk>`; for text
// made of known characters `decode(encode(text)) === text`.
import { HeedError } from '@heed/core';
import {
  RESERVED_TOKENS, SPECIAL_TOKENS, checkSpecialTokens, splitSpecial,
  type CharTokenizerJSON, type DecodeOptions, type EncodeOptions, type Tokenizer,
} from './types.js';

/**
 * Options of {@link CharTokenizer.fromCorpus}.
 *
 * @example
 * ```ts
 * CharTokenizer.fromCorpus(['hallo'], { extraSpecialTokens: ['<de>'] });
 * ```
 */
export interface CharTokenizerOptions {
  /** Special tokens matched atomically in the text (e.g. language tags). */
  extraSpecialTokens?: readonly string[];
}

/**
 * A character-level tokenizer (code points), serialisable to JSON.
 *
 * @example
 * ```ts
 * const tok = CharTokenizer.fromCorpus(['hello world']);
 * const ids = tok.encode('hello', { addEos: true });
 * tok.decode(ids); // 'hello'
 * ```
 */
export class CharTokenizer implements Tokenizer {
  readonly padId = SPECIAL_TOKENS.pad.id;
  readonly bosId = SPECIAL_TOKENS.bos.id;
  readonly eosId = SPECIAL_TOKENS.eos.id;
  readonly unkId = SPECIAL_TOKENS.unk.id;
  readonly extraSpecialTokens: readonly string[];
  /** The characters in id order (after the special tokens). */
  readonly chars: readonly string[];
  private readonly toId = new Map<string, number>();
  private readonly specials: readonly string[];

  /** Builds a tokenizer from an explicit character list (see {@link CharTokenizer.fromCorpus}). */
  constructor(chars: readonly string[], options: CharTokenizerOptions = {}) {
    this.extraSpecialTokens = checkSpecialTokens('CharTokenizer', options.extraSpecialTokens ?? []);
    this.specials = [...RESERVED_TOKENS, ...this.extraSpecialTokens];
    this.specials.forEach((t, i) => this.toId.set(t, i));
    for (const c of chars) {
      if ([...c].length !== 1) throw new HeedError('CharTokenizer', `each entry must be one code point, got '${c}'.`);
      if (this.toId.has(c)) throw new HeedError('CharTokenizer', `character '${c}' is listed twice.`);
      this.toId.set(c, this.toId.size);
    }
    this.chars = [...chars];
  }

  /**
   * The tokenizer of every code point occurring in `corpus`, sorted by code point.
   *
   * @example
   * ```ts
   * CharTokenizer.fromCorpus(['abc', 'cab']).vocabSize; // 4 reserved + 3
   * ```
   */
  static fromCorpus(corpus: Iterable<string>, options: CharTokenizerOptions = {}): CharTokenizer {
    const specials = options.extraSpecialTokens ?? [];
    const set = new Set<string>();
    for (const text of corpus) {
      for (const piece of splitSpecial(text, specials)) if ('text' in piece) for (const c of piece.text) set.add(c);
    }
    const chars = [...set].sort((a, b) => (a.codePointAt(0) as number) - (b.codePointAt(0) as number));
    return new CharTokenizer(chars, options);
  }

  /**
   * Rebuilds a tokenizer from {@link CharTokenizer.toJSON}'s output.
   *
   * @example
   * ```ts
   * const copy = CharTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
   * ```
   */
  static fromJSON(json: CharTokenizerJSON): CharTokenizer {
    if (json?.type !== 'char' || json.version !== 1 || !Array.isArray(json.chars)) {
      throw new HeedError('CharTokenizer.fromJSON', `expected { type: 'char', version: 1, chars: [...] }, got type '${String(json?.type)}'.`);
    }
    return new CharTokenizer(json.chars, { extraSpecialTokens: json.extraSpecialTokens ?? [] });
  }

  /** Number of ids. */
  get vocabSize(): number {
    return this.specials.length + this.chars.length;
  }

  /**
   * Text to ids (unknown characters become `<unk>`).
   *
   * @example
   * ```ts
   * tok.encode('<de> eins', { addBos: true });
   * ```
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = options.addBos ? [this.bosId] : [];
    for (const piece of splitSpecial(text, this.extraSpecialTokens)) {
      if ('special' in piece) ids.push(this.toId.get(piece.special) as number);
      else for (const c of piece.text) ids.push(this.toId.get(c) ?? this.unkId);
    }
    if (options.addEos) ids.push(this.eosId);
    return ids;
  }

  /**
   * Ids to text (special tokens dropped unless `skipSpecialTokens: false`).
   *
   * @example
   * ```ts
   * tok.decode([1, 10, 11, 2]); // the two characters of ids 10 and 11
   * ```
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    let out = '';
    for (const id of ids) {
      if (id < this.specials.length) {
        if (!skip) out += this.idToToken(id);
      } else {
        out += this.idToToken(id);
      }
    }
    return out;
  }

  /**
   * The string of one id.
   *
   * @example
   * ```ts
   * tok.idToToken(2); // '<eos>'
   * ```
   */
  idToToken(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new HeedError('CharTokenizer', `id ${id} is out of range [0, ${this.vocabSize}).`);
    }
    return id < this.specials.length ? this.specials[id] : this.chars[id - this.specials.length];
  }

  /**
   * Id of a special token, or undefined.
   *
   * @example
   * ```ts
   * tok.specialTokenId('<de>');
   * ```
   */
  specialTokenId(token: string): number | undefined {
    const i = this.specials.indexOf(token);
    return i === -1 ? undefined : i;
  }

  /**
   * The JSON form (characters and extra special tokens).
   *
   * @example
   * ```ts
   * JSON.stringify(tok.toJSON());
   * ```
   */
  toJSON(): CharTokenizerJSON {
    return { type: 'char', version: 1, extraSpecialTokens: [...this.extraSpecialTokens], chars: [...this.chars] };
  }
}
