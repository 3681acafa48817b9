// SPDX-License-Identifier: MIT
// The Hugging Face BERT and BART parity cases on WebGPU (Dawn on SwiftShader when there is no
// GPU): checkpoints loaded with `{ backend: 'webgpu' }`, every logits/loss case of the fixtures
// within 1e-4 relative of transformers' values, BART generate() (greedy and beam) equal to HF's
// sequences, and repeated forwards free every intermediate. Skipped, with the reason, when no
// WebGPU adapter is found.
import { describe, expect, it } from 'vitest';
import { checkLeaks, type Tensor } from '@heed/core';
import { BartForConditionalGeneration, BertForMaskedLM, BertForSequenceClassification } from '../src/index.js';
import { expectRel, fixtureDir, fromEnc, readExpected, type Enc } from './hf-bert-helpers.js';
import { setupWebGPU } from './hf-webgpu-setup.js';

const skipReason = await setupWebGPU('webgpu');

interface Case {
  name: string;
  inputs: Record<string, Enc>;
  logits: Enc;
  labels?: Enc;
  problem_type?: string | null;
  loss?: number;
}
interface Expected { cases: Case[]; generate?: { name: string; options: Record<string, number | boolean>; sequences: Enc }[]; generate_inputs?: Record<string, Enc> }

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

async function checkCase(forward: (ids: Tensor, o: Record<string, Tensor>) => { logits: Tensor; loss?: Tensor }, c: Case): Promise<number> {
  const o: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(c.inputs)) if (k !== 'input_ids') o[camel(k)] = fromEnc(v);
  if (c.labels) o.labels = fromEnc(c.labels, c.problem_type === 'regression' || c.problem_type === 'multi_label_classification' ? 'float32' : 'int32');
  const ids = fromEnc(c.inputs.input_ids);
  expect(ids.backend.name).toBe('webgpu');
  const out = forward(ids, o);
  const rel = await expectRel(out.logits, c.logits, `${c.name} logits`);
  if (c.loss !== undefined) {
    const loss = (await (out.loss as Tensor).data())[0];
    expect(Math.abs(loss - c.loss) / Math.abs(c.loss), `${c.name}: loss ${loss} vs HF ${c.loss}`).toBeLessThan(1e-4);
  }
  for (const t of [ids, ...Object.values(o), ...Object.values(out)]) t.dispose();
  return rel;
}

describe.skipIf(skipReason !== null)(`HF BERT / BART on WebGPU${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('BertForSequenceClassification: every case within 1e-4 of HF; no leaks', async () => {
    const model = await BertForSequenceClassification.fromPretrained(fixtureDir('bert-cls'), { backend: 'webgpu' });
    expect(model.parameters().every((p) => p.backend.name === 'webgpu')).toBe(true);
    const ex = readExpected<Expected>('bert-cls');
    await checkLeaks(async () => {
      for (const c of ex.cases) {
        model.config.problem_type = (c.problem_type ?? null) as typeof model.config.problem_type;
        expect(await checkCase((ids, o) => model.forward(ids, o), c), c.name).toBeLessThan(1e-4);
      }
    }, 'BertForSequenceClassification on webgpu');
    model.dispose();
  });

  it('BertForMaskedLM: every case within 1e-4 of HF', async () => {
    const model = await BertForMaskedLM.fromPretrained(fixtureDir('bert-mlm'), { backend: 'webgpu' });
    for (const c of readExpected<Expected>('bert-mlm').cases) expect(await checkCase((ids, o) => model.forward(ids, o), c), c.name).toBeLessThan(1e-4);
    model.dispose();
  });

  it('BartForConditionalGeneration: logits/loss within 1e-4 of HF; generate() equals HF (greedy, beams)', async () => {
    const model = await BartForConditionalGeneration.fromPretrained(fixtureDir('bart'), { backend: 'webgpu' });
    const ex = readExpected<Expected>('bart');
    await checkLeaks(async () => {
      for (const c of ex.cases) {
        expect(await checkCase((ids, o) => {
          const out = model.forward(ids, o);
          out.encoderLastHiddenState?.dispose();
          return { logits: out.logits, ...(out.loss ? { loss: out.loss } : {}) };
        }, c), c.name).toBeLessThan(1e-4);
      }
    }, 'BartForConditionalGeneration on webgpu');
    const gi = ex.generate_inputs as Record<string, Enc>;
    const ids = fromEnc(gi.input_ids);
    const attentionMask = fromEnc(gi.attention_mask);
    for (const g of (ex.generate ?? []).filter((x) => x.name === 'greedy' || x.name === 'beam4_no_repeat2')) {
      const o = g.options;
      const got = await model.generate(ids, {
        attentionMask, maxNewTokens: o.max_new_tokens as number, numBeams: o.num_beams as number,
        noRepeatNgramSize: o.no_repeat_ngram_size as number | undefined, lengthPenalty: o.length_penalty as number | undefined,
      });
      const [B, L] = g.sequences.shape;
      expect(got, g.name).toEqual(Array.from({ length: B }, (_, b) => g.sequences.data.slice(b * L, (b + 1) * L)));
    }
    ids.dispose();
    attentionMask.dispose();
    model.dispose();
  });
});
