#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Builds examples/char-lm/corpus.txt, the multilingual corpus of the char-lm example
// (committed, so training needs no network): the original passages of texts.mjs in seven
// languages, and short sentences about numbers in the same languages with the number words
// written by npm `n2words`. One paragraph or sentence group per line.
// Invariant: deterministic (seeded), so re-running reproduces the committed file byte for byte.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toCardinal as en } from 'n2words/en-US';
import { toCardinal as de } from 'n2words/de-DE';
import { toCardinal as es } from 'n2words/es-ES';
import { toCardinal as it } from 'n2words/it-IT';
import { toCardinal as pt } from 'n2words/pt-PT';
import { toCardinal as id } from 'n2words/id-ID';
import { toCardinal as fr } from 'n2words/fr-FR';
import { Rng } from '@heed/train';
import { PASSAGES } from './texts.mjs';

/** Sentence templates per language: (words, a, b) -> sentence; `w` spells a number. */
const TEMPLATES = {
  en: { w: en, t: [(w, a, b) => `${w(a)} plus ${w(b)} is ${w(a + b)}.`, (w, a) => `There are ${w(a)} houses in the village.`, (w, a, b) => `The baker sold ${w(a)} loaves and kept ${w(b)}.`] },
  de: { w: de, t: [(w, a, b) => `${w(a)} plus ${w(b)} ist ${w(a + b)}.`, (w, a) => `Im Dorf gibt es ${w(a)} Häuser.`, (w, a, b) => `Der Bäcker verkaufte ${w(a)} Brote und behielt ${w(b)}.`] },
  es: { w: es, t: [(w, a, b) => `${w(a)} más ${w(b)} son ${w(a + b)}.`, (w, a) => `En el pueblo hay ${w(a)} casas.`, (w, a, b) => `El panadero vendió ${w(a)} panes y guardó ${w(b)}.`] },
  it: { w: it, t: [(w, a, b) => `${w(a)} più ${w(b)} fa ${w(a + b)}.`, (w, a) => `Nel paese ci sono ${w(a)} case.`, (w, a, b) => `Il fornaio vendette ${w(a)} pani e ne tenne ${w(b)}.`] },
  pt: { w: pt, t: [(w, a, b) => `${w(a)} mais ${w(b)} são ${w(a + b)}.`, (w, a) => `Na aldeia há ${w(a)} casas.`, (w, a, b) => `O padeiro vendeu ${w(a)} pães e guardou ${w(b)}.`] },
  id: { w: id, t: [(w, a, b) => `${w(a)} tambah ${w(b)} sama dengan ${w(a + b)}.`, (w, a) => `Di desa itu ada ${w(a)} rumah.`, (w, a, b) => `Tukang roti menjual ${w(a)} roti dan menyimpan ${w(b)}.`] },
  fr: { w: fr, t: [(w, a, b) => `${w(a)} plus ${w(b)} font ${w(a + b)}.`, (w, a) => `Il y a ${w(a)} maisons dans le village.`, (w, a, b) => `Le boulanger a vendu ${w(a)} pains et en a gardé ${w(b)}.`] },
};

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The corpus text: passages, then groups of number sentences, shuffled by line.
 *
 * @example
 * const text = buildCorpus({ seed: 0, numberLines: 1400 });
 * @param {{ seed: number, numberLines: number }} o
 */
export function buildCorpus({ seed, numberLines }) {
  const rng = new Rng(seed);
  const lines = [];
  for (const paragraphs of Object.values(PASSAGES)) lines.push(...paragraphs);
  const codes = Object.keys(TEMPLATES);
  for (let i = 0; i < numberLines; i++) {
    const { w, t } = TEMPLATES[codes[i % codes.length]];
    const sentences = Array.from({ length: 3 }, () => {
      const a = rng.int(rng.next() < 0.5 ? 100 : 1000);
      const b = rng.int(100);
      return capitalize(t[rng.int(t.length)](w, a, b));
    });
    lines.push(sentences.join(' '));
  }
  return `${rng.shuffle(lines).join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = fileURLToPath(new URL('./corpus.txt', import.meta.url));
  const text = buildCorpus({ seed: 2024, numberLines: 700 });
  writeFileSync(path, text);
  console.log(`wrote ${path}: ${Buffer.byteLength(text)} bytes, ${text.split('\n').length - 1} lines`);
}
