// SPDX-License-Identifier: MIT
// GPT: training lowers the loss and it learns a periodic sequence; kv-cache generation equals
// full recomputation (tokens, and logits step by step), also past maxLen where the context
// slides; sampling is reproducible from a seed and respects top-k; weights are tied; a saved
// model reloads and generates the same text.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, memory, noGrad, registerBackend, setBackend, tensor, tidy } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW } from '@heed/nn';
import { CharTokenizer, GPT, loadModel, saveModel } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const text = 'abcdefg abcdefg abcdefg abcdefg abcdefg abcdefg abcdefg abcdefg ';
const tok = CharTokenizer.fromCorpus([text]);
const ids = tok.encode(text);
let gpt: GPT;
const losses: number[] = [];

beforeAll(async () => {
  gpt = new GPT({ vocabSize: tok.vocabSize, dModel: 32, nhead: 4, numLayers: 2, maxLen: 16, dropout: 0, generator: new Generator(1) });
  const opt = new AdamW(gpt, { lr: 5e-3 });
  for (let step = 0; step < 60; step++) {
    const rows = Array.from({ length: 8 }, (_, i) => ids.slice((step + i * 3) % 40, ((step + i * 3) % 40) + 13));
    const batch = tensor(rows, { dtype: 'int32' });
    const loss = gpt.loss(batch);
    loss.backward();
    opt.step();
    opt.zeroGrad();
    losses.push((await loss.data())[0]);
    loss.dispose();
    batch.dispose();
  }
}, 120_000);

describe('GPT', () => {
  it('lowers the next-token loss and continues the pattern greedily', async () => {
    expect(losses[0]).toBeGreaterThan(1.5);
    expect(losses.at(-1)).toBeLessThan(0.2);
    const out = await gpt.generate(tok.encode('abc'), { maxNewTokens: 10, temperature: 0 });
    expect(tok.decode(out)).toBe('defg abcde');
  });

  it('generates the same tokens with and without the kv-cache, also past maxLen', async () => {
    const prompt = tok.encode('cdefg a');
    for (const options of [{ temperature: 0 }, { temperature: 1.5, topK: 4 }]) {
      const cached = await gpt.generate(prompt, { maxNewTokens: 20, ...options, generator: new Generator(9), useCache: true });
      const full = await gpt.generate(prompt, { maxNewTokens: 20, ...options, generator: new Generator(9), useCache: false });
      expect(cached).toHaveLength(20);
      expect(cached).toEqual(full);
    }
  });

  it('gives the logits of full recomputation when decoding with the cache', async () => {
    gpt.eval();
    const seq = tok.encode('bcdefg abc');
    const full = noGrad(() => gpt.forward(tensor([seq], { dtype: 'int32' })));
    const fullData = await full.data();
    full.dispose();
    const cache = gpt.createCache();
    let maxDiff = 0;
    const Vn = tok.vocabSize;
    for (let t = 0; t < seq.length; t++) {
      const step = noGrad(() => gpt.forward(tensor([[seq[t]]], { dtype: 'int32' }), { cache }));
      const row = await step.data();
      step.dispose();
      for (let v = 0; v < Vn; v++) maxDiff = Math.max(maxDiff, Math.abs(row[v] - fullData[t * Vn + v]));
    }
    for (const c of cache) c.dispose();
    gpt.train();
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('samples reproducibly from a seed, within the top-k', async () => {
    const prompt = tok.encode('a');
    const a = await gpt.generate(prompt, { maxNewTokens: 12, temperature: 2, topK: 3, generator: new Generator(42) });
    const b = await gpt.generate(prompt, { maxNewTokens: 12, temperature: 2, topK: 3, generator: new Generator(42) });
    expect(a).toEqual(b);
    const c = await gpt.generate(prompt, { maxNewTokens: 12, temperature: 5, generator: new Generator(43) });
    const d = await gpt.generate(prompt, { maxNewTokens: 12, temperature: 5, generator: new Generator(44) });
    expect(c).not.toEqual(d);
    const stopped = await gpt.generate(tok.encode('abc'), { maxNewTokens: 10, temperature: 0, stopToken: tok.encode(' ')[0] });
    expect(tok.decode(stopped)).toBe('defg ');
  });

  it('ties the head to the token embedding (one parameter, two state-dict keys)', () => {
    expect(gpt.head.weight).toBe(gpt.tokEmbed.weight);
    const keys = [...gpt.stateDict().keys()];
    expect(keys).toContain('tok_embed.weight');
    expect(keys).toContain('head.weight');
    expect(gpt.parameters().filter((p) => p === gpt.tokEmbed.weight)).toHaveLength(1);
  });

  it('saves and reloads, generating the same text, without leaking tensors', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'heed-gpt-')), 'gpt.safetensors');
    await saveModel(path, gpt, { tokenizer: tok });
    const loaded = await loadModel(path);
    if (loaded.kind !== 'gpt') throw new Error(`expected a gpt, got ${loaded.kind}`);
    expect(loaded.model.head.weight).toBe(loaded.model.tokEmbed.weight);
    const options = { maxNewTokens: 15, temperature: 0.9, topK: 5 };
    const before = memory().numTensors;
    const x = await loaded.model.generate(tok.encode('ab'), { ...options, generator: new Generator(5) });
    expect(memory().numTensors).toBe(before);
    const y = await gpt.generate(tok.encode('ab'), { ...options, generator: new Generator(5) });
    expect(loaded.tokenizer?.decode(x)).toBe(tok.decode(y));
    loaded.model.dispose();
  });

  it('gives causal attention maps', async () => {
    const maps = tidy(() => gpt.attentionMaps(tensor([tok.encode('abcd')], { dtype: 'int32' })));
    expect(maps).toHaveLength(2);
    const w = (await maps[1].array()) as number[][][];
    expect(w[0][0]).toEqual([1, 0, 0, 0]);
    expect(w[0][2][3]).toBe(0);
    expect(w[0][3].reduce((a, b) => a + b)).toBeCloseTo(1, 5);
    for (const m of maps) m.dispose();
  });
});
