// SPDX-License-Identifier: MIT
// tokenizer.json normalizers as string -> string functions, with the Rust library's semantics:
// Unicode forms through String.prototype.normalize, per-character Lowercase, StripAccents
// (drops Mn marks without decomposing), BertNormalizer (clean text, CJK spacing, NFD + strip
// accents, lowercase, in that order), Prepend (only on non-empty text), Replace, Strip, Sequence.
import { HeedError } from '@heed/core';
import type { NormalizerJSON, PatternJSON } from './json.js';
import { escapeRegExp, isBertControl, isCjk, isNonspacingMark, isWhitespace, lowercaseChars, onigToRegExp } from './unicode.js';

/** A normalizer: the text after normalization. */
export type Normalizer = (text: string) => string;

const OP = 'AutoTokenizer';

/** The global regular expression of a Replace/Split pattern. */
export function patternRegExp(pattern: PatternJSON, op = OP): RegExp {
  if ('String' in pattern) return new RegExp(escapeRegExp(pattern.String), 'gu');
  if ('Regex' in pattern) return onigToRegExp(pattern.Regex, op);
  throw new HeedError(op, `unknown pattern ${JSON.stringify(pattern)} in tokenizer.json; expected {"String": ...} or {"Regex": ...}.`);
}

function stripAccents(s: string): string {
  let out = '';
  for (const c of s) if (!isNonspacingMark(c)) out += c;
  return out;
}

function bertNormalizer(j: Extract<NormalizerJSON, { type: 'BertNormalizer' }>): Normalizer {
  const strip = j.strip_accents ?? j.lowercase;
  return (s) => {
    let out = s;
    if (j.clean_text) {
      let t = '';
      for (const c of out) {
        const cp = c.codePointAt(0) ?? 0;
        if (cp === 0 || cp === 0xfffd || isBertControl(c)) continue;
        t += isWhitespace(c) ? ' ' : c;
      }
      out = t;
    }
    if (j.handle_chinese_chars) {
      let t = '';
      for (const c of out) t += isCjk(c.codePointAt(0) ?? 0) ? ` ${c} ` : c;
      out = t;
    }
    if (strip) out = stripAccents(out.normalize('NFD'));
    if (j.lowercase) out = lowercaseChars(out);
    return out;
  };
}

function stripWhitespace(s: string, left: boolean, right: boolean): string {
  const chars = [...s];
  let a = 0;
  let b = chars.length;
  if (left) while (a < b && isWhitespace(chars[a])) a++;
  if (right) while (b > a && isWhitespace(chars[b - 1])) b--;
  return chars.slice(a, b).join('');
}

/**
 * Builds the normalizer a tokenizer.json `normalizer` entry describes; an unknown type is a HeedError naming it.
 *
 * @example
 * ```ts
 * buildNormalizer({ type: 'Lowercase' })('ΟΔΟΣ'); // 'οδοσ'
 * ```
 */
export function buildNormalizer(j: NormalizerJSON): Normalizer {
  switch (j.type) {
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': {
      const form = j.type;
      return (s) => s.normalize(form);
    }
    case 'Lowercase': return lowercaseChars;
    case 'StripAccents': return stripAccents;
    case 'BertNormalizer': return bertNormalizer(j);
    case 'Prepend': return (s) => (s.length > 0 ? j.prepend + s : s);
    case 'Replace': {
      const re = patternRegExp(j.pattern);
      return (s) => s.replace(re, () => j.content);
    }
    case 'Strip': return (s) => stripWhitespace(s, j.strip_left, j.strip_right);
    case 'Sequence': {
      const steps = j.normalizers.map(buildNormalizer);
      return (s) => steps.reduce((t, f) => f(t), s);
    }
    default:
      throw new HeedError(OP, `unknown normalizer type ${JSON.stringify((j as { type?: unknown }).type)} in tokenizer.json; `
        + 'supported: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, BertNormalizer, Prepend, Replace, Strip, Sequence.');
  }
}
