// SPDX-License-Identifier: MIT
// The character classes of the Rust `tokenizers` library, written out so JavaScript agrees with
// Rust and Oniguruma where their definitions differ from JS's: whitespace (Rust's White_Space,
// which has U+0085 and not U+FEFF, unlike JS `\s`), BERT's punctuation / control / CJK tests,
// per-character lowercasing (no final-sigma rule), GPT-2's byte <-> printable-character table,
// and the translation of Oniguruma regular expressions (tokenizer.json patterns) into JS ones.
import { HeedError } from '@heed/core';

/** Unicode White_Space (Rust `char::is_whitespace`, Oniguruma `\s`), as a class body. */
export const WS_CLASS = '\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WS = new RegExp(`^[${WS_CLASS}]$`, 'u');
const PUNCT = /^\p{P}$/u;
const OTHER = /^\p{C}$/u;
const MN = /^\p{Mn}$/u;

/** Rust's `char::is_whitespace` for one character. */
export function isWhitespace(c: string): boolean {
  return WS.test(c);
}

/** BERT's punctuation: ASCII punctuation (incl. `$+<=>^\`|~`) or a Unicode P* character. */
export function isBertPunctuation(c: string): boolean {
  const cp = c.codePointAt(0) ?? 0;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return PUNCT.test(c);
}

/** BERT's control test: a Unicode C* character other than tab, newline and carriage return. */
export function isBertControl(c: string): boolean {
  if (c === '\t' || c === '\n' || c === '\r') return false;
  return OTHER.test(c);
}

/** A nonspacing mark (Mn): what StripAccents removes. */
export function isNonspacingMark(c: string): boolean {
  return MN.test(c);
}

/** The CJK ideograph blocks BERT surrounds with spaces. */
export function isCjk(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df)
    || (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** Lowercases each character on its own, as Rust's `char::to_lowercase` (Σ is always σ). */
export function lowercaseChars(s: string): string {
  let out = '';
  for (const c of s) out += c.toLowerCase();
  return out;
}

/** The printable character GPT-2's byte-level BPE uses for each byte (`bytes_to_unicode`). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return table;
})();

/** The inverse of {@link BYTE_TO_CHAR}. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/**
 * Translates an Oniguruma pattern of tokenizer.json into a JS (`u` flag) regular expression:
 * `\s`/`\S` become Unicode White_Space classes, `(?i:...)` groups of plain text become explicit
 * case alternatives. Other constructs pass through; a pattern JS cannot compile is a HeedError.
 */
export function onigToRegExp(pattern: string, op: string, flags = 'gu'): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      const n = pattern[i + 1];
      if (n === 's') out += inClass ? WS_CLASS : `[${WS_CLASS}]`;
      else if (n === 'S' && !inClass) out += `[^${WS_CLASS}]`;
      else out += c + n;
      i++;
      continue;
    }
    if (!inClass && pattern.startsWith('(?i:', i)) {
      const end = pattern.indexOf(')', i);
      const body = end < 0 ? '' : pattern.slice(i + 4, end);
      if (end > 0 && /^[^()[\]\\]*$/.test(body)) {
        out += '(?:' + [...body].map((ch) => (ch.toLowerCase() !== ch.toUpperCase() ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch === '|' ? '|' : escapeRegExp(ch))).join('') + ')';
        i = end;
        continue;
      }
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  try {
    return new RegExp(out, flags);
  } catch (e) {
    throw new HeedError(op, `the pattern ${JSON.stringify(pattern)} of tokenizer.json is not supported in JavaScript (${(e as Error).message}).`);
  }
}

/** Escapes a literal string for use inside a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
