// SPDX-License-Identifier: MIT
// Tokenizers: reserved ids, extra special tokens matched atomically, round trips (BPE on any
// Unicode string, also unseen characters), hand-computed first merges, determinism, JSON
// round trips through tokenizerFromJSON, and error messages.
import { describe, expect, it } from 'vitest';
import { HeedError } from '@heed/core';
import { BpeTokenizer, CharTokenizer, SPECIAL_TOKENS, preTokenize, splitSpecial, tokenizerFromJSON } from '../src/index.js';

const corpus = [
  'einundzwanzig', 'zweiundzwanzig', 'dreiundzwanzig', 'vierundzwanzig', 'einhundert', 'zweihundert',
  'dua puluh satu', 'dua puluh dua', 'tiga puluh satu', 'cento e vinte', 'ciento veinte', 'duecentotrenta',
];

describe('CharTokenizer', () => {
  const tok = CharTokenizer.fromCorpus(corpus, { extraSpecialTokens: ['<de>', '<es>'] });

  it('reserves ids 0..3 and puts extra special tokens next, then characters by code point', () => {
    expect([tok.padId, tok.bosId, tok.eosId, tok.unkId]).toEqual([0, 1, 2, 3]);
    expect(tok.idToToken(0)).toBe('<pad>');
    expect(tok.specialTokenId('<de>')).toBe(4);
    expect(tok.specialTokenId('<es>')).toBe(5);
    expect(tok.chars[0]).toBe(' ');
    expect([...tok.chars].sort()).toEqual([...tok.chars]);
    expect(tok.vocabSize).toBe(6 + new Set(corpus.join('')).size);
  });

  it('round-trips known text and maps unknown characters to <unk>', () => {
    for (const text of corpus) expect(tok.decode(tok.encode(text))).toBe(text);
    const ids = tok.encode('<de> zwei!', { addBos: true, addEos: true });
    expect(ids[0]).toBe(1);
    expect(ids[1]).toBe(4);
    expect(ids.at(-1)).toBe(2);
    expect(ids.at(-2)).toBe(3); // '!' is unknown
    expect(tok.decode(ids, { skipSpecialTokens: false })).toBe('<bos><de> zwei<unk><eos>');
    expect(tok.decode(ids)).toBe(' zwei');
  });

  it('serialises to JSON and back', () => {
    const copy = tokenizerFromJSON(JSON.stringify(tok.toJSON()));
    expect(copy).toBeInstanceOf(CharTokenizer);
    expect(copy.encode('<es> ciento')).toEqual(tok.encode('<es> ciento'));
    expect(copy.vocabSize).toBe(tok.vocabSize);
  });

  it('rejects bad input with clear errors', () => {
    expect(() => new CharTokenizer(['ab'])).toThrow(/one code point/);
    expect(() => CharTokenizer.fromCorpus(['a'], { extraSpecialTokens: ['<pad>'] })).toThrow(/reserved/);
    expect(() => tok.idToToken(tok.vocabSize)).toThrow(HeedError);
  });
});

describe('BpeTokenizer', () => {
  it('learns the most frequent pair first (hand-computed)', () => {
    // 'ababab' has pairs ab x3, ba x2; 'abab' has ab x2, ba x1: 'ab' (97, 98) wins with 5.
    const tok = BpeTokenizer.train(['ababab', 'abab'], { vocabSize: 4 + 256 + 1 });
    expect(tok.merges).toEqual([[97, 98]]);
    const ab = 4 + 256;
    expect(tok.encode('abab')).toEqual([ab, ab]);
    expect(tok.encode('aba')).toEqual([ab, 4 + 97]);
    expect(tok.idToToken(ab)).toBe('ab');
  });

  it('builds merges on merges and stops at minFrequency', () => {
    const tok = BpeTokenizer.train(['abcabc abcabc'], { vocabSize: 4 + 256 + 50, minFrequency: 2 });
    // Every learned token occurs at least twice; the whole corpus word 'abcabc' becomes one token.
    expect(tok.encode('abcabc')).toHaveLength(1);
    expect(tok.vocabSize).toBeLessThan(4 + 256 + 50);
  });

  it('round-trips any Unicode string, including characters never seen in training', () => {
    const tok = BpeTokenizer.train(corpus, { vocabSize: 320, extraSpecialTokens: ['<de>'] });
    for (const text of [...corpus, 'fünfundzwanzig', 'Ärger über Öl — ß', '数字 🙂 ok', '  spaces\tand\nlines ', '']) {
      expect(tok.decode(tok.encode(text))).toBe(text);
    }
  });

  it('compresses its training text and is deterministic', () => {
    const a = BpeTokenizer.train(corpus, { vocabSize: 330 });
    const b = BpeTokenizer.train(corpus, { vocabSize: 330 });
    expect(a.merges).toEqual(b.merges);
    const bytes = new TextEncoder().encode(corpus.join('')).length;
    const tokens = corpus.reduce((n, t) => n + a.encode(t).length, 0);
    expect(tokens).toBeLessThan(bytes / 2);
  });

  it('keeps special tokens atomic and never merges across them', () => {
    const tok = BpeTokenizer.train(['<de> zwei <es> dos', 'zwei dos'], { vocabSize: 300, extraSpecialTokens: ['<de>', '<es>'] });
    const ids = tok.encode('<de><es>zwei');
    expect(ids[0]).toBe(tok.specialTokenId('<de>'));
    expect(ids[1]).toBe(tok.specialTokenId('<es>'));
    expect(tok.decode(ids)).toBe('zwei');
    expect(tok.decode(ids, { skipSpecialTokens: false })).toBe('<de><es>zwei');
  });

  it('serialises to JSON and back, with the same ids', () => {
    const tok = BpeTokenizer.train(corpus, { vocabSize: 300, extraSpecialTokens: ['<it>'] });
    const copy = tokenizerFromJSON(JSON.parse(JSON.stringify(tok)));
    expect(copy).toBeInstanceOf(BpeTokenizer);
    for (const text of corpus) expect(copy.encode(`<it> ${text}`)).toEqual(tok.encode(`<it> ${text}`));
    expect(copy.vocabSize).toBe(tok.vocabSize);
  });

  it('rejects bad settings and serialised forms', () => {
    expect(() => BpeTokenizer.train(corpus, { vocabSize: 100 })).toThrow(/vocabSize must be an integer >= 260/);
    expect(() => new BpeTokenizer([[300, 1]])).toThrow(/only ids below 256/);
    expect(() => tokenizerFromJSON('{"type":"wordpiece"}')).toThrow(/unknown tokenizer type 'wordpiece'/);
  });
});

describe('helpers', () => {
  it('pre-tokenizes into words with their leading space', () => {
    expect(preTokenize('dua puluh satu, 21!')).toEqual(['dua', ' puluh', ' satu', ',', ' 21', '!']);
  });

  it('splits around special tokens, longest first', () => {
    expect(splitSpecial('<de><deu> x', ['<de>', '<deu>'])).toEqual([{ special: '<de>' }, { special: '<deu>' }, { text: ' x' }]);
    expect(SPECIAL_TOKENS.unk).toEqual({ token: '<unk>', id: 3 });
  });
});
