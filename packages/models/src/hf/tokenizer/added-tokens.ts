// SPDX-License-Identifier: MIT
// Added tokens (tokenizer.json `added_tokens`): found in the text before the model runs, as the
// Rust library's AddedVocabulary does. Tokens with normalized=false are matched in the raw text,
// then the rest is normalized and tokens with normalized=true (their content normalized too) are
// matched in it. Matching is leftmost-longest; single_word refuses a match inside a word; lstrip
// / rstrip swallow the whitespace before / after the match.
import type { AddedTokenJSON } from './json.js';
import type { Normalizer } from './normalizers.js';
import type { Piece } from './pre-tokenizers.js';
import { escapeRegExp, isWhitespace } from './unicode.js';

/** A piece of the input: plain text (`id` undefined) or an added token already identified. */
export interface Segment extends Piece {
  id?: number;
}

const WORD_CHAR = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;

class Matcher {
  private readonly re: RegExp | null;
  private readonly byContent = new Map<string, AddedTokenJSON>();

  constructor(tokens: readonly AddedTokenJSON[], content: (t: AddedTokenJSON) => string) {
    for (const t of tokens) {
      const c = content(t);
      if (c.length > 0 && !this.byContent.has(c)) this.byContent.set(c, t);
    }
    const keys = [...this.byContent.keys()].sort((a, b) => b.length - a.length);
    // Longest alternatives first: JS's leftmost-first alternation becomes leftmost-longest.
    this.re = keys.length === 0 ? null : new RegExp(keys.map(escapeRegExp).join('|'), 'gu');
  }

  /** Splits one piece into text and token segments (`find_matches` of the Rust library). */
  split(piece: Piece): Segment[] {
    const s = piece.text;
    if (this.re === null || s.length === 0) return s.length === 0 ? [] : [piece];
    const out: Segment[] = [];
    let offset = 0;
    const push = (a: number, b: number, id?: number) => {
      if (b > a) out.push({ text: s.slice(a, b), first: piece.first && a === 0, id });
    };
    for (const m of s.matchAll(this.re)) {
      const tok = this.byContent.get(m[0]) as AddedTokenJSON;
      let start = m.index ?? 0;
      let stop = start + m[0].length;
      if (tok.single_word) {
        const before = start > 0 ? lastChar(s.slice(0, start)) : '';
        const after = stop < s.length ? String.fromCodePoint(s.codePointAt(stop) ?? 0) : '';
        if (WORD_CHAR.test(before) || WORD_CHAR.test(after)) continue;
      }
      if (tok.lstrip) {
        let a = start;
        while (a > 0 && isWhitespace(lastChar(s.slice(0, a)))) a -= lastChar(s.slice(0, a)).length;
        start = Math.max(a, offset);
      }
      if (tok.rstrip) {
        while (stop < s.length) {
          const c = String.fromCodePoint(s.codePointAt(stop) ?? 0);
          if (!isWhitespace(c)) break;
          stop += c.length;
        }
      }
      push(offset, start);
      out.push({ text: s.slice(start, stop), first: piece.first && start === 0, id: tok.id });
      offset = stop;
    }
    push(offset, s.length);
    return out;
  }
}

function lastChar(s: string): string {
  const cp = s.codePointAt(s.length - 1) ?? 0;
  if (s.length >= 2 && cp >= 0xdc00 && cp <= 0xdfff) return s.slice(-2);
  return s.slice(-1);
}

/**
 * The added tokens of a tokenizer: splitting text around them and normalizing the rest.
 *
 * @example
 * ```ts
 * const v = new AddedVocabulary([{ id: 5, content: '<s>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }], null);
 * v.extractAndNormalize('a<s>b').map((s) => s.id); // [undefined, 5, undefined]
 * ```
 */
export class AddedVocabulary {
  /** id -> added token. */
  readonly byId = new Map<number, AddedTokenJSON>();
  /** content -> added token. */
  readonly byContent = new Map<string, AddedTokenJSON>();
  private readonly raw: Matcher;
  private readonly normalizedMatcher: Matcher;

  constructor(readonly tokens: readonly AddedTokenJSON[], private readonly normalizer: Normalizer | null) {
    for (const t of tokens) {
      this.byId.set(t.id, t);
      this.byContent.set(t.content, t);
    }
    this.raw = new Matcher(tokens.filter((t) => !t.normalized), (t) => t.content);
    this.normalizedMatcher = new Matcher(tokens.filter((t) => t.normalized), (t) => (normalizer ? normalizer(t.content) : t.content));
  }

  /** Whether `id` is a special added token (skipped by `skipSpecialTokens`). */
  isSpecial(id: number): boolean {
    return this.byId.get(id)?.special === true;
  }

  /** The token of an added id: its content, normalized when the token is (as the Rust library's id_to_token). */
  tokenOf(id: number): string | undefined {
    const t = this.byId.get(id);
    if (t === undefined) return undefined;
    return t.normalized && this.normalizer ? this.normalizer(t.content) : t.content;
  }

  /** The input split around added tokens, its plain-text pieces normalized. */
  extractAndNormalize(text: string): Segment[] {
    const out: Segment[] = [];
    for (const seg of this.raw.split({ text, first: true })) {
      if (seg.id !== undefined) { out.push(seg); continue; }
      const norm = this.normalizer ? this.normalizer(seg.text) : seg.text;
      out.push(...this.normalizedMatcher.split({ text: norm, first: seg.first }));
    }
    return out;
  }
}
