// SPDX-License-Identifier: MIT
// generate() / streamGenerate() on a tiny CausalLM (hf-generate-toy.ts) against independent
// oracles: greedy tokens = argmax of a full recomputation each step; cached == uncached;
// a left-padded batch == each row alone (position ids from the mask); eos stops rows and pads
// them; seeded sampling reproducible and chi-square consistent with the HF-processed
// distribution; streaming order; no leaked tensors; defaults from generationConfig; errors.
// HF-exact token equality on real GPT-2/Llama checkpoints is in hf-generate-hf.test.ts.
import { describe, expect, it } from 'vitest';
import { Generator, HeedError, checkLeaks, memory, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { generate, processLogits, softmaxRow, streamGenerate, type HFGenerateOptions } from '@heed/models';
import { ToyCausalLM } from './hf-generate-toy.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const V = 11;
const PAD = 0;
const prompts = [[3, 7, 1, 9], [5, 2], [8]];

function leftPad(rows: number[][]): { ids: Tensor; mask: Tensor; T: number } {
  const T = Math.max(...rows.map((r) => r.length));
  const ids = rows.flatMap((r) => [...Array<number>(T - r.length).fill(PAD), ...r]);
  const mask = rows.flatMap((r) => [...Array<number>(T - r.length).fill(0), ...Array<number>(r.length).fill(1)]);
  return { ids: tensor(Int32Array.from(ids), { shape: [rows.length, T], dtype: 'int32' }), mask: tensor(Int32Array.from(mask), { shape: [rows.length, T], dtype: 'int32' }), T };
}

async function rows(t: Tensor): Promise<number[][]> {
  const [B, L] = t.shape;
  const d = Array.from(await t.data());
  t.dispose();
  return Array.from({ length: B }, (_, b) => d.slice(b * L, (b + 1) * L));
}

async function run(model: ToyCausalLM, batch: number[][], options: HFGenerateOptions): Promise<number[][]> {
  const { ids, mask } = leftPad(batch);
  try {
    return await rows(await generate(model, ids, { attentionMask: mask, padTokenId: PAD, ...options }));
  } finally {
    ids.dispose();
    mask.dispose();
  }
}

/** Oracle: greedy decoding of one unpadded row by full recomputation (no cache, no mask). */
async function greedyOracle(model: ToyCausalLM, prompt: number[], steps: number): Promise<number[]> {
  const seq = [...prompt];
  for (let i = 0; i < steps; i++) {
    const ids = tensor(Int32Array.from(seq), { shape: [1, seq.length], dtype: 'int32' });
    const { logits } = model.forward(ids);
    const last = Array.from(await logits.data()).slice((seq.length - 1) * V);
    ids.dispose();
    logits.dispose();
    seq.push(last.indexOf(Math.max(...last)));
  }
  return seq;
}

describe('generate (HF semantics) on a tiny causal LM', () => {
  const model = new ToyCausalLM({ vocab: V, seed: 4 });

  it('greedy equals the argmax of a full recomputation each step, and is not constant', async () => {
    const out = await run(model, [prompts[0]], { maxNewTokens: 8 });
    const want = await greedyOracle(model, prompts[0], 8);
    expect(out).toEqual([want]);
    expect(new Set(want.slice(4)).size).toBeGreaterThan(1);
  });

  it('a left-padded batch gives each row what it gives alone; cached == uncached; the cache feeds one token per step', async () => {
    model.widths.length = 0;
    const cached = await run(model, prompts, { maxNewTokens: 7 });
    expect(model.widths).toEqual([4, 1, 1, 1, 1, 1, 1]);
    const uncached = await run(model, prompts, { maxNewTokens: 7, useCache: false });
    expect(uncached).toEqual(cached);
    for (let b = 0; b < prompts.length; b++) {
      const alone = await greedyOracle(model, prompts[b], 7);
      expect(cached[b].slice(4 - prompts[b].length), `row ${b}`).toEqual(alone);
      expect(cached[b].slice(0, 4 - prompts[b].length)).toEqual(Array(4 - prompts[b].length).fill(PAD));
    }
  });

  it('position ids matter: without the mask the padded rows change (so the test above can fail)', async () => {
    const { ids } = leftPad(prompts);
    const out = await rows(await generate(model, ids, { maxNewTokens: 7, padTokenId: null }));
    ids.dispose();
    const masked = await run(model, prompts, { maxNewTokens: 7 });
    expect(out[0]).toEqual(masked[0]);
    expect(out.slice(1)).not.toEqual(masked.slice(1));
  });

  it('the mask is inferred from padTokenId when none is given (HF rule)', async () => {
    const { ids } = leftPad(prompts);
    const inferred = await rows(await generate(model, ids, { maxNewTokens: 5, padTokenId: PAD }));
    ids.dispose();
    expect(inferred).toEqual(await run(model, prompts, { maxNewTokens: 5 }));
  });

  it('eos stops a row, which is then padded; several stop tokens; maxLength counts the prompt width', async () => {
    const plain = await run(model, prompts, { maxNewTokens: 8 });
    const eos = plain[1][4 + 2]; // row 1's third new token
    const firstAt = (r: number[], ids: number[]) => r.slice(4).findIndex((t) => ids.includes(t));
    const stopped = await run(model, prompts, { maxNewTokens: 8, eosTokenId: eos });
    for (let b = 0; b < prompts.length; b++) {
      const at = firstAt(plain[b], [eos]);
      const end = at === -1 ? 8 : at + 1;
      expect(stopped[b].slice(0, 4 + end), `row ${b}`).toEqual(plain[b].slice(0, 4 + end));
      expect(stopped[b].slice(4 + end)).toEqual(Array(stopped[b].length - 4 - end).fill(PAD));
    }
    const eos2 = [eos, plain[0][4 + 1]];
    const both = await run(model, prompts, { maxNewTokens: 8, eosTokenId: eos2 });
    const ends = plain.map((r) => { const at = firstAt(r, eos2); return at === -1 ? 8 : at + 1; });
    expect(both[0].length).toBe(4 + Math.max(...ends)); // stops when every row has finished
    both.forEach((r, b) => expect(r.slice(0, 4 + ends[b])).toEqual(plain[b].slice(0, 4 + ends[b])));
    expect((await run(model, prompts, { maxLength: 6 }))[0].length).toBe(6);
  });

  it('minNewTokens keeps eos out until that many new tokens', async () => {
    const plain = await run(model, [prompts[0]], { maxNewTokens: 6 });
    const eos = plain[0][4]; // the first greedy token
    const early = await run(model, [prompts[0]], { maxNewTokens: 6, eosTokenId: eos });
    expect(early[0].length).toBe(5);
    const late = await run(model, [prompts[0]], { maxNewTokens: 6, eosTokenId: eos, minNewTokens: 3 });
    expect(late[0].slice(4, 7)).not.toContain(eos);
  });

  it('defaults come from generationConfig, options override them', async () => {
    const m = new ToyCausalLM({ vocab: V, seed: 4, generationConfig: { max_new_tokens: 3, pad_token_id: PAD } });
    expect((await run(m, prompts, {}))[0].length).toBe(7);
    expect((await run(m, prompts, { maxNewTokens: 5 }))[0].length).toBe(9);
    const sampled = new ToyCausalLM({ vocab: V, seed: 4, generationConfig: { do_sample: true, top_k: 1, max_new_tokens: 4 } });
    expect(await run(sampled, prompts, { generator: new Generator(3) })).toEqual(await run(model, prompts, { maxNewTokens: 4 })); // top-1 sampling = greedy
  });

  it('sampling is reproducible with a seed and depends on it', async () => {
    const opts = { maxNewTokens: 10, doSample: true, temperature: 1.3, topK: 0 };
    const a = await run(model, prompts, { ...opts, generator: new Generator(11) });
    const b = await run(model, prompts, { ...opts, generator: new Generator(11) });
    const c = await run(model, prompts, { ...opts, generator: new Generator(12) });
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    const uncached = await run(model, prompts, { ...opts, useCache: false, generator: new Generator(11) });
    expect(uncached).toEqual(a);
  });

  it('draws are chi-square consistent with the HF-processed distribution (temperature + top-k + top-p)', async () => {
    const N = 4000;
    const prompt = [3, 7, 1, 9];
    const settings = { doSample: true, temperature: 1.7, topK: 8, topP: 0.9 };
    const ids = tensor(Int32Array.from(prompt), { shape: [1, 4], dtype: 'int32' });
    const { logits } = model.forward(ids);
    const scores = Float32Array.from(Array.from(await logits.data()).slice(3 * V));
    logits.dispose();
    ids.dispose();
    const p = softmaxRow(processLogits(scores, { ids: prompt, promptLength: 4 }, settings));
    const kept = [...p].filter((x) => x > 0).length;
    expect(kept).toBeGreaterThan(2);
    expect(kept).toBeLessThan(8);
    const out = await run(model, Array.from({ length: N }, () => prompt), { maxNewTokens: 1, ...settings, generator: new Generator(5) });
    const counts = new Array<number>(V).fill(0);
    for (const r of out) counts[r[4]]++;
    let chi2 = 0;
    for (let i = 0; i < V; i++) {
      if (p[i] === 0) expect(counts[i], `filtered token ${i} drawn`).toBe(0);
      else chi2 += (counts[i] - N * p[i]) ** 2 / (N * p[i]);
    }
    // 99.9% quantile of chi-square with up to 6 degrees of freedom is 22.46.
    expect(chi2).toBeLessThan(22.46);
  });

  it('streams each step in order through onToken and streamGenerate, matching the result', async () => {
    const seen: [number, number[]][] = [];
    const out = await run(model, prompts, { maxNewTokens: 5, onToken: (tokenIds, step) => seen.push([step, tokenIds]) });
    expect(seen.map(([s]) => s)).toEqual([0, 1, 2, 3, 4]);
    seen.forEach(([s, tokenIds]) => expect(tokenIds).toEqual(out.map((r) => r[4 + s])));
    const { ids, mask } = leftPad(prompts);
    const streamed: number[][] = [];
    for await (const step of streamGenerate(model, ids, { maxNewTokens: 5, attentionMask: mask })) streamed.push(step.tokenIds);
    expect(streamed).toEqual(seen.map(([, t]) => t));
    ids.dispose();
    mask.dispose();
  });

  it('frees every intermediate: a long generation, an abandoned stream, a failing step', async () => {
    const { ids, mask } = leftPad(prompts);
    const before = memory().numTensors;
    const out = await checkLeaks(() => generate(model, ids, { attentionMask: mask, maxNewTokens: 40, doSample: true, repetitionPenalty: 1.2, generator: new Generator(1) }));
    expect(out.shape).toEqual([3, 44]);
    out.dispose();
    await checkLeaks(async () => {
      for await (const step of streamGenerate(model, ids, { attentionMask: mask, maxNewTokens: 20 })) if (step.step === 3) break;
    });
    const broken = new ToyCausalLM({ vocab: V, seed: 4 });
    let calls = 0;
    const forward = broken.forward.bind(broken);
    broken.forward = (x, o) => {
      if (++calls === 3) throw new Error('boom');
      return forward(x, o);
    };
    await checkLeaks(async () => {
      await expect(generate(broken, ids, { attentionMask: mask, maxNewTokens: 5 })).rejects.toThrow('boom');
    });
    broken.dispose();
    ids.dispose();
    mask.dispose();
    expect(memory().numTensors).toBe(before - 2);
  });

  it('refuses bad options with a HeedError naming them', async () => {
    const { ids } = leftPad([prompts[0]]);
    const bad: [HFGenerateOptions | Record<string, unknown>, RegExp][] = [
      [{ maxNewTokens: 0 }, /maxNewTokens/],
      [{ maxLength: 4 }, /maxLength 4 leaves no room/],
      [{ temperature: 0, doSample: true }, /temperature/],
      [{ topP: 1.5 }, /topP/],
      [{ topK: -1 }, /topK/],
      [{ minP: 2 }, /minP/],
      [{ repetitionPenalty: 0 }, /repetitionPenalty/],
      [{ eosTokenId: [2, 1.5] }, /eosTokenId\[1\]/],
      [{ max_new_tokens: 3 }, /unknown option 'max_new_tokens'/],
      [{ attentionMask: tensor([[1, 1]], { dtype: 'int32' }) }, /attentionMask must be a \[1, 4\]/],
    ];
    for (const [options, message] of bad) {
      await expect(generate(model, ids, options as HFGenerateOptions)).rejects.toThrow(HeedError);
      await expect(generate(model, ids, options as HFGenerateOptions)).rejects.toThrow(message);
      (options as HFGenerateOptions).attentionMask?.dispose();
    }
    await expect(generate(model, tensor([[1, 2]]), {})).rejects.toThrow(/inputIds must be an int32 tensor/);
    ids.dispose();
  });
});
