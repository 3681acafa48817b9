// SPDX-License-Identifier: MIT
// ROUGE against hand-computed values: Lin's (2004) "police killed the gunman" examples, count
// clipping, unequal lengths, Unicode tokens (accents, CJK kept; punctuation dropped), empty
// texts (0, as rouge-score), corpus means; lcsLength against a brute-force oracle that tries
// every subsequence of small random token lists.
import { describe, expect, it } from 'vitest';
import { HeedError } from '@heed/core';
import { Rng, corpusRouge, lcsLength, rouge, rougeL, rougeN, rougeTokens } from '../src/index.js';

const close = (got: { precision: number; recall: number; f1: number }, p: number, r: number, f: number) => {
  expect(got.precision).toBeCloseTo(p, 12);
  expect(got.recall).toBeCloseTo(r, 12);
  expect(got.f1).toBeCloseTo(f, 12);
};

describe('rouge', () => {
  it("scores Lin's examples (reference 'police killed the gunman')", () => {
    const ref = 'police killed the gunman';
    const a = rouge('police kill the gunman', ref);
    close(a.rouge1, 3 / 4, 3 / 4, 3 / 4);
    close(a.rouge2, 1 / 3, 1 / 3, 1 / 3); // only "the gunman"
    close(a.rougeL, 3 / 4, 3 / 4, 3 / 4); // police, the, gunman
    const b = rouge('the gunman kill police', ref);
    close(b.rouge1, 3 / 4, 3 / 4, 3 / 4);
    close(b.rouge2, 1 / 3, 1 / 3, 1 / 3);
    close(b.rougeL, 1 / 2, 1 / 2, 1 / 2); // "the gunman" (or "police"): LCS 2, where ROUGE-1 cannot tell a from b
  });

  it('clips repeated n-grams and handles unequal lengths', () => {
    const s = rouge('the the the the', 'the cat');
    close(s.rouge1, 1 / 4, 1 / 2, 1 / 3);
    close(s.rouge2, 0, 0, 0);
    close(s.rougeL, 1 / 4, 1 / 2, 1 / 3);
    const t = rouge('a b c d e', 'a c e');
    close(t.rouge1, 3 / 5, 1, 0.75);
    close(t.rougeL, 3 / 5, 1, 0.75);
    close(t.rouge2, 0, 0, 0); // bigrams ab bc cd de vs ac ce
    close(rougeN(['a', 'b', 'a', 'b'], ['a', 'b', 'x', 'a', 'b'], 2), 2 / 3, 2 / 4, 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5));
    close(rougeN(['a', 'b', 'c'], ['a', 'b', 'c'], 3), 1, 1, 1);
    close(rougeN(['a', 'b'], ['a', 'b', 'c'], 3), 0, 0, 0); // the prediction has no trigram
  });

  it('tokenizes lowercased Unicode letters and digits; punctuation separates', () => {
    expect(rougeTokens('München: Regen, 12 Grad!')).toEqual(['münchen', 'regen', '12', 'grad']);
    expect(rougeTokens('Ações da Atlântico caem 3%')).toEqual(['ações', 'da', 'atlântico', 'caem', '3']);
    expect(rougeTokens('Adler schlägt Falken 3:1')).toEqual(['adler', 'schlägt', 'falken', '3', '1']);
    expect(rougeTokens('  東京 は 晴れ ')).toEqual(['東京', 'は', '晴れ']);
    expect(rougeTokens('... !')).toEqual([]);
    close(rouge('Köln: SONNE, 20 Grad', 'köln: sonne, 20 grad').rougeL, 1, 1, 1);
  });

  it('scores 0 for an empty prediction or reference (as rouge-score) and rejects bad input', () => {
    for (const [p, r] of [['', 'a b'], ['a b', ''], ['', ''], ['?!', 'a']]) {
      const s = rouge(p, r);
      for (const k of ['rouge1', 'rouge2', 'rougeL'] as const) close(s[k], 0, 0, 0);
    }
    expect(() => rougeN(['a'], ['a'], 0)).toThrow(HeedError);
    expect(() => rougeTokens(3 as unknown as string)).toThrow(/expected a string/);
    expect(() => corpusRouge(['a'], [])).toThrow(/one reference per prediction/);
    expect(() => corpusRouge([], [])).toThrow(HeedError);
  });

  it('corpusRouge averages precision, recall and F1 over the pairs', () => {
    const s = corpusRouge(['police kill the gunman', 'the the the the', 'x'], ['police killed the gunman', 'the cat', 'x']);
    close(s.rouge1, (3 / 4 + 1 / 4 + 1) / 3, (3 / 4 + 1 / 2 + 1) / 3, (3 / 4 + 1 / 3 + 1) / 3);
    close(s.rouge2, (1 / 3 + 0 + 0) / 3, (1 / 3 + 0 + 0) / 3, (1 / 3) / 3); // "x" has no bigram: 0
    close(s.rougeL, (3 / 4 + 1 / 4 + 1) / 3, (3 / 4 + 1 / 2 + 1) / 3, (3 / 4 + 1 / 3 + 1) / 3);
  });

  it('lcsLength equals a brute-force search over every subsequence', () => {
    const rng = new Rng(5);
    const words = ['a', 'b', 'c'];
    const isSubsequence = (sub: string[], of: readonly string[]) => {
      let j = 0;
      for (const w of of) if (j < sub.length && sub[j] === w) j++;
      return j === sub.length;
    };
    const bruteForce = (a: string[], b: string[]) => {
      let best = 0;
      for (let mask = 0; mask < 1 << a.length; mask++) {
        const sub = a.filter((_, i) => (mask >> i) & 1);
        if (sub.length > best && isSubsequence(sub, b)) best = sub.length;
      }
      return best;
    };
    for (let trial = 0; trial < 200; trial++) {
      const a = Array.from({ length: rng.int(9) }, () => words[rng.int(3)]);
      const b = Array.from({ length: rng.int(9) }, () => words[rng.int(3)]);
      const want = bruteForce(a, b);
      expect(lcsLength(a, b)).toBe(want);
      expect(lcsLength(b, a)).toBe(want);
      const l = rougeL(a, b);
      expect(l.precision).toBe(a.length > 0 ? want / a.length : 0);
      expect(l.recall).toBe(b.length > 0 ? want / b.length : 0);
    }
  });
});
