// SPDX-License-Identifier: MIT
// GPT2LMHeadModel / LlamaForCausalLM against tiny checkpoints written by transformers' own
// save_pretrained (scripts/fixtures/gen_hf_causal_fixtures.py), on CPU: stateDict keys are HF's,
// logits match HF's forward within 1e-4 relative (single, padded batches, mask-derived
// positions, incremental kv-cache), the f16/bf16/sharded checkpoints give HF's logits, one SGD
// step gives HF's loss before and after (gradients through the whole model), repeated forwards
// and backward leak nothing, and savePretrained -> fromPretrained is exact (with
// HEED_HF_EXPORT_DIR set, the exports are written there for the script's HF from_pretrained check).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLeaks, registerBackend, setBackend, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { SGD, crossEntropy } from '@heed/nn';
import {
  AutoModelForCausalLM, GPT2LMHeadModel, GPT2Model, LlamaForCausalLM, disposeCache, loadWeights, type CausalLM,
} from '../src/index.js';
import { FULL_FIXTURES, SINGLE_FIXTURES, checkCases, fixtureDir, ints, readExpected, type CausalExpected } from './hf-causal-cases.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const CLASSES = { gpt2: GPT2LMHeadModel, llama: LlamaForCausalLM } as const;
const family = (name: string) => name.split('-')[0] as keyof typeof CLASSES;

async function stateValues(m: CausalLM): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of m.stateDict()) out.set(k, Array.from(await t.data()));
  return out;
}

/** HF's causal LM loss: logits[:, :-1] against ids[:, 1:], mean cross-entropy. */
function lmLoss(model: CausalLM, ids: Tensor): Tensor {
  return tidy(() => {
    const { logits } = model.forward(ids);
    const [B, T, V] = logits.shape;
    return crossEntropy(logits.narrow(1, 0, T - 1).reshape([B * (T - 1), V]), ids.narrow(1, 1, T - 1).reshape([B * (T - 1)]));
  });
}

describe.each(FULL_FIXTURES)('%s (HF fixture, CPU)', (name) => {
  it('AutoModelForCausalLM picks the class; stateDict keys are exactly HF\'s; logits match HF in every case', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(fixtureDir(name));
    expect(model).toBeInstanceOf(CLASSES[family(name)]);
    const expected = readExpected<CausalExpected>(name);
    expect([...model.stateDict().keys()].sort()).toEqual(expected.state_keys);
    const worst = await checkCases(model, name, 'cpu');
    expect(worst).toBeLessThan(1e-4);
    model.dispose();
  });

  it('savePretrained -> fromPretrained is exact, in HF\'s layout (HEED_HF_EXPORT_DIR)', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(fixtureDir(name));
    const root = process.env.HEED_HF_EXPORT_DIR ?? mkdtempSync(join(tmpdir(), 'heed-hf-causal-'));
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    await model.savePretrained(dir);
    // Same tensors under the same names as transformers wrote (tied lm_head omitted likewise).
    const ours = await loadWeights(dir);
    const theirs = await loadWeights(fixtureDir(name));
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [k, t] of theirs) expect(Array.from(await (ours.get(k) as Tensor).data()), k).toEqual(Array.from(await t.data()));
    for (const t of [...ours.values(), ...theirs.values()]) t.dispose();
    const back = await AutoModelForCausalLM.fromPretrained(dir);
    expect(await stateValues(back)).toEqual(await stateValues(model));
    expect(back.config).toEqual(model.config);
    expect(back.generationConfig).toEqual(model.generationConfig);
    const ids = ints(readExpected<CausalExpected>(name).cases.single.input_ids, 'cpu');
    const a = model.forward(ids).logits;
    const b = back.forward(ids).logits;
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    for (const t of [ids, a, b]) t.dispose();
    model.dispose();
    back.dispose();
  });

  it('repeated forwards (with and without the cache) and a backward leak nothing', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(fixtureDir(name));
    const c = readExpected<CausalExpected>(name).cases.left_padded as NonNullable<CausalExpected['cases']['left_padded']>;
    const ids = ints(c.input_ids, 'cpu');
    const mask = ints(c.attention_mask as NonNullable<typeof c.attention_mask>, 'cpu');
    await checkLeaks(async () => {
      for (let i = 0; i < 3; i++) {
        const out = model.forward(ids, { attentionMask: mask, useCache: true });
        await out.logits.data();
        out.logits.dispose();
        disposeCache(out.pastKeyValues);
      }
      model.train();
      const loss = lmLoss(model, ids);
      loss.backward();
      loss.dispose();
      model.zeroGrad();
      model.eval();
    });
    ids.dispose();
    mask.dispose();
    model.dispose();
  });
});

describe.each(['gpt2', 'llama'] as const)('%s fine-tuning', (name) => {
  it('one SGD step gives HF\'s loss before and after (gradients flow through every layer)', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(fixtureDir(name));
    const ft = readExpected<CausalExpected>(name).fine_tune as NonNullable<CausalExpected['fine_tune']>;
    const ids = ints(ft.input_ids, 'cpu');
    model.train();
    const opt = new SGD(model.parameters(), { lr: ft.lr });
    const before = lmLoss(model, ids);
    const lossBefore = (await before.data())[0];
    expect(Math.abs(lossBefore - ft.loss_before)).toBeLessThan(1e-4 * ft.loss_before);
    before.backward();
    for (const [key, p] of model.namedParameters()) expect(p.grad, `${key} has a gradient`).not.toBeNull();
    opt.step();
    model.zeroGrad();
    const after = lmLoss(model, ids);
    const lossAfter = (await after.data())[0];
    expect(lossAfter).toBeLessThan(lossBefore);
    expect(Math.abs(lossAfter - ft.loss_after)).toBeLessThan(1e-4 * ft.loss_after);
    for (const t of [ids, before, after]) t.dispose();
    model.dispose();
  });
});

describe.each(SINGLE_FIXTURES)('%s (f16 / bf16 / sharded / f32 source)', (name) => {
  it('loads (upcast to float32) and gives HF\'s logits for the same checkpoint', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(fixtureDir(name));
    expect(await checkCases(model, name, 'cpu')).toBeLessThan(1e-4);
    model.dispose();
  });
});

describe('GPT-2 specifics', () => {
  it('lm_head is tied to transformer.wte (one parameter), untied when the config says so', async () => {
    const tied = await GPT2LMHeadModel.fromPretrained(fixtureDir('gpt2'));
    expect(tied.lmHead.weight).toBe(tied.transformer.wte.weight);
    expect(tied.parameters().length).toBe(tied.stateDict().size - 1);
    const untied = await GPT2LMHeadModel.fromPretrained(fixtureDir('gpt2-untied'));
    expect(untied.lmHead.weight).not.toBe(untied.transformer.wte.weight);
    tied.dispose();
    untied.dispose();
  });

  it('GPT2Model loads the LM checkpoint (prefix removed, head dropped); the LM loads a GPT2Model export', async () => {
    const base = await GPT2Model.fromPretrained(fixtureDir('gpt2'));
    const lm = await GPT2LMHeadModel.fromPretrained(fixtureDir('gpt2'));
    expect(await stateValues(base as unknown as CausalLM)).toEqual(new Map([...await stateValues(lm)]
      .filter(([k]) => k.startsWith('transformer.')).map(([k, v]) => [k.slice('transformer.'.length), v])));
    const dir = mkdtempSync(join(tmpdir(), 'heed-gpt2-base-'));
    await base.savePretrained(dir);
    const lm2 = await GPT2LMHeadModel.fromPretrained(dir);
    expect(await stateValues(lm2)).toEqual(await stateValues(lm));
    for (const m of [base, lm, lm2]) m.dispose();
  });

  it('a config that does not describe the weights is refused, listing missing and unexpected keys', async () => {
    const withConfig = (edit: Record<string, unknown>): string => {
      const dir = mkdtempSync(join(tmpdir(), 'heed-gpt2-mismatch-'));
      for (const f of readdirSync(fixtureDir('gpt2'))) copyFileSync(join(fixtureDir('gpt2'), f), join(dir, f));
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, ...edit }));
      return dir;
    };
    await expect(GPT2LMHeadModel.fromPretrained(withConfig({ n_layer: 3 })))
      .rejects.toThrow(/does not match GPT2LMHeadModel .*missing keys: transformer\.h\.2\.ln_1\.weight, .*; unexpected keys: none\./);
    await expect(GPT2LMHeadModel.fromPretrained(withConfig({ n_layer: 1 })))
      .rejects.toThrow(/missing keys: none; unexpected keys: transformer\.h\.1\.attn\.c_attn\.bias, .*transformer\.h\.1\.ln_1\.weight/);
    await expect(GPT2LMHeadModel.fromPretrained(withConfig({ tie_word_embeddings: false }))).rejects.toThrow(/missing keys: lm_head\.weight;/);
    await expect(GPT2LMHeadModel.fromPretrained(withConfig({ n_inner: 64 }))).rejects.toThrow(/shape mismatches: transformer\.h\.0\.mlp\.c_fc\.bias: checkpoint \[128\] float32, model \[64\] float32/);
    await expect(LlamaForCausalLM.fromPretrained(fixtureDir('gpt2'))).rejects.toThrow(/holds a "gpt2" model but LlamaForCausalLM is a "llama" class/);
  });

  it('a config whose model_type is unknown but whose architectures names GPT2LMHeadModel loads as GPT-2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heed-gpt2-arch-'));
    for (const f of readdirSync(fixtureDir('gpt2'))) copyFileSync(join(fixtureDir('gpt2'), f), join(dir, f));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'my-gpt2' }));
    const model = await AutoModelForCausalLM.fromPretrained(dir);
    expect(model).toBeInstanceOf(GPT2LMHeadModel);
    expect(await checkCases(model, 'gpt2', 'cpu')).toBeLessThan(1e-4);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, model_type: 'my-gpt2', architectures: ['MyLM'] }));
    await expect(AutoModelForCausalLM.fromPretrained(dir)).rejects.toThrow(/unknown model_type "my-gpt2"; AutoModelForCausalLM supports model_type "gpt2", "llama"/);
    model.dispose();
  });

  it('bad inputs are HeedErrors naming the argument, and change nothing', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(fixtureDir('gpt2-mini'));
    const ids = ints({ shape: [1, 3], data: [1, 2, 3] }, 'cpu');
    expect(() => model.forward(ids.float())).toThrow(/inputIds must be int32 \[batch, length\]/);
    const badMask = ints({ shape: [1, 2], data: [1, 1] }, 'cpu');
    expect(() => model.forward(ids, { attentionMask: badMask })).toThrow(/attentionMask must be \[batch, pastLength \+ length\] = \[1, 3\]/);
    const oov = ints({ shape: [1, 1], data: [96] }, 'cpu');
    expect(() => model.forward(oov)).toThrow(/outside the vocabulary: vocab_size is 96/);
    const long = ints({ shape: [1, 17], data: new Array(17).fill(1) }, 'cpu');
    expect(() => model.forward(long)).toThrow(/exceed n_positions 16/);
    for (const t of [ids, badMask, oov, long]) t.dispose();
    model.dispose();
  });
});

describe('Llama specifics', () => {
  const withConfig = (edit: (c: Record<string, unknown>) => Record<string, unknown>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'heed-llama-config-'));
    for (const f of readdirSync(fixtureDir('llama'))) copyFileSync(join(fixtureDir('llama'), f), join(dir, f));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(edit(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>)));
    return dir;
  };

  it('a transformers 4 config (top-level rope_theta, rope_scaling null, no head_dim) gives the same logits', async () => {
    const dir = withConfig(({ rope_parameters: _, head_dim: __, ...rest }) => ({ ...rest, rope_theta: 500, rope_scaling: null }));
    const model = await LlamaForCausalLM.fromPretrained(dir);
    expect(await checkCases(model, 'llama', 'cpu')).toBeLessThan(1e-4);
    model.dispose();
    // And rope_theta matters: the default 10000 does not match.
    const wrong = await LlamaForCausalLM.fromPretrained(withConfig(({ rope_parameters: _, ...rest }) => rest));
    await expect(checkCases(wrong, 'llama', 'cpu')).rejects.toThrow();
    wrong.dispose();
  });

  it('unsupported RoPE scaling and inconsistent heads are HeedErrors naming the field', async () => {
    await expect(LlamaForCausalLM.fromPretrained(withConfig((c) => ({ ...c, rope_parameters: { rope_type: 'llama3', rope_theta: 500, factor: 8 } }))))
      .rejects.toThrow(/RoPE type "llama3" is not supported/);
    await expect(LlamaForCausalLM.fromPretrained(withConfig((c) => ({ ...c, num_key_value_heads: 3 }))))
      .rejects.toThrow(/num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);
  });

  it('grouped-query attention: the cache holds num_key_value_heads heads after RoPE', async () => {
    const model = await LlamaForCausalLM.fromPretrained(fixtureDir('llama'));
    const ids = ints({ shape: [2, 3], data: [5, 6, 7, 8, 9, 10] }, 'cpu');
    const out = model.forward(ids, { useCache: true });
    expect(out.pastKeyValues?.layers.length).toBe(2);
    expect([...(out.pastKeyValues?.layers[0].key.shape ?? [])]).toEqual([2, 2, 3, 8]);
    out.logits.dispose();
    disposeCache(out.pastKeyValues);
    ids.dispose();
    model.dispose();
  });
});

describe('savePretrained in float16 / bfloat16', () => {
  it.each([['F16', 'float16', 'gpt2-f16'], ['BF16', 'bfloat16', 'gpt2-bf16']] as const)('%s: the same bits as transformers\' .to(%s) save', async (floatDType, dtype, reference) => {
    const model = await GPT2LMHeadModel.fromPretrained(fixtureDir('gpt2-mini'));
    const dir = mkdtempSync(join(tmpdir(), 'heed-gpt2-half-'));
    await model.savePretrained(dir, { floatDType });
    expect((JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { dtype: string }).dtype).toBe(dtype);
    expect(readFileSync(join(dir, 'model.safetensors')).equals(readFileSync(join(fixtureDir(reference), 'model.safetensors')))).toBe(true);
    model.dispose();
  });
});
