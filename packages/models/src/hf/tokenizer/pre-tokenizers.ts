// SPDX-License-Identifier: MIT
// tokenizer.json pre-tokenizers: split normalized text into the words the model tokenizes, with
// the Rust library's split behaviours (Removed, Isolated, MergedWithPrevious, MergedWithNext,
// Contiguous) over regex or per-character matches. A piece remembers whether it starts the
// original text (`first`), which Metaspace's prepend_scheme "first" needs.
import { HeedError } from '@heed/core';
import type { ComponentJSON, PreTokenizerJSON, PrependScheme, SplitBehavior } from './json.js';
import { patternRegExp } from './normalizers.js';
import { BYTE_TO_CHAR, isBertPunctuation, isWhitespace, onigToRegExp } from './unicode.js';

/** A piece of text on its way to the model; `first` when it starts at offset 0 of the input. */
export interface Piece {
  text: string;
  first: boolean;
}

/** A pre-tokenizer: the pieces one piece splits into. */
export type PreTokenizer = (piece: Piece) => Piece[];

type Match = [start: number, end: number, isMatch: boolean];

const OP = 'AutoTokenizer';
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const GPT2_RE = onigToRegExp(GPT2_PATTERN, OP);
const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';
const WHITESPACE_RE = onigToRegExp(`[${WORD}]+|[^${WORD}\\s]+`, OP);

function regexMatches(text: string, re: RegExp): Match[] {
  const out: Match[] = [];
  let prev = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index ?? 0;
    const end = start + m[0].length;
    if (prev !== start) out.push([prev, start, false]);
    out.push([start, end, true]);
    prev = end;
  }
  if (prev !== text.length) out.push([prev, text.length, false]);
  return out;
}

function charMatches(text: string, pred: (c: string) => boolean): Match[] {
  const out: Match[] = [];
  let last = 0;
  let i = 0;
  for (const c of text) {
    if (pred(c)) {
      if (last < i) out.push([last, i, false]);
      out.push([i, i + c.length, true]);
      last = i + c.length;
    }
    i += c.length;
  }
  if (i > last) out.push([last, i, false]);
  return out;
}

/** Splits `piece` at `matches` the way the Rust library's `NormalizedString::split` does. */
function splitPiece(piece: Piece, matches: Match[], behavior: SplitBehavior): Piece[] {
  let spans: [number, number, boolean][]; // [start, end, remove]
  if (behavior === 'Removed') spans = matches;
  else if (behavior === 'Isolated') spans = matches.map(([a, b]) => [a, b, false]);
  else if (behavior === 'MergedWithNext') {
    spans = [];
    let prev = false;
    for (let k = matches.length - 1; k >= 0; k--) {
      const [a, b, m] = matches[k];
      const last = spans[spans.length - 1];
      if (m && !prev && last !== undefined) last[0] = a;
      else spans.push([a, b, false]);
      prev = m;
    }
    spans.reverse();
  } else {
    spans = [];
    let prev = false;
    for (const [a, b, m] of matches) {
      const last = spans[spans.length - 1];
      const merge = behavior === 'Contiguous' ? m === prev : m && !prev;
      if (merge && last !== undefined) last[1] = b;
      else spans.push([a, b, false]);
      prev = m;
    }
  }
  const out: Piece[] = [];
  for (const [a, b, remove] of spans) {
    if (remove || a === b) continue;
    out.push({ text: piece.text.slice(a, b), first: piece.first && a === 0 });
  }
  return out;
}

const B = BYTE_TO_CHAR;

const MEMO_LIMIT = 50_000;
const byteLevelMemo = new Map<string, string>();

/** {@link byteLevelMapped}, remembered for short pieces (words repeat: the map is cheaper than re-encoding). */
function byteLevelText(s: string): string {
  if (s.length > 32) return byteLevelMapped(s);
  let out = byteLevelMemo.get(s);
  if (out === undefined) {
    out = byteLevelMapped(s);
    if (byteLevelMemo.size >= MEMO_LIMIT) byteLevelMemo.clear();
    byteLevelMemo.set(s, out);
  }
  return out;
}

/** The text's UTF-8 bytes as GPT-2's byte characters (lone surrogates encode as U+FFFD, as TextEncoder does). */
function byteLevelMapped(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    let cp = s.charCodeAt(i);
    if (cp < 0x80) { out += B[cp]; continue; }
    if (cp >= 0xd800 && cp < 0xe000) {
      const lo = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (cp < 0xdc00 && lo >= 0xdc00 && lo < 0xe000) { cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00); i++; } else cp = 0xfffd;
    }
    if (cp < 0x800) out += B[0xc0 | (cp >> 6)] + B[0x80 | (cp & 63)];
    else if (cp < 0x10000) out += B[0xe0 | (cp >> 12)] + B[0x80 | ((cp >> 6) & 63)] + B[0x80 | (cp & 63)];
    else out += B[0xf0 | (cp >> 18)] + B[0x80 | ((cp >> 12) & 63)] + B[0x80 | ((cp >> 6) & 63)] + B[0x80 | (cp & 63)];
  }
  return out;
}

function byteLevel(piece: Piece): Piece {
  return { text: byteLevelText(piece.text), first: piece.first };
}

/** BERT's split: whitespace removed, then each punctuation character isolated (one pass). */
function bertPreTokenize(piece: Piece): Piece[] {
  const out: Piece[] = [];
  const s = piece.text;
  let start = 0;
  let i = 0;
  const flush = (end: number) => {
    if (end > start) out.push({ text: s.slice(start, end), first: piece.first && start === 0 });
  };
  while (i < s.length) {
    const cp = s.codePointAt(i) as number;
    const n = cp > 0xffff ? 2 : 1;
    const c = n === 1 ? s[i] : s.slice(i, i + 2);
    if (isWhitespace(c)) {
      flush(i);
      start = i + n;
    } else if (isBertPunctuation(c)) {
      flush(i);
      out.push({ text: c, first: piece.first && i === 0 });
      start = i + n;
    }
    i += n;
  }
  flush(s.length);
  return out;
}

function metaspace(replacement: string, scheme: PrependScheme, split: boolean): PreTokenizer {
  return (piece) => {
    let text = piece.text.replaceAll(' ', replacement);
    if (!text.startsWith(replacement) && (scheme === 'always' || (scheme === 'first' && piece.first))) text = replacement + text;
    const p = { text, first: piece.first };
    return split ? splitPiece(p, charMatches(text, (c) => c === replacement), 'MergedWithNext') : text.length > 0 ? [p] : [];
  };
}

/** Metaspace's prepend scheme, reading the older `add_prefix_space` flag too. */
export function prependScheme(j: { prepend_scheme?: PrependScheme; add_prefix_space?: boolean }): PrependScheme {
  return j.prepend_scheme ?? (j.add_prefix_space === false ? 'never' : 'always');
}

/**
 * Builds the pre-tokenizer a tokenizer.json `pre_tokenizer` entry describes; an unknown type is a HeedError naming it.
 *
 * @example
 * ```ts
 * buildPreTokenizer({ type: 'WhitespaceSplit' })({ text: 'a  b', first: true }).map((p) => p.text); // ['a', 'b']
 * ```
 */
export function buildPreTokenizer(component: ComponentJSON | PreTokenizerJSON): PreTokenizer {
  const j = component as PreTokenizerJSON;
  switch (j.type) {
    case 'ByteLevel': {
      const useRegex = j.use_regex ?? true;
      return (piece) => {
        const text = j.add_prefix_space && !piece.text.startsWith(' ') ? ' ' + piece.text : piece.text;
        if (!useRegex) return text.length > 0 ? [byteLevel({ text, first: piece.first })] : [];
        // Isolated split on GPT-2's pattern, fused with the byte mapping (the hot path of byte-level BPE).
        const out: Piece[] = [];
        const re = GPT2_RE;
        re.lastIndex = 0;
        let prev = 0;
        for (let m = re.exec(text); m !== null; m = re.exec(text)) {
          const a = m.index;
          if (a > prev) out.push({ text: byteLevelText(text.slice(prev, a)), first: piece.first && prev === 0 });
          out.push({ text: byteLevelText(m[0]), first: piece.first && a === 0 });
          prev = a + m[0].length; // the pattern never matches empty text
        }
        if (prev < text.length) out.push({ text: byteLevelText(text.slice(prev)), first: piece.first && prev === 0 });
        return out;
      };
    }
    case 'BertPreTokenizer':
      return bertPreTokenize;
    case 'Whitespace':
      return (piece) => splitPiece(piece, regexMatches(piece.text, WHITESPACE_RE).map(([a, b, m]) => [a, b, !m]), 'Removed');
    case 'WhitespaceSplit':
      return (piece) => splitPiece(piece, charMatches(piece.text, isWhitespace), 'Removed');
    case 'Metaspace':
      return metaspace(j.replacement, prependScheme(j), j.split ?? true);
    case 'Split': {
      const re = patternRegExp(j.pattern);
      return (piece) => splitPiece(piece, regexMatches(piece.text, re).map(([a, b, m]) => [a, b, j.invert ? !m : m]), j.behavior);
    }
    case 'Punctuation':
      return (piece) => splitPiece(piece, charMatches(piece.text, isBertPunctuation), j.behavior ?? 'Isolated');
    case 'Digits': {
      const digit = (c: string) => /^\p{N}$/u.test(c);
      return (piece) => splitPiece(piece, charMatches(piece.text, digit), j.individual_digits ? 'Isolated' : 'Contiguous');
    }
    case 'Sequence': {
      const steps = j.pretokenizers.map(buildPreTokenizer);
      return (piece) => steps.reduce<Piece[]>((pieces, f) => pieces.flatMap(f), [piece]);
    }
    default:
      throw new HeedError(OP, `unknown pre_tokenizer type ${JSON.stringify((j as { type?: unknown }).type)} in tokenizer.json; `
        + 'supported: ByteLevel, BertPreTokenizer, Whitespace, WhitespaceSplit, Metaspace, Split, Punctuation, Digits, Sequence.');
  }
}
