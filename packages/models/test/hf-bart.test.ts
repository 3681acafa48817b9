// SPDX-License-Identifier: MIT
// Hugging Face BART on the CPU backend against transformers' own outputs for a tiny random
// BartForConditionalGeneration (scripts/fixtures/gen_hf_encoder_fixtures.py): logits with
// decoder inputs (single, right-padded source + decoder masks, left-padded source), the default
// shift_tokens_right decoder inputs, the loss over labels, HF generate() greedy/beam/no-repeat/
// forced-BOS sequences (and, on the smaller bart-gen model whose beams end early, early
// stopping, a negative length penalty, repetition penalty and min lengths), cached decoding equal to full recomputation, state keys, the
// save -> load round trip, a fine-tuning step, leaks and errors.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HeedError, checkLeaks, noGrad, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW } from '@heed/nn';
import {
  AutoModelForSeq2SeqLM, BartForConditionalGeneration, BartModel, disposeEncoderDecoderCache, shiftTokensRight,
  type Seq2SeqGenerateOptions,
} from '../src/index.js';
import { expectRel, fixtureDir, fromEnc, readExpected, type Enc } from './hf-bert-helpers.js';

registerBackend(cpuBackend);
await setBackend('cpu');

interface BartCase {
  name: string;
  inputs: { input_ids: Enc; attention_mask?: Enc; decoder_input_ids?: Enc; decoder_attention_mask?: Enc };
  logits: Enc;
  labels?: Enc;
  loss?: number;
}
interface GenCase { name: string; options: Record<string, number | boolean>; sequences: Enc }
interface BartExpected { state_keys: string[]; cases: BartCase[]; generate_inputs: { input_ids: Enc; attention_mask: Enc }; generate: GenCase[] }

const bart = readExpected<BartExpected>('bart');
const bartGen = readExpected<Pick<BartExpected, 'generate' | 'generate_inputs'>>('bart-gen');
const load = () => BartForConditionalGeneration.fromPretrained(fixtureDir('bart'));

function rows(e: Enc): number[][] {
  const [B, L] = e.shape;
  return Array.from({ length: B }, (_, b) => e.data.slice(b * L, (b + 1) * L));
}

/** HF generate() keyword arguments -> Heed's option names. */
function genOptions(o: Record<string, number | boolean>): Seq2SeqGenerateOptions {
  const names: Record<string, keyof Seq2SeqGenerateOptions> = {
    max_new_tokens: 'maxNewTokens', num_beams: 'numBeams', no_repeat_ngram_size: 'noRepeatNgramSize', length_penalty: 'lengthPenalty',
    forced_bos_token_id: 'forcedBosTokenId', early_stopping: 'earlyStopping', repetition_penalty: 'repetitionPenalty',
    min_new_tokens: 'minNewTokens', min_length: 'minLength',
  };
  const out: Record<string, number | boolean> = {};
  for (const [k, v] of Object.entries(o)) if (k !== 'do_sample') out[names[k]] = v;
  return out as Seq2SeqGenerateOptions;
}

describe('BartForConditionalGeneration (HF parity, CPU)', () => {
  it('has exactly HF state_dict keys, with embed_tokens and lm_head tied to model.shared', async () => {
    const model = await load();
    expect([...model.stateDict().keys()].sort()).toEqual(bart.state_keys);
    expect(model.lmHead.weight).toBe(model.model.shared.weight);
    expect(model.model.encoder.embedTokens).toBe(model.model.shared);
    model.dispose();
  });

  for (const c of bart.cases) {
    it(`matches HF logits${c.loss !== undefined ? ' and loss' : ''}: ${c.name}`, async () => {
      const model = await load();
      const t = {
        ids: fromEnc(c.inputs.input_ids), attentionMask: c.inputs.attention_mask && fromEnc(c.inputs.attention_mask),
        decoderInputIds: c.inputs.decoder_input_ids && fromEnc(c.inputs.decoder_input_ids),
        decoderAttentionMask: c.inputs.decoder_attention_mask && fromEnc(c.inputs.decoder_attention_mask),
        labels: c.labels && fromEnc(c.labels),
      };
      const out = model.forward(t.ids, t);
      expect(await expectRel(out.logits, c.logits, `${c.name} logits`)).toBeLessThan(1e-4);
      if (c.loss !== undefined) {
        const loss = (await (out.loss as Tensor).data())[0];
        expect(Math.abs(loss - c.loss) / c.loss, `loss ${loss} vs HF ${c.loss}`).toBeLessThan(1e-4);
      }
      for (const x of [...Object.values(t), out.logits, out.loss, out.encoderLastHiddenState]) x?.dispose();
      model.dispose();
    });
  }

  for (const [name, fixture, g] of [...bart.generate.map((g) => ['bart', bart, g] as const), ...bartGen.generate.map((g) => ['bart-gen', bartGen, g] as const)]) {
    it(`generate() equals HF's sequences: ${name} ${g.name}`, async () => {
      const model = await BartForConditionalGeneration.fromPretrained(fixtureDir(name));
      const ids = fromEnc(fixture.generate_inputs.input_ids);
      const attentionMask = fromEnc(fixture.generate_inputs.attention_mask);
      const got = await checkLeaks(() => model.generate(ids, { attentionMask, ...genOptions(g.options) }), `generate ${g.name}`);
      expect(got).toEqual(rows(g.sequences));
      ids.dispose();
      attentionMask.dispose();
      model.dispose();
    });
  }

  it('cached decoding (a 2-token prefill, a 2-token chunk, then single steps) gives the logits of the full forward', async () => {
    const model = await load();
    const c = bart.cases.find((x) => x.name === 'right_padded') as BartCase;
    const ids = fromEnc(c.inputs.input_ids);
    const attentionMask = fromEnc(c.inputs.attention_mask as Enc);
    const dec = rows(c.inputs.decoder_input_ids as Enc);
    const [B, T] = [dec.length, dec[0].length];
    const V = 96;
    const encoderOutputs = { lastHiddenState: model.model.encode(ids, attentionMask) };
    let past;
    const got: number[][] = Array.from({ length: B }, () => []); // per row, [T * V]
    for (const [start, len] of [[0, 2], [2, 2], [4, 1]]) {
      const chunk = tensor(dec.map((r) => r.slice(start, start + len)), { dtype: 'int32' });
      const out = noGrad(() => model.forward(null, { encoderOutputs, attentionMask, decoderInputIds: chunk, pastKeyValues: past, useCache: true }));
      disposeEncoderDecoderCache(past);
      past = out.pastKeyValues;
      const data = await out.logits.data();
      for (let b = 0; b < B; b++) got[b].push(...data.slice(b * len * V, (b + 1) * len * V));
      out.logits.dispose();
      chunk.dispose();
    }
    disposeEncoderDecoderCache(past);
    // Row 0 has no decoder padding; the fixture's row 1 masks its padded decoder keys, which the
    // cached calls above do not (no decoderAttentionMask), so only row 0 is comparable.
    const want = c.logits.data.slice(0, T * V);
    want.forEach((w, i) => expect(Math.abs(got[0][i] - w), `row 0 [${Math.floor(i / V)}, ${i % V}]`).toBeLessThan(1e-4 * (Math.abs(w) + 0.1)));
    for (const x of [ids, attentionMask, encoderOutputs.lastHiddenState]) x.dispose();
    model.dispose();
  });

  it('shiftTokensRight is HF shift_tokens_right; AutoModelForSeq2SeqLM picks BART; BartModel loads the base', async () => {
    const shifted = shiftTokensRight(tensor([[0, 44, 2], [0, -100, -100]], { dtype: 'int32' }), 1, 2);
    expect(await shifted.array()).toEqual([[2, 0, 44], [2, 0, 1]]);
    shifted.dispose();
    const auto = await AutoModelForSeq2SeqLM.fromPretrained(fixtureDir('bart'));
    expect(auto).toBeInstanceOf(BartForConditionalGeneration);
    auto.dispose();
    const base = await BartModel.fromPretrained(fixtureDir('bart'));
    expect(base.stateDict().has('shared.weight')).toBe(true);
    base.dispose();
  });

  it('loads a BartModel checkpoint (no final_logits_bias, no prefix) as HF does: the bias stays zero', async () => {
    const base = await BartModel.fromPretrained(fixtureDir('bart'));
    const dir = mkdtempSync(join(tmpdir(), 'heed-bart-base-'));
    await base.savePretrained(dir);
    const model = await BartForConditionalGeneration.fromPretrained(dir);
    expect(Array.from(await model.finalLogitsBias.data()).every((v) => v === 0)).toBe(true);
    expect(await model.model.shared.weight.data()).toEqual(await base.shared.weight.data());
    expect(await model.lmHead.weight.data()).toEqual(await base.shared.weight.data());
    base.dispose();
    model.dispose();
  });

  it('fromConfig: HF init (N(0, init_std), zero biases and padding row), untied lm_head round trip', async () => {
    const config = {
      model_type: 'bart', vocab_size: 40, d_model: 16, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 2,
      decoder_attention_heads: 2, encoder_ffn_dim: 32, decoder_ffn_dim: 32, max_position_embeddings: 16, init_std: 0.05,
      tie_word_embeddings: false,
    };
    const model = BartForConditionalGeneration.fromConfig(config);
    expect(model.lmHead.weight).not.toBe(model.model.shared.weight);
    expect(model.stateDict().has('lm_head.weight')).toBe(true);
    expect(Object.keys(model.tiedWeightKeys())).not.toContain('lm_head.weight');
    const w = Array.from(await model.model.encoder.layers.at(0).fc1.weight.data());
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.04);
    expect(std).toBeLessThan(0.06);
    expect(Array.from(await model.model.encoder.layers.at(0).fc1.bias!.data()).every((v) => v === 0)).toBe(true);
    const shared = await model.model.shared.weight.array() as number[][];
    expect(shared[1].every((v) => v === 0)).toBe(true); // pad_token_id 1 (BART's default)
    const dir = mkdtempSync(join(tmpdir(), 'heed-bart-untied-'));
    await model.savePretrained(dir);
    const again = await BartForConditionalGeneration.fromPretrained(dir);
    for (const [k, t] of again.stateDict()) expect(await t.data(), k).toEqual(await (model.stateDict().get(k) as Tensor).data());
    model.dispose();
    again.dispose();
  });

  it('savePretrained -> fromPretrained is exact, in HF layout (tied keys omitted)', async () => {
    const model = await load();
    const dir = mkdtempSync(join(tmpdir(), 'heed-bart-'));
    await model.savePretrained(dir);
    const header = (p: string) => {
      const b = readFileSync(p);
      return Object.keys(JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString('utf8')) as object).filter((k) => k !== '__metadata__').sort();
    };
    expect(header(join(dir, 'model.safetensors'))).toEqual(header(join(fixtureDir('bart'), 'model.safetensors')));
    // transformers' strict config validation refuses `"encoder_layerdrop": 0` (float-only field).
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toMatch(/"encoder_layerdrop": 0\.0,/);
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')) as Record<string, unknown>;
    expect(gen.forced_eos_token_id).toBe(2);
    const again = await BartForConditionalGeneration.fromPretrained(dir);
    for (const [k, t] of again.stateDict()) expect(await t.data(), k).toEqual(await (model.stateDict().get(k) as Tensor).data());
    model.dispose();
    again.dispose();
  });

  it('a fine-tuning step lowers the loss; repeated forwards leak nothing', async () => {
    const model = await load();
    const c = bart.cases.find((x) => x.name === 'labels') as BartCase;
    const ids = fromEnc(c.inputs.input_ids);
    const attentionMask = fromEnc(c.inputs.attention_mask as Enc);
    const labels = fromEnc(c.labels as Enc);
    const evalLoss = async () => {
      model.eval();
      const out = model.forward(ids, { attentionMask, labels });
      const v = (await (out.loss as Tensor).data())[0];
      for (const x of [out.loss, out.logits, out.encoderLastHiddenState]) x?.dispose();
      return v;
    };
    await checkLeaks(async () => { for (let i = 0; i < 3; i++) await evalLoss(); }, 'BartForConditionalGeneration.forward');
    const before = await evalLoss();
    const opt = new AdamW(model, { lr: 1e-3 });
    for (let step = 0; step < 5; step++) {
      model.train();
      const out = model.forward(ids, { attentionMask, labels });
      (out.loss as Tensor).backward();
      expect(model.model.shared.weight.grad).not.toBeNull();
      opt.step();
      opt.zeroGrad();
      for (const x of [out.loss, out.logits, out.encoderLastHiddenState]) x?.dispose();
    }
    const after = await evalLoss();
    expect(after, `loss ${before} -> ${after}`).toBeLessThan(before * 0.8);
    for (const x of [ids, attentionMask, labels]) x.dispose();
    model.dispose();
  });

  it('refuses out-of-range ids and mismatched masks with HeedErrors', async () => {
    const model = await load();
    const bad = tensor([[0, 96, 2]], { dtype: 'int32' });
    expect(() => model.forward(bad)).toThrow(HeedError);
    expect(() => model.forward(bad)).toThrow(/vocab_size is 96/);
    const ids = tensor([[0, 5, 2]], { dtype: 'int32' });
    const mask = tensor([[1, 1]], { dtype: 'int32' });
    expect(() => model.forward(ids, { attentionMask: mask })).toThrow(/attentionMask must be \[batch, keys\] = \[1, 3\]/);
    expect(() => model.forward(ids, { decoderInputIds: ids, decoderAttentionMask: mask })).toThrow(/decoderAttentionMask must be \[batch, past \+ length\] = \[1, 3\]/);
    await expect(model.generate(ids, { numBeams: 0 })).rejects.toThrow(/numBeams must be an integer >= 1/);
    for (const t of [bad, ids, mask]) t.dispose();
    model.dispose();
  });
});
