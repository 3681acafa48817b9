// SPDX-License-Identifier: MIT
// What every tokenizer shares: the four reserved special tokens (pad/bos/eos/unk, always ids
// 0..3 in that order), optional extra special tokens (e.g. language tags `<de>`) that are
// matched atomically in the input text, and the splitting of text around them.
// Invariants: ids 0..3 are pad, bos, eos, unk in every tokenizer; extra special tokens follow
// at ids 4..; special tokens never merge with ordinary text.
import { HeedError } from '@heed/core';

/**
 * The reserved special tokens, their strings and their fixed ids (the same in every tokenizer).
 *
 * @example
 * ```ts
 * SPECIAL_TOKENS.eos; // { token: '<eos>', id: 2 }
 * ```
 */
export const SPECIAL_TOKENS = {
  pad: { token: '<pad>', id: 0 },
  bos: { token: '<bos>', id: 1 },
  eos: { token: '<eos>', id: 2 },
  unk: { token: '<unk>', id: 3 },
} as const satisfies Record<string, { token: string; id: number }>;

/**
 * Names of the reserved special tokens.
 *
 * @example
 * ```ts
 * const name: SpecialTokenName = 'pad';
 * ```
 */
export type SpecialTokenName = keyof typeof SPECIAL_TOKENS;

/**
 * The reserved special token strings in id order.
 *
 * @example
 * ```ts
 * RESERVED_TOKENS; // ['<pad>', '<bos>', '<eos>', '<unk>']
 * ```
 */
export const RESERVED_TOKENS: readonly string[] = (Object.keys(SPECIAL_TOKENS) as SpecialTokenName[])
  .map((k) => SPECIAL_TOKENS[k])
  .sort((a, b) => a.id - b.id)
  .map((s) => s.token);

/**
 * Options of `encode`.
 *
 * @example
 * ```ts
 * tok.encode('hello', { addBos: true, addEos: true });
 * ```
 */
export interface EncodeOptions {
  /** Prepend `<bos>` (default false). */
  addBos?: boolean;
  /** Append `<eos>` (default false). */
  addEos?: boolean;
}

/**
 * Options of `decode`.
 *
 * @example
 * ```ts
 * tok.decode(ids, { skipSpecialTokens: false });
 * ```
 */
export interface DecodeOptions {
  /** Drop every special token (reserved and extra) from the output (default true). */
  skipSpecialTokens?: boolean;
}

/**
 * The interface shared by {@link CharTokenizer} and {@link BpeTokenizer}.
 *
 * @example
 * ```ts
 * function roundTrip(tok: Tokenizer, text: string): boolean { return tok.decode(tok.encode(text)) === text; }
 * ```
 */
export interface Tokenizer {
  /** Number of ids (the embedding table size a model needs). */
  readonly vocabSize: number;
  /** Id of `<pad>` (0). */
  readonly padId: number;
  /** Id of `<bos>` (1). */
  readonly bosId: number;
  /** Id of `<eos>` (2). */
  readonly eosId: number;
  /** Id of `<unk>` (3). */
  readonly unkId: number;
  /** The extra special tokens, in id order from 4. */
  readonly extraSpecialTokens: readonly string[];
  /** Text to ids. */
  encode(text: string, options?: EncodeOptions): number[];
  /** Ids to text. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The string of one id (special tokens as written, e.g. `<eos>`). */
  idToToken(id: number): string;
  /** Id of a special token string, or undefined. */
  specialTokenId(token: string): number | undefined;
  /** A JSON-serialisable description that `tokenizerFromJSON` turns back into an equal tokenizer. */
  toJSON(): TokenizerJSON;
}

/**
 * Serialised form of a {@link CharTokenizer}.
 *
 * @example
 * ```ts
 * const j: CharTokenizerJSON = { type: 'char', version: 1, extraSpecialTokens: [], chars: ['a', 'b'] };
 * ```
 */
export interface CharTokenizerJSON {
  type: 'char';
  version: 1;
  extraSpecialTokens: string[];
  /** The characters (code points) in id order, after the special tokens. */
  chars: string[];
}

/**
 * Serialised form of a {@link BpeTokenizer}: byte-level merges, in merge order.
 *
 * @example
 * ```ts
 * const j: BpeTokenizerJSON = { type: 'bpe', version: 1, extraSpecialTokens: [], merges: [[104, 105]] };
 * ```
 */
export interface BpeTokenizerJSON {
  type: 'bpe';
  version: 1;
  extraSpecialTokens: string[];
  /** Merge k joins two BPE-space ids (0..255 bytes, 256 + j merge j, j < k) into id 256 + k. */
  merges: [number, number][];
}

/**
 * Any serialised tokenizer (discriminated by `type`).
 *
 * @example
 * ```ts
 * const j: TokenizerJSON = tok.toJSON();
 * ```
 */
export type TokenizerJSON = CharTokenizerJSON | BpeTokenizerJSON;

/**
 * Validates extra special tokens: non-empty, unique, distinct from the reserved ones.
 *
 * @example
 * ```ts
 * checkSpecialTokens('CharTokenizer', ['<de>', '<es>']);
 * ```
 */
export function checkSpecialTokens(op: string, tokens: readonly string[]): string[] {
  const seen = new Set<string>(RESERVED_TOKENS);
  for (const t of tokens) {
    if (typeof t !== 'string' || t.length === 0) throw new HeedError(op, 'extra special tokens must be non-empty strings.');
    if (seen.has(t)) throw new HeedError(op, `special token '${t}' is given twice (or is reserved: ${RESERVED_TOKENS.join(', ')}).`);
    seen.add(t);
  }
  return [...tokens];
}

/**
 * Splits `text` into ordinary pieces and special-token pieces (longest match first).
 *
 * @example
 * ```ts
 * splitSpecial('<de> eins', ['<de>']); // [{ special: '<de>' }, { text: ' eins' }]
 * ```
 */
export function splitSpecial(text: string, specials: readonly string[]): ({ text: string } | { special: string })[] {
  if (specials.length === 0) return text.length > 0 ? [{ text }] : [];
  const sorted = [...specials].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  const out: ({ text: string } | { special: string })[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    const at = m.index ?? 0;
    if (at > last) out.push({ text: text.slice(last, at) });
    out.push({ special: m[0] });
    last = at + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}
