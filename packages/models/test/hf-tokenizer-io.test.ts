// SPDX-License-Identifier: MIT
// AutoTokenizer's files and failures: savePretrained -> fromPretrained gives the same
// tokenizer.json and the same ids; the tensor form of encodeBatch; pair truncation; errors for a
// missing tokenizer.json (with a hint when only slow-tokenizer files are there), invalid JSON,
// unknown component types (named), and padding without a pad token.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { HeedError, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AutoTokenizer, PreTrainedTokenizerFast, type HFTokenizerJSON } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const FIX = join(import.meta.dirname, 'fixtures', 'hf-tokenizers');
const tmp = mkdtempSync(join(tmpdir(), 'heed-hf-tok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TEXTS = ['Hello world', 'Ich habe heute früh 😀', '東京 <|endoftext|> [CLS] <s>', '🦀 ẞ'];

function fixtureJSON(kind: string): HFTokenizerJSON {
  return JSON.parse(readFileSync(join(FIX, kind, 'tokenizer.json'), 'utf8')) as HFTokenizerJSON;
}

describe('AutoTokenizer files', () => {
  it.each(['gpt2', 'bert', 'llama', 'llama-metaspace'])('%s: savePretrained round trip is exact', async (kind) => {
    const tok = await AutoTokenizer.fromPretrained(join(FIX, kind));
    const dir = join(tmp, kind);
    await tok.savePretrained(dir);
    expect(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'))).toEqual(fixtureJSON(kind));
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toEqual(JSON.parse(readFileSync(join(FIX, kind, 'tokenizer_config.json'), 'utf8')));
    const again = await AutoTokenizer.fromPretrained(dir);
    for (const t of TEXTS) expect(again.encode(t)).toEqual(tok.encode(t));
    expect([again.padTokenId, again.eosTokenId, again.bosTokenId, again.unkTokenId]).toEqual([tok.padTokenId, tok.eosTokenId, tok.bosTokenId, tok.unkTokenId]);
    expect(again.paddingSide).toBe(tok.paddingSide);
  });

  it('reads a URL prefix with fetch (the browser path), 404 meaning absent', async () => {
    const requested: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      requested.push(url);
      const name = url.replace('https://models.example/llama/', '');
      try {
        return new Response(readFileSync(join(FIX, 'llama', name)));
      } catch {
        return new Response('not found', { status: 404, statusText: 'Not Found' });
      }
    });
    try {
      const tok = await AutoTokenizer.fromPretrained('https://models.example/llama/');
      const local = await AutoTokenizer.fromPretrained(join(FIX, 'llama'));
      for (const t of TEXTS) expect(tok.encode(t)).toEqual(local.encode(t));
      expect(tok.paddingSide).toBe('left');
      expect(requested).toEqual(['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'].map((f) => `https://models.example/llama/${f}`));
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it.each(['gpt2', 'llama'])('%s: merges in the older "a b" string form give the same ids', async (kind) => {
    const json = fixtureJSON(kind);
    const merges = json.model.merges as [string, string][];
    expect(merges.every((m) => !m[0].includes(' ') && !m[1].includes(' '))).toBe(true);
    const old = new PreTrainedTokenizerFast({ ...json, model: { ...json.model, merges: merges.map(([a, b]) => `${a} ${b}`) } });
    const tok = await AutoTokenizer.fromPretrained(join(FIX, kind));
    const texts = (JSON.parse(readFileSync(join(FIX, kind, 'expected.json'), 'utf8')) as { cases: { text: string }[] }).cases.map((c) => c.text);
    for (const t of texts) expect(old.encode(t)).toEqual(tok.encode(t));
  });

  it('reads special tokens and limits from tokenizer_config.json', async () => {
    const bert = await AutoTokenizer.fromPretrained(join(FIX, 'bert'));
    expect([bert.padTokenId, bert.unkTokenId, bert.clsTokenId, bert.sepTokenId, bert.maskTokenId]).toEqual([0, 1, 2, 3, 4]);
    expect(bert.modelMaxLength).toBe(512);
    const llama = await AutoTokenizer.fromPretrained(join(FIX, 'llama'));
    expect([llama.bosTokenId, llama.eosTokenId, llama.unkTokenId, llama.padTokenId]).toEqual([1, 2, 0, 0]);
    expect(llama.paddingSide).toBe('left');
    const meta = await AutoTokenizer.fromPretrained(join(FIX, 'llama-metaspace'));
    expect(meta.padTokenId).toBeNull();
  });

  it('special_tokens_map.json overrides tokenizer_config.json', async () => {
    const dir = join(tmp, 'map');
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(FIX, 'llama-metaspace', 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '</s>' }));
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: { content: '</s>', lstrip: false }, eos_token: '<|eot|>' }));
    const tok = await AutoTokenizer.fromPretrained(dir);
    expect(tok.padTokenId).toBe(2);
    expect(tok.eosTokenId).toBe(tok.convertTokensToIds('<|eot|>'));
  });
});

describe('encodeBatch', () => {
  it('returns int32 tensors when asked, and refuses ragged rows', async () => {
    const tok = await AutoTokenizer.fromPretrained(join(FIX, 'bert'));
    const arrays = tok.encodeBatch(TEXTS, { padding: true });
    const t = tok.encodeBatch(TEXTS, { padding: true, returnTensors: 'heed' });
    expect(t.inputIds.dtype).toBe('int32');
    expect(t.inputIds.shape).toEqual([TEXTS.length, arrays.inputIds[0].length]);
    expect(await t.inputIds.array()).toEqual(arrays.inputIds);
    expect(await t.attentionMask.array()).toEqual(arrays.attentionMask);
    t.inputIds.dispose(); t.attentionMask.dispose(); t.tokenTypeIds.dispose();
    expect(() => tok.encodeBatch(TEXTS, { returnTensors: 'heed' })).toThrow(/padding: true/);
  });

  it('truncates pairs longest-first and leaves room for the special tokens', async () => {
    const tok = await AutoTokenizer.fromPretrained(join(FIX, 'bert'));
    const a = tok.encode('a b c d e f g h', { addSpecialTokens: false });
    const b = tok.encode('i j k', { addSpecialTokens: false });
    expect([a.length, b.length]).toEqual([8, 3]);
    const out = tok.encodeBatch(['a b c d e f g h'], { textPairs: ['i j k'], truncation: true, maxLength: 9 });
    // 9 - 3 specials = 6 tokens for the sequences: the longer one is cut to 6 - 3 = 3.
    expect(out.inputIds[0]).toEqual([2, ...a.slice(0, 3), 3, ...b, 3]);
    expect(out.tokenTypeIds[0]).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
    const both = tok.encodeBatch(['a b c d e f g h'], { textPairs: ['i j k'], truncation: true, maxLength: 7 });
    expect(both.inputIds[0]).toEqual([2, ...a.slice(0, 2), 3, ...b.slice(0, 2), 3]);
    const left = tok.encodeBatch(['a b c d e f g h'], { truncation: true, maxLength: 5, truncationSide: 'left' });
    expect(left.inputIds[0]).toEqual([2, ...a.slice(5), 3]);
  });

  it('refuses to pad without a pad token, and bad lengths', async () => {
    const tok = await AutoTokenizer.fromPretrained(join(FIX, 'llama-metaspace'));
    expect(() => tok.encodeBatch(['a', 'b c'], { padding: true })).toThrow(HeedError);
    expect(() => tok.encodeBatch(['a', 'b c'], { padding: true })).toThrow(/no pad token/);
    expect(tok.encodeBatch(['a', 'b c']).inputIds.map((r) => r.length)).toEqual([tok.encode('a').length, tok.encode('b c').length]);
    expect(() => tok.encodeBatch(['a'], { maxLength: 0, truncation: true })).toThrow(/maxLength must be a positive integer/);
    expect(() => tok.encodeBatch(['a'], { textPairs: ['x', 'y'] })).toThrow(/one pair per text/);
    const bert = await AutoTokenizer.fromPretrained(join(FIX, 'bert'));
    expect(() => bert.encodeBatch(['a b c'], { truncation: true, maxLength: 1 })).toThrow(/special tokens alone take 2/);
    expect(bert.encodeBatch(['a b c'], { truncation: true, maxLength: 1, addSpecialTokens: false }).inputIds[0]).toHaveLength(1);
  });
});

describe('AutoTokenizer errors', () => {
  it('names a missing tokenizer.json, with a hint for slow-tokenizer folders', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(AutoTokenizer.fromPretrained(empty)).rejects.toThrow(/no tokenizer\.json in/);
    writeFileSync(join(empty, 'vocab.txt'), '[PAD]\n');
    await expect(AutoTokenizer.fromPretrained(empty)).rejects.toThrow(/vocab\.txt \(a slow BERT-style vocabulary\)/);
    await expect(AutoTokenizer.fromPretrained(join(tmp, 'does-not-exist'))).rejects.toThrow(/is not a directory/);
  });

  it('rejects invalid JSON with the file name', async () => {
    const dir = join(tmp, 'badjson');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
    await expect(AutoTokenizer.fromPretrained(dir)).rejects.toThrow(/tokenizer\.json' is not valid JSON/);
  });

  it.each([
    ['normalizer', { type: 'Precompiled', precompiled_charsmap: '' }, /unknown normalizer type "Precompiled"/],
    ['pre_tokenizer', { type: 'UnicodeScripts' }, /unknown pre_tokenizer type "UnicodeScripts"/],
    ['post_processor', { type: 'Fancy' }, /unknown post_processor type "Fancy"/],
    ['decoder', { type: 'CTC', pad_token: '<pad>' }, /unknown decoder type "CTC"/],
    ['model', { type: 'Unigram', vocab: [] }, /unknown model type "Unigram"/],
  ] as const)('names an unknown %s type', (field, value, message) => {
    const json = { ...fixtureJSON('gpt2'), [field]: value } as unknown as HFTokenizerJSON;
    expect(() => new PreTrainedTokenizerFast(json)).toThrow(HeedError);
    expect(() => new PreTrainedTokenizerFast(json)).toThrow(message);
  });

  it('rejects a file without a model, BPE dropout and merges over missing tokens', () => {
    expect(() => PreTrainedTokenizerFast.fromJSON('{"added_tokens": []}')).toThrow(/no "model" object/);
    const j = fixtureJSON('gpt2');
    const drop = { ...j, model: { ...j.model, dropout: 0.1 } } as HFTokenizerJSON;
    expect(() => new PreTrainedTokenizerFast(drop)).toThrow(/dropout 0.1/);
    const bad = { ...j, model: { ...j.model, merges: [['zz-missing', 'q']] } } as unknown as HFTokenizerJSON;
    expect(() => new PreTrainedTokenizerFast(bad)).toThrow(/BPE merge 0 .* missing from the vocabulary/);
  });
});
