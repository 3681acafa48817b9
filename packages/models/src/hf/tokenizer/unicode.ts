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
const MN_ALL = /\p{Mn}/gu;
const WS_ALL = new RegExp(`[${WS_CLASS}]`, 'gu');
const BERT_DROP = /(?![\t\n\r])[\0\ufffd\p{C}]/gu;
const CJK_ALL = /[\u4e00-\u9fff\u3400-\u4dbf\u{20000}-\u{2a6df}\u{2a700}-\u{2b73f}\u{2b740}-\u{2b81f}\u{2b820}-\u{2ceaf}\uf900-\ufaff\u{2f800}-\u{2fa1f}]/gu;

/** Rust's `char::is_whitespace` for one character. */
export function isWhitespace(c: string): boolean {
  const cp = c.charCodeAt(0);
  if (cp < 128) return cp === 32 || (cp >= 9 && cp <= 13);
  return WS.test(c);
}

/** BERT's punctuation: ASCII punctuation (incl. `$+<=>^\`|~`) or a Unicode P* character. */
export function isBertPunctuation(c: string): boolean {
  const cp = c.charCodeAt(0);
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return cp >= 128 && PUNCT.test(c);
}

/** BERT's clean_text: control characters (and NUL, U+FFFD) removed, then every whitespace character a space. */
export function bertCleanText(s: string): string {
  return s.replace(BERT_DROP, '').replace(WS_ALL, ' ');
}

/** Drops the nonspacing marks (Mn): what StripAccents does. */
export function stripNonspacingMarks(s: string): string {
  return s.replace(MN_ALL, '');
}

/** Surrounds each CJK ideograph with spaces (BERT's handle_chinese_chars). */
export function spaceCjk(s: string): string {
  return s.replace(CJK_ALL, ' $& ');
}

/** Lowercases each character on its own, as Rust's `char::to_lowercase` (Σ is always σ). */
export function lowercaseChars(s: string): string {
  // Final sigma is the only context-dependent rule of String.prototype.toLowerCase.
  if (!s.includes('\u03a3')) return s.toLowerCase();
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
