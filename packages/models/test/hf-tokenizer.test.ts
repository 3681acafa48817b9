// SPDX-License-Identifier: MIT
// AutoTokenizer against the Rust `tokenizers` library: for tokenizers trained by
// scripts/fixtures/gen_hf_tokenizer_fixtures.py in the GPT-2 (byte-level BPE), BERT (WordPiece)
// and Llama (byte-fallback BPE, Prepend/Replace and Metaspace layouts) formats, every recorded
// string's ids (with and without special tokens), tokens, decodes (with and without special
// tokens) and pairs must be exactly the library's; batches must pad and truncate exactly as
// transformers' PreTrainedTokenizerFast does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoTokenizer, PreTrainedTokenizerFast, type EncodeBatchOptions, type HFTokenizerJSON, type TokenizerConfigJSON } from '../src/index.js';

const FIX = join(import.meta.dirname, 'fixtures', 'hf-tokenizers');
export const KINDS = ['gpt2', 'bert', 'llama', 'llama-metaspace', 'metaspace-split', 'roberta', 'llama3', 'misc', 'wordlevel'] as const;

interface Case {
  text: string; ids: number[]; tokens: string[]; idTokens: string[]; idsNoSpecial: number[]; tokensNoSpecial: string[];
  decode: string; decodeSkipSpecial: string; hfDecode: string; hfDecodeSkipSpecial: string;
}
interface Expected {
  kind: string; vocabSize: number; cases: Case[];
  pairs: { text: string; textPair: string; ids: number[]; idsNoSpecial: number[]; typeIds: number[] }[];
  batchTexts: string[];
  batches: { options: Record<string, unknown>; inputIds?: number[][]; attentionMask?: number[][]; tokenTypeIds?: number[][] | null; error?: string }[];
  convert: Record<string, number | null>;
  truncation: [text: string, pair: string | null, maxLength: number, side: 'left' | 'right', strategy: 'longest_first' | 'only_first' | 'only_second', ids: number[] | null][];
  fuzz: [text: string, ids: number[], decode: string, decodeSkipSpecial: string][];
  flags: { config: Record<string, boolean>; cases: { text: string; textPair?: string; ids: number[] }[] } | null;
}

function expected(kind: string): Expected {
  return JSON.parse(readFileSync(join(FIX, kind, 'expected.json'), 'utf8')) as Expected;
}

/** transformers' keyword arguments -> encodeBatch options. */
function batchOptions(o: Record<string, unknown>, texts: string[]): EncodeBatchOptions {
  return {
    textPairs: o.pairs === true ? [...texts].reverse() : undefined,
    padding: o.padding as EncodeBatchOptions['padding'], maxLength: o.max_length as number | undefined,
    truncation: o.truncation as EncodeBatchOptions['truncation'], paddingSide: o.padding_side as 'left' | 'right' | undefined,
    addSpecialTokens: o.add_special_tokens as boolean | undefined, padToMultipleOf: o.pad_to_multiple_of as number | undefined,
  };
}

describe.each(KINDS)('AutoTokenizer %s', (kind) => {
  const exp = expected(kind);
  let tok: PreTrainedTokenizerFast;
  beforeAll(async () => {
    tok = await AutoTokenizer.fromPretrained(join(FIX, kind));
  });
  it('loads tokenizer.json + tokenizer_config.json', () => {
    expect(tok.vocabSize).toBe(exp.vocabSize);
  });

  it.each(exp.cases.map((c, i) => [i, JSON.stringify(c.text).slice(0, 40), c] as const))('case %i %s', (_i, _name, c) => {
    expect(tok.encode(c.text)).toEqual(c.ids);
    expect(tok.encode(c.text, { addSpecialTokens: false })).toEqual(c.idsNoSpecial);
    expect(tok.tokenize(c.text)).toEqual(c.tokensNoSpecial);
    expect(tok.tokenize(c.text, { addSpecialTokens: true })).toEqual(c.tokens);
    expect(tok.convertIdsToTokens(c.ids)).toEqual(c.idTokens);
    expect(tok.decode(c.ids, { cleanUpTokenizationSpaces: false })).toBe(c.decode);
    expect(tok.decode(c.ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false })).toBe(c.decodeSkipSpecial);
    expect(tok.decode(c.ids)).toBe(c.hfDecode);
    expect(tok.decode(c.ids, { skipSpecialTokens: true })).toBe(c.hfDecodeSkipSpecial);
  });

  it('random strings of hard characters (fuzz cases)', () => {
    for (const [text, ids, decode, decodeSkip] of exp.fuzz) {
      expect(tok.encode(text), JSON.stringify(text)).toEqual(ids);
      expect(tok.decode(ids, { cleanUpTokenizationSpaces: false })).toBe(decode);
      expect(tok.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false })).toBe(decodeSkip);
    }
  });

  it('pairs', () => {
    for (const p of exp.pairs) {
      expect(tok.encode(p.text, { textPair: p.textPair })).toEqual(p.ids);
      expect(tok.encode(p.text, { textPair: p.textPair, addSpecialTokens: false })).toEqual(p.idsNoSpecial);
      expect(tok.encodeBatch([p.text], { textPairs: [p.textPair] }).tokenTypeIds[0]).toEqual(p.typeIds);
    }
  });

  it('truncates as the Rust library (random pairs, both sides, every strategy)', () => {
    for (const [text, pair, maxLength, side, truncation, ids] of exp.truncation) {
      const run = () => tok.encodeBatch([text], { textPairs: pair === null ? undefined : [pair], truncation, maxLength, truncationSide: side }).inputIds[0];
      const what = JSON.stringify([text, pair, maxLength, side, truncation]);
      if (ids === null) expect(run, what).toThrow(/cannot truncate/);
      else expect(run(), what).toEqual(ids);
    }
  });

  it('batches pad and truncate like transformers', () => {
    for (const b of exp.batches) {
      const run = () => tok.encodeBatch(exp.batchTexts, batchOptions(b.options, exp.batchTexts));
      if (b.error !== undefined) {
        const message = b.error.includes('not a multiple') ? /is not a multiple of padToMultipleOf/
          : b.error.includes('too short') ? /cannot truncate with 'only_first'/ : /no pad token/;
        expect(run).toThrow(message);
        continue;
      }
      const out = run();
      expect(out.inputIds, JSON.stringify(b.options)).toEqual(b.inputIds);
      expect(out.attentionMask, JSON.stringify(b.options)).toEqual(b.attentionMask);
      if (b.tokenTypeIds) expect(out.tokenTypeIds, JSON.stringify(b.options)).toEqual(b.tokenTypeIds);
    }
  });

  it('convertTokensToIds', () => {
    for (const [t, id] of Object.entries(exp.convert)) expect(tok.convertTokensToIds(t)).toBe(id ?? tok.unkTokenId);
  });

  it.skipIf(exp.flags === null)('add_bos_token / add_eos_token rebuild the post-processor as transformers does', () => {
    const read = (f: string) => JSON.parse(readFileSync(join(FIX, kind, f), 'utf8')) as unknown;
    const config = { ...(read('tokenizer_config.json') as TokenizerConfigJSON), ...exp.flags?.config };
    const flagged = new PreTrainedTokenizerFast(read('tokenizer.json') as HFTokenizerJSON, config);
    for (const c of exp.flags?.cases ?? []) expect(flagged.encode(c.text, { textPair: c.textPair })).toEqual(c.ids);
  });
});
