// SPDX-License-Identifier: MIT
// tokenizer.json normalizers as string -> string functions, with the Rust library's semantics:
// Unicode forms through String.prototype.normalize, per-character Lowercase, StripAccents
// (drops Mn marks without decomposing), BertNormalizer (clean text, CJK spacing, NFD + strip
// accents, lowercase, in that order), Prepend (only on non-empty text), Replace, Strip, Sequence.
import { HeedError } from '@heed/core';
import type { ComponentJSON, NormalizerJSON, PatternJSON } from './json.js';
import { bertCleanText, escapeRegExp, isWhitespace, lowercaseChars, onigToRegExp, spaceCjk, stripNonspacingMarks } from './unicode.js';

/** A normalizer: the text after normalization. */
export type Normalizer = (text: string) => string;

const OP = 'AutoTokenizer';

/** The global regular expression of a Replace/Split pattern. */
export function patternRegExp(pattern: PatternJSON, op = OP): RegExp {
  if ('String' in pattern) return new RegExp(escapeRegExp(pattern.String), 'gu');
  if ('Regex' in pattern) return onigToRegExp(pattern.Regex, op);
  throw new HeedError(op, `unknown pattern ${JSON.stringify(pattern)} in tokenizer.json; expected {"String": ...} or {"Regex": ...}.`);
}

function bertNormalizer(j: Extract<NormalizerJSON, { type: 'BertNormalizer' }>): Normalizer {
  const strip = j.strip_accents ?? j.lowercase;
  return (s) => {
    let out = j.clean_text ? bertCleanText(s) : s;
    if (j.handle_chinese_chars) out = spaceCjk(out);
    if (strip) out = stripNonspacingMarks(out.normalize('NFD'));
    return j.lowercase ? lowercaseChars(out) : out;
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
export function buildNormalizer(component: ComponentJSON | NormalizerJSON): Normalizer {
  const j = component as NormalizerJSON;
  switch (j.type) {
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': {
      const form = j.type;
      return (s) => s.normalize(form);
    }
    case 'Lowercase': return lowercaseChars;
    case 'StripAccents': return stripNonspacingMarks;
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
