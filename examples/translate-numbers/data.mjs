// SPDX-License-Identifier: MIT
// The number-translation data: cardinal numbers written in words by the npm package `n2words`
// in five languages, a split of the numbers into training and held-out sets, and the
// source/target text of one example: `<de> <es> zweihundertdrei` -> `doscientos tres`.
// Invariants: the split depends only on (maxNumber, heldOut, seed); a held-out number never
// appears in training in ANY language or direction, nor in the tokenizer's training corpus.
import { toCardinal as idCardinal } from 'n2words/id-ID';
import { toCardinal as deCardinal } from 'n2words/de-DE';
import { toCardinal as ptCardinal } from 'n2words/pt-PT';
import { toCardinal as itCardinal } from 'n2words/it-IT';
import { toCardinal as esCardinal } from 'n2words/es-ES';
import { Rng } from '@heed/train';

/**
 * The languages: code -> { name, tag, words(n) }.
 *
 * @example
 * LANGUAGES.de.words(21); // 'einundzwanzig'
 */
export const LANGUAGES = {
  id: { name: 'Indonesian', tag: '<id>', words: (n) => idCardinal(n) },
  de: { name: 'German', tag: '<de>', words: (n) => deCardinal(n) },
  pt: { name: 'Portuguese', tag: '<pt>', words: (n) => ptCardinal(n) },
  it: { name: 'Italian', tag: '<it>', words: (n) => itCardinal(n) },
  es: { name: 'Spanish', tag: '<es>', words: (n) => esCardinal(n) },
};

/** @type {string[]} The language codes in a fixed order. */
export const CODES = Object.keys(LANGUAGES);

/** @type {string[]} The language tags (tokenizer special tokens). */
export const TAGS = CODES.map((c) => LANGUAGES[c].tag);

/** @type {[string, string][]} Every ordered pair of different languages (20 directions). */
export const DIRECTIONS = CODES.flatMap((a) => CODES.filter((b) => b !== a).map((b) => [a, b]));

/**
 * The source text of a translation request.
 *
 * @example
 * sourceText(1200, 'de', 'es'); // '<de> <es> eintausendzweihundert'
 * @param {number} n @param {string} from @param {string} to
 */
export function sourceText(n, from, to) {
  return `${LANGUAGES[from].tag} ${LANGUAGES[to].tag} ${LANGUAGES[from].words(n)}`;
}

/**
 * The target text (the number in words in `to`).
 *
 * @example
 * targetText(1200, 'es'); // 'mil doscientos'
 * @param {number} n @param {string} to
 */
export function targetText(n, to) {
  return LANGUAGES[to].words(n);
}

/**
 * Splits 0..maxNumber-1 into training and held-out numbers (a seeded shuffle).
 *
 * @example
 * const { train, heldOut } = splitNumbers({ maxNumber: 10000, heldOut: 500, seed: 0 });
 * @param {{ maxNumber: number, heldOut: number, seed: number }} o
 * @returns {{ train: number[], heldOut: number[] }}
 */
export function splitNumbers({ maxNumber, heldOut, seed }) {
  const all = new Rng(seed ^ 0x5eed).shuffle(Array.from({ length: maxNumber }, (_, i) => i));
  return { heldOut: all.slice(0, heldOut).sort((a, b) => a - b), train: all.slice(heldOut) };
}

/**
 * Every training sentence in every language (the tokenizer's corpus: no held-out number).
 *
 * @example
 * const corpus = tokenizerCorpus([1, 2, 3]);
 * @param {number[]} numbers
 */
export function tokenizerCorpus(numbers) {
  return numbers.flatMap((n) => CODES.map((c) => LANGUAGES[c].words(n)));
}

/**
 * Draws one random training example: a training number and a direction.
 *
 * @example
 * const { n, from, to } = sampleExample(train, rng);
 * @param {number[]} numbers @param {Rng} rng
 */
export function sampleExample(numbers, rng) {
  const n = numbers[rng.int(numbers.length)];
  const [from, to] = DIRECTIONS[rng.int(DIRECTIONS.length)];
  return { n, from, to };
}
