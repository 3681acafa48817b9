// SPDX-License-Identifier: MIT
// BpeTokenizer: byte-level byte-pair encoding (GPT-2 style). Text is pre-split into chunks
// (a word with its leading space, a number, a run of punctuation, whitespace), each chunk's
// UTF-8 bytes start as 256 base tokens, and learned merges (most frequent adjacent pair
// first) join them into longer tokens.
// Ids: the special tokens (reserved 0..3, extras from 4), then the 256 bytes, then one id per
// merge in merge order. Merges are stored in "BPE space" (0..255 bytes, 256+k merge k), so
// they do not depend on the number of special tokens.
// Invariants: any string round-trips (`decode(encode(s)) === s`, bytes never go unknown);
// training is deterministic (ties broken by the smaller pair); special tokens never merge.
import { HeedError } from '@heed/core';
import {
  RESERVED_TOKENS, SPECIAL_TOKENS, checkSpecialTokens, splitSpecial,
  type BpeTokenizerJSON, type DecodeOptions, type EncodeOptions, type Tokenizer,
} from './types.js';

/** GPT-2's pre-tokenisation, without the English contractions. */
const CHUNK = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const KEY = 1 << 21;
const utf8 = new TextEncoder();

/**
 * Options of {@link BpeTokenizer.train}.
 *
 * @example
 * ```ts
 * const o: BpeTrainOptions = { vocabSize: 500, minFrequency: 2, extraSpecialTokens: ['<de>'] };
 * ```
 */
export interface BpeTrainOptions {
  /** Target vocabulary size, specials and the 256 bytes included. */
  vocabSize: number;
  /** Stop merging when the most frequent pair occurs fewer times than this (default 2). */
  minFrequency?: number;
  /** Special tokens matched atomically in the text (e.g. language tags). */
  extraSpecialTokens?: readonly string[];
}

/**
 * Splits text into the chunks BPE works on (words with their leading space, numbers, punctuation, whitespace).
 *
 * @example
 * ```ts
 * preTokenize('dua puluh satu'); // ['dua', ' puluh', ' satu']
 * ```
 */
export function preTokenize(text: string): string[] {
  return text.match(CHUNK) ?? [];
}

/**
 * A trainable byte-level BPE tokenizer, serialisable to JSON.
 *
 * @example
 * ```ts
 * const tok = BpeTokenizer.train(['zweihundert', 'dreihundert', 'vierhundert'], { vocabSize: 270 });
 * tok.decode(tok.encode('fünfhundert')); // 'fünfhundert'
 * ```
 */
export class BpeTokenizer implements Tokenizer {
  readonly padId = SPECIAL_TOKENS.pad.id;
  readonly bosId = SPECIAL_TOKENS.bos.id;
  readonly eosId = SPECIAL_TOKENS.eos.id;
  readonly unkId = SPECIAL_TOKENS.unk.id;
  readonly extraSpecialTokens: readonly string[];
  /** The merges in order, in BPE space (bytes 0..255, merge k is 256 + k). */
  readonly merges: readonly (readonly [number, number])[];
  private readonly specials: readonly string[];
  private readonly rank = new Map<number, number>();
  private readonly bytes: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();

  /** Builds a tokenizer from learned merges (see {@link BpeTokenizer.train}). */
  constructor(merges: readonly (readonly [number, number])[], options: { extraSpecialTokens?: readonly string[] } = {}) {
    this.extraSpecialTokens = checkSpecialTokens('BpeTokenizer', options.extraSpecialTokens ?? []);
    this.specials = [...RESERVED_TOKENS, ...this.extraSpecialTokens];
    for (let b = 0; b < 256; b++) this.bytes.push(Uint8Array.of(b));
    merges.forEach(([a, b], k) => {
      const id = 256 + k;
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b < 0 || a >= id || b >= id) {
        throw new HeedError('BpeTokenizer', `merge ${k} joins [${a}, ${b}], but only ids below ${id} exist at that point.`);
      }
      const joined = new Uint8Array(this.bytes[a].length + this.bytes[b].length);
      joined.set(this.bytes[a]);
      joined.set(this.bytes[b], this.bytes[a].length);
      this.bytes.push(joined);
      this.rank.set(a * KEY + b, k);
    });
    this.merges = merges.map(([a, b]) => [a, b] as const);
  }

  /**
   * Learns merges from `corpus` until the vocabulary reaches `vocabSize` (or no pair occurs
   * `minFrequency` times).
   *
   * @example
   * ```ts
   * const tok = BpeTokenizer.train(lines, { vocabSize: 1000, extraSpecialTokens: ['<de>', '<es>'] });
   * ```
   */
  static train(corpus: Iterable<string>, options: BpeTrainOptions): BpeTokenizer {
    const op = 'BpeTokenizer.train';
    const specials = checkSpecialTokens(op, options.extraSpecialTokens ?? []);
    const base = RESERVED_TOKENS.length + specials.length + 256;
    if (!Number.isInteger(options.vocabSize) || options.vocabSize < base) {
      throw new HeedError(op, `vocabSize must be an integer >= ${base} (the special tokens and 256 bytes), got ${options.vocabSize}.`);
    }
    const minFrequency = options.minFrequency ?? 2;
    const wordCounts = new Map<string, number>();
    for (const text of corpus) {
      for (const piece of splitSpecial(text, specials)) {
        if ('text' in piece) for (const w of preTokenize(piece.text)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
      }
    }
    const words = [...wordCounts].map(([w, count]) => ({ syms: [...utf8.encode(w)], count }));
    const pairCount = new Map<number, number>();
    const pairWords = new Map<number, Set<number>>();
    const addPairs = (wi: number, sign: 1 | -1) => {
      const { syms, count } = words[wi];
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = syms[i] * KEY + syms[i + 1];
        pairCount.set(key, (pairCount.get(key) ?? 0) + sign * count);
        if (sign === 1) {
          let set = pairWords.get(key);
          if (!set) pairWords.set(key, (set = new Set()));
          set.add(wi);
        }
      }
    };
    words.forEach((_, wi) => addPairs(wi, 1));
    const merges: [number, number][] = [];
    while (base + merges.length < options.vocabSize) {
      let bestKey = -1;
      let bestCount = 0;
      for (const [key, count] of pairCount) {
        if (count > bestCount || (count === bestCount && count > 0 && key < bestKey)) {
          bestKey = key;
          bestCount = count;
        }
      }
      if (bestKey < 0 || bestCount < minFrequency) break;
      const a = Math.floor(bestKey / KEY);
      const b = bestKey % KEY;
      const id = 256 + merges.length;
      merges.push([a, b]);
      for (const wi of pairWords.get(bestKey) ?? []) {
        const syms = words[wi].syms;
        let found = false;
        for (let i = 0; i + 1 < syms.length; i++) if (syms[i] === a && syms[i + 1] === b) { found = true; break; }
        if (!found) continue;
        addPairs(wi, -1);
        words[wi].syms = mergePair(syms, a, b, id);
        addPairs(wi, 1);
      }
      pairWords.delete(bestKey);
      pairCount.delete(bestKey);
    }
    return new BpeTokenizer(merges, { extraSpecialTokens: specials });
  }

  /**
   * Rebuilds a tokenizer from {@link BpeTokenizer.toJSON}'s output.
   *
   * @example
   * ```ts
   * const copy = BpeTokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
   * ```
   */
  static fromJSON(json: BpeTokenizerJSON): BpeTokenizer {
    if (json?.type !== 'bpe' || json.version !== 1 || !Array.isArray(json.merges)) {
      throw new HeedError('BpeTokenizer.fromJSON', `expected { type: 'bpe', version: 1, merges: [...] }, got type '${String(json?.type)}'.`);
    }
    return new BpeTokenizer(json.merges, { extraSpecialTokens: json.extraSpecialTokens ?? [] });
  }

  /** Number of ids: specials + 256 bytes + merges. */
  get vocabSize(): number {
    return this.specials.length + this.bytes.length;
  }

  /** BPE ids of one pre-token chunk (cached). */
  private encodeChunk(chunk: string): number[] {
    const hit = this.cache.get(chunk);
    if (hit) return hit;
    let syms = [...utf8.encode(chunk)];
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.rank.get(syms[i] * KEY + syms[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = this.merges[bestRank];
      syms = mergePair(syms, a, b, 256 + bestRank);
    }
    if (this.cache.size > 50_000) this.cache.clear();
    this.cache.set(chunk, syms);
    return syms;
  }

  /**
   * Text to ids.
   *
   * @example
   * ```ts
   * tok.encode('<de> <es> eins', { addBos: true, addEos: true });
   * ```
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const offset = this.specials.length;
    const ids: number[] = options.addBos ? [this.bosId] : [];
    for (const piece of splitSpecial(text, this.extraSpecialTokens)) {
      if ('special' in piece) {
        ids.push(this.specials.indexOf(piece.special));
      } else {
        for (const chunk of preTokenize(piece.text)) for (const s of this.encodeChunk(chunk)) ids.push(s + offset);
      }
    }
    if (options.addEos) ids.push(this.eosId);
    return ids;
  }

  /**
   * Ids to text (special tokens dropped unless `skipSpecialTokens: false`).
   *
   * @example
   * ```ts
   * tok.decode(tok.encode('hello')); // 'hello'
   * ```
   */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const offset = this.specials.length;
    const decoder = new TextDecoder();
    let out = '';
    let pending: number[] = [];
    const flush = () => {
      if (pending.length > 0) out += decoder.decode(Uint8Array.from(pending));
      pending = [];
    };
    for (const id of ids) {
      this.checkId(id);
      if (id < offset) {
        if (!skip) {
          flush();
          out += this.specials[id];
        }
      } else {
        for (const byte of this.bytes[id - offset]) pending.push(byte);
      }
    }
    flush();
    return out;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new HeedError('BpeTokenizer', `id ${id} is out of range [0, ${this.vocabSize}).`);
    }
  }

  /**
   * The string of one id (a partial UTF-8 sequence shows as U+FFFD).
   *
   * @example
   * ```ts
   * tok.idToToken(tok.encode(' hundert')[0]);
   * ```
   */
  idToToken(id: number): string {
    this.checkId(id);
    const offset = this.specials.length;
    return id < offset ? this.specials[id] : new TextDecoder().decode(this.bytes[id - offset]);
  }

  /**
   * Id of a special token, or undefined.
   *
   * @example
   * ```ts
   * tok.specialTokenId('<eos>'); // 2
   * ```
   */
  specialTokenId(token: string): number | undefined {
    const i = this.specials.indexOf(token);
    return i === -1 ? undefined : i;
  }

  /**
   * The JSON form (merges and extra special tokens).
   *
   * @example
   * ```ts
   * JSON.stringify(tok.toJSON());
   * ```
   */
  toJSON(): BpeTokenizerJSON {
    return { type: 'bpe', version: 1, extraSpecialTokens: [...this.extraSpecialTokens], merges: this.merges.map(([a, b]) => [a, b]) };
  }
}

/** Replaces every non-overlapping occurrence of (a, b), left to right, by `id`. */
function mergePair(syms: readonly number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < syms.length; i++) {
    if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
      out.push(id);
      i++;
    } else {
      out.push(syms[i]);
    }
  }
  return out;
}
