// SPDX-License-Identifier: MIT
// generate() on tiny random Hugging Face GPT-2 and Llama checkpoints (saved by HF's own
// classes, fixtures/hf-generate/, scripts/fixtures/gen_hf_generate_fixtures.py) gives exactly
// the token ids of HF's model.generate(): greedy single and left-padded batched, repetition
// penalty, one and several eos tokens (finished rows padded), min_new_tokens / min_length,
// max_length, and the defaults of generation_config.json; cached == uncached; `model.generate`; on CPU and on
// WebGPU (Dawn/SwiftShader; skipped with the reason when there is no adapter). Every case
// records its smallest top-1/top-2 logit margin, so float rounding cannot explain a mismatch.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Generator, checkLeaks, tensor } from '@heed/core';
import { GPT2LMHeadModel, LlamaForCausalLM, generate, type CausalLM, type HFGenerateOptions } from '@heed/models';
import { setupWebGPU } from './hf-webgpu-setup.js';

const gpuSkip = await setupWebGPU();

interface Case {
  model: 'gpt2' | 'llama';
  name: string;
  prompts: number[][];
  options: { max_new_tokens?: number; max_length?: number; repetition_penalty?: number; min_new_tokens?: number; min_length?: number };
  eos_token_id: number | number[] | null | 'generation_config';
  sequences: number[][];
  margin: number;
}
const FIXTURES = new URL('./fixtures/hf-generate/', import.meta.url);
const { cases } = JSON.parse(readFileSync(new URL('generate.json', FIXTURES), 'utf8')) as { cases: Case[] };
const PAD = 0;

function fromPretrained(name: Case['model']): Promise<CausalLM> {
  const dir = fileURLToPath(new URL(`${name}/`, FIXTURES));
  return name === 'gpt2' ? GPT2LMHeadModel.fromPretrained(dir) : LlamaForCausalLM.fromPretrained(dir);
}
const models = new Map<string, CausalLM>();
async function load(name: Case['model']): Promise<CausalLM> {
  let m = models.get(name);
  if (!m) {
    m = await fromPretrained(name);
    models.set(name, m);
  }
  return m;
}

function options(c: Case): HFGenerateOptions {
  const o = c.options;
  const out: HFGenerateOptions = {
    maxNewTokens: o.max_new_tokens, maxLength: o.max_length, repetitionPenalty: o.repetition_penalty,
    minNewTokens: o.min_new_tokens, minLength: o.min_length,
  };
  if (c.eos_token_id !== 'generation_config') Object.assign(out, { eosTokenId: c.eos_token_id, padTokenId: PAD });
  return out;
}

async function run(model: CausalLM, c: Case, extra: HFGenerateOptions, backend: string): Promise<number[][]> {
  const T = Math.max(...c.prompts.map((p) => p.length));
  const ids = c.prompts.flatMap((p) => [...Array<number>(T - p.length).fill(PAD), ...p]);
  const mask = c.prompts.flatMap((p) => [...Array<number>(T - p.length).fill(0), ...Array<number>(p.length).fill(1)]);
  const B = c.prompts.length;
  const idsT = tensor(Int32Array.from(ids), { shape: [B, T], dtype: 'int32', backend });
  const maskT = tensor(Int32Array.from(mask), { shape: [B, T], dtype: 'int32', backend });
  try {
    const out = await generate(model, idsT, { ...options(c), attentionMask: maskT, ...extra });
    const L = out.shape[1];
    const data = Array.from(await out.data());
    out.dispose();
    return Array.from({ length: B }, (_, b) => data.slice(b * L, (b + 1) * L));
  } finally {
    idsT.dispose();
    maskT.dispose();
  }
}

describe('generate matches Hugging Face generate() token for token (CPU)', () => {
  for (const c of cases) {
    it(`${c.model}: ${c.name}`, async () => {
      expect(c.margin).toBeGreaterThan(1e-4);
      const model = await load(c.model);
      expect(await run(model, c, {}, 'cpu')).toEqual(c.sequences);
      if (c.name.includes('left-padded') || c.name.includes('several eos')) {
        expect(await run(model, c, { useCache: false }, 'cpu'), 'uncached').toEqual(c.sequences);
      }
    });
  }

  it('model.generate(ids, options) is generate(model, ids, options) on both classes', async () => {
    for (const name of ['gpt2', 'llama'] as const) {
      const c = cases.find((x) => x.model === name && x.name === 'several eos tokens')!;
      const model = (await load(name)) as GPT2LMHeadModel | LlamaForCausalLM;
      const T = Math.max(...c.prompts.map((p) => p.length));
      const ids = tensor(Int32Array.from(c.prompts.flatMap((p) => [...Array<number>(T - p.length).fill(PAD), ...p])), { shape: [3, T], dtype: 'int32' });
      const attentionMask = tensor(Int32Array.from(c.prompts.flatMap((p) => [...Array<number>(T - p.length).fill(0), ...Array<number>(p.length).fill(1)])), { shape: [3, T], dtype: 'int32' });
      const out = await model.generate(ids, { ...options(c), attentionMask });
      expect(Array.from(await out.data())).toEqual(c.sequences.flat());
      out.dispose();
      ids.dispose();
      attentionMask.dispose();
    }
  });

  it('seeded sampling on both checkpoints: reproducible, cached == uncached, not greedy', async () => {
    for (const name of ['gpt2', 'llama'] as const) {
      const model = await load(name);
      const c = cases.find((x) => x.model === name && x.name === 'greedy left-padded batch')!;
      const sampling: HFGenerateOptions = { doSample: true, temperature: 1.5, topK: 20, topP: 0.95, repetitionPenalty: 1.1 };
      const a = await run(model, c, { ...sampling, generator: new Generator(21) }, 'cpu');
      expect(await run(model, c, { ...sampling, generator: new Generator(21) }, 'cpu')).toEqual(a);
      expect(await run(model, c, { ...sampling, useCache: false, generator: new Generator(21) }, 'cpu')).toEqual(a);
      expect(a).not.toEqual(c.sequences);
      a.forEach((row, b) => expect(row.slice(0, 5)).toEqual(c.sequences[b].slice(0, 5)));
    }
  });

  it('a long cached generation frees every intermediate', async () => {
    const model = await load('llama');
    const c = cases.find((x) => x.model === 'llama' && x.name === 'greedy left-padded batch')!;
    await checkLeaks(() => run(model, c, { maxNewTokens: 30 }, 'cpu'));
  });
});

describe.skipIf(gpuSkip !== null)(`generate matches Hugging Face generate() on WebGPU${gpuSkip ? ` (skipped: ${gpuSkip})` : ''}`, () => {
  for (const name of ['gpt2', 'llama'] as const) {
    it(`${name}: greedy left-padded batch and eos stops, cached`, async () => {
      const model = await fromPretrained(name);
      model.to('webgpu');
      for (const c of cases.filter((x) => x.model === name && (x.name.includes('left-padded') || x.name.includes('several eos')))) {
        expect(await checkLeaks(() => run(model, c, {}, 'webgpu')), c.name).toEqual(c.sequences);
      }
      model.dispose();
    });
  }
});
