// SPDX-License-Identifier: MIT
// Hugging Face BERT on the CPU backend against transformers' own outputs for tiny random
// checkpoints (scripts/fixtures/gen_hf_encoder_fixtures.py): BertForSequenceClassification and
// BertForMaskedLM logits for single, right-/left-padded and token-type-pair inputs, HF's three
// classification losses and the MLM loss, state keys equal to HF's, save -> load round trip,
// a fine-tuning step, no leaks over repeated forwards, and the errors for bad ids and masks.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HeedError, checkLeaks, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW } from '@heed/nn';
import {
  AutoModelForMaskedLM, AutoModelForSequenceClassification, BertForMaskedLM, BertForSequenceClassification, BertModel,
} from '../src/index.js';
import { expectRel, fixtureDir, fromEnc, readExpected, type Enc } from './hf-bert-helpers.js';

registerBackend(cpuBackend);
await setBackend('cpu');

interface BertCase {
  name: string;
  inputs: { input_ids: Enc; attention_mask?: Enc; token_type_ids?: Enc };
  logits: Enc;
  labels?: Enc;
  problem_type?: 'regression' | 'single_label_classification' | 'multi_label_classification' | null;
  loss?: number;
}
interface BertExpected { state_keys: string[]; cases: BertCase[] }

const cls = readExpected<BertExpected>('bert-cls');
const mlm = readExpected<BertExpected>('bert-mlm');

function inputs(c: BertCase): { ids: Tensor; attentionMask?: Tensor; tokenTypeIds?: Tensor } {
  return {
    ids: fromEnc(c.inputs.input_ids),
    attentionMask: c.inputs.attention_mask && fromEnc(c.inputs.attention_mask),
    tokenTypeIds: c.inputs.token_type_ids && fromEnc(c.inputs.token_type_ids),
  };
}

function labelsOf(c: BertCase): Tensor | undefined {
  if (!c.labels) return undefined;
  return fromEnc(c.labels, c.problem_type === 'regression' || c.problem_type === 'multi_label_classification' ? 'float32' : 'int32');
}

async function runCase(model: BertForSequenceClassification | BertForMaskedLM, c: BertCase): Promise<number> {
  const { ids, attentionMask, tokenTypeIds } = inputs(c);
  const labels = labelsOf(c);
  if (model instanceof BertForSequenceClassification) model.config.problem_type = c.problem_type ?? null;
  const out = model.forward(ids, { attentionMask, tokenTypeIds, labels });
  const rel = await expectRel(out.logits, c.logits, `${c.name} logits`);
  if (c.loss !== undefined) {
    expect(out.loss, `${c.name}: loss`).toBeDefined();
    const loss = (await (out.loss as Tensor).data())[0];
    expect(Math.abs(loss - c.loss) / Math.abs(c.loss), `${c.name}: loss ${loss} vs HF ${c.loss}`).toBeLessThan(1e-4);
  }
  for (const t of [ids, attentionMask, tokenTypeIds, labels, out.logits, out.loss]) t?.dispose();
  return rel;
}

describe('BertForSequenceClassification (HF parity, CPU)', () => {
  it('has exactly HF state_dict keys and loads the checkpoint strictly', async () => {
    const model = await BertForSequenceClassification.fromPretrained(fixtureDir('bert-cls'));
    expect([...model.stateDict().keys()].sort()).toEqual(cls.state_keys);
    expect(model.numLabels).toBe(3);
    model.dispose();
  });

  for (const c of cls.cases) {
    it(`matches HF logits${c.loss !== undefined ? ' and loss' : ''}: ${c.name}`, async () => {
      const model = await BertForSequenceClassification.fromPretrained(fixtureDir('bert-cls'));
      const rel = await runCase(model, c);
      expect(rel).toBeLessThan(1e-4);
      model.dispose();
    });
  }

  it('AutoModelForSequenceClassification picks BertForSequenceClassification', async () => {
    const model = await AutoModelForSequenceClassification.fromPretrained(fixtureDir('bert-cls'));
    expect(model).toBeInstanceOf(BertForSequenceClassification);
    model.dispose();
  });

  it('a fine-tuning step lowers the loss, and repeated forwards leak nothing', async () => {
    const model = await BertForSequenceClassification.fromPretrained(fixtureDir('bert-cls'));
    const c = cls.cases.find((x) => x.name === 'labels_single_label') as BertCase;
    const { ids, attentionMask } = inputs(c);
    const labels = fromEnc(c.labels as Enc);
    model.config.problem_type = null;
    await checkLeaks(async () => {
      for (let i = 0; i < 3; i++) {
        const out = model.forward(ids, { attentionMask, labels });
        await out.logits.data();
        out.logits.dispose();
        out.loss?.dispose();
      }
    }, 'BertForSequenceClassification.forward');
    const evalLoss = async () => {
      model.eval();
      const { loss, logits } = model.forward(ids, { attentionMask, labels });
      const v = (await (loss as Tensor).data())[0];
      loss?.dispose();
      logits.dispose();
      return v;
    };
    const before = await evalLoss();
    expect(Math.abs(before - (c.loss as number))).toBeLessThan(1e-3);
    const opt = new AdamW(model, { lr: 1e-3 });
    for (let step = 0; step < 5; step++) {
      model.train();
      const { loss, logits } = model.forward(ids, { attentionMask, labels });
      (loss as Tensor).backward();
      expect(model.bert.embeddings.wordEmbeddings.weight.grad, 'gradient reaches the embeddings').not.toBeNull();
      opt.step();
      opt.zeroGrad();
      loss?.dispose();
      logits.dispose();
    }
    const after = await evalLoss();
    expect(after, `loss ${before} -> ${after}`).toBeLessThan(before * 0.8);
    for (const t of [ids, attentionMask, labels]) t?.dispose();
    model.dispose();
  });

  it('savePretrained -> fromPretrained is exact and writes HF layout', async () => {
    const model = await BertForSequenceClassification.fromPretrained(fixtureDir('bert-cls'));
    const dir = mkdtempSync(join(tmpdir(), 'heed-bert-cls-'));
    await model.savePretrained(dir);
    const again = await BertForSequenceClassification.fromPretrained(dir);
    const a = model.stateDict();
    for (const [k, t] of again.stateDict()) expect(await t.data(), k).toEqual(await (a.get(k) as Tensor).data());
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.architectures).toEqual(['BertForSequenceClassification']);
    expect(config.hidden_size).toBe(32);
    model.dispose();
    again.dispose();
  });

  it('refuses out-of-range token ids and mismatched masks with HeedErrors', async () => {
    const model = await BertForSequenceClassification.fromPretrained(fixtureDir('bert-cls'));
    const bad = tensor([[2, 120, 3]], { dtype: 'int32' });
    expect(() => model.forward(bad)).toThrow(HeedError);
    expect(() => model.forward(bad)).toThrow(/BertModel.*vocab_size is 120/);
    const ids = tensor([[2, 5, 3]], { dtype: 'int32' });
    const mask = tensor([[1, 1]], { dtype: 'int32' });
    expect(() => model.forward(ids, { attentionMask: mask })).toThrow(/attentionMask must be \[batch, keys\] = \[1, 3\].*got \[1, 2\]/);
    expect(() => model.forward(ids, { tokenTypeIds: mask })).toThrow(/tokenTypeIds must be int32 \[1, 3\]/);
    const types = tensor([[0, 2, 1]], { dtype: 'int32' });
    expect(() => model.forward(ids, { tokenTypeIds: types })).toThrow(/tokenTypeIds holds an id out of range: type_vocab_size is 2/);
    types.dispose();
    for (const t of [bad, ids, mask]) t.dispose();
    model.dispose();
  });
});

describe('BERT built from a config (no checkpoint)', () => {
  it('uses HF init, infers problem_type from the labels like HF, and refuses bad configs', async () => {
    const config = {
      model_type: 'bert', vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32,
      max_position_embeddings: 16, initializer_range: 0.1, num_labels: 2,
    };
    const model = BertForSequenceClassification.fromConfig(config);
    const w = Array.from(await model.bert.encoder.layer.at(0).attention.self.query.weight.data());
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.08);
    expect(std).toBeLessThan(0.12);
    const words = await model.bert.embeddings.wordEmbeddings.weight.array() as number[][];
    expect(words[0].every((v) => v === 0)).toBe(true); // pad_token_id 0
    const ids = tensor([[2, 7, 3], [2, 9, 3]], { dtype: 'int32' });
    const labels = tensor([1, 0], { dtype: 'int32' });
    const { loss, logits } = model.forward(ids, { labels });
    expect(logits.shape).toEqual([2, 2]);
    expect(model.config.problem_type).toBe('single_label_classification');
    expect(Number.isFinite((await (loss as Tensor).data())[0])).toBe(true);
    for (const t of [ids, labels, loss, logits]) t?.dispose();
    model.dispose();
    expect(() => BertForSequenceClassification.fromConfig({ ...config, hidden_size: 15 })).toThrow(/hidden_size 15 must be a multiple of num_attention_heads 2/);
    expect(() => BertForSequenceClassification.fromConfig({ ...config, hidden_act: 'swiglu' })).toThrow(/"hidden_act" must be one of/);
    expect(() => BertForSequenceClassification.fromConfig({ ...config, position_embedding_type: 'relative_key' })).toThrow(/position_embedding_type "relative_key" is not supported/);
  });
});

describe('BertForMaskedLM (HF parity, CPU)', () => {
  it('has exactly HF state_dict keys with the decoder tied to the word embeddings', async () => {
    const model = await BertForMaskedLM.fromPretrained(fixtureDir('bert-mlm'));
    expect([...model.stateDict().keys()].sort()).toEqual(mlm.state_keys);
    expect(model.cls.predictions.decoder.weight).toBe(model.bert.embeddings.wordEmbeddings.weight);
    expect(model.cls.predictions.decoder.bias).toBe(model.cls.predictions.bias);
    model.dispose();
  });

  for (const c of mlm.cases) {
    it(`matches HF logits${c.loss !== undefined ? ' and loss' : ''}: ${c.name}`, async () => {
      const model = await BertForMaskedLM.fromPretrained(fixtureDir('bert-mlm'));
      expect(await runCase(model, c)).toBeLessThan(1e-4);
      model.dispose();
    });
  }

  it('AutoModelForMaskedLM picks BertForMaskedLM; the round trip omits the tied aliases like HF', async () => {
    const model = await AutoModelForMaskedLM.fromPretrained(fixtureDir('bert-mlm'));
    expect(model).toBeInstanceOf(BertForMaskedLM);
    const dir = mkdtempSync(join(tmpdir(), 'heed-bert-mlm-'));
    await model.savePretrained(dir);
    const original = readFileSync(join(fixtureDir('bert-mlm'), 'model.safetensors'));
    const written = readFileSync(join(dir, 'model.safetensors'));
    const header = (b: Buffer) => Object.keys(JSON.parse(b.subarray(8, 8 + Number(b.readBigUInt64LE(0))).toString('utf8')) as object).sort();
    expect(header(written)).toEqual(header(original));
    const again = await BertForMaskedLM.fromPretrained(dir);
    for (const [k, t] of again.stateDict()) expect(await t.data(), k).toEqual(await (model.stateDict().get(k) as Tensor).data());
    model.dispose();
    again.dispose();
  });

  it('BertModel loads the encoder of a head checkpoint (HF base_model_prefix)', async () => {
    const base = await BertModel.fromPretrained(fixtureDir('bert-cls'));
    expect([...base.stateDict().keys()].sort()).toEqual(cls.state_keys.filter((k) => k.startsWith('bert.')).map((k) => k.slice(5)).sort());
    base.dispose();
  });
});

describe('BertForSequenceClassification.fromPretrainedEncoder (fine-tuning start)', () => {
  it('puts a new classifier (and pooler) on the encoder of a masked-LM checkpoint', async () => {
    const mlmModel = await BertForMaskedLM.fromPretrained(fixtureDir('bert-mlm'));
    const model = await BertForSequenceClassification.fromPretrainedEncoder(fixtureDir('bert-mlm'), { numLabels: 2 });
    expect(model.numLabels).toBe(2);
    expect(model.classifier.weight.shape).toEqual([2, 32]);
    const enc = mlmModel.bert.stateDict();
    for (const [k, t] of model.bert.stateDict()) {
      if (k.startsWith('pooler.')) continue;
      expect(await t.data(), k).toEqual(await (enc.get(k) as Tensor).data());
    }
    const ids = tensor([[2, 15, 33, 3]], { dtype: 'int32' });
    const { logits } = model.forward(ids);
    expect(logits.shape).toEqual([1, 2]);
    // The saved config describes the 2-label head, so it reloads strictly.
    const dir = mkdtempSync(join(tmpdir(), 'heed-bert-enc-'));
    await model.savePretrained(dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1' });
    const again = await BertForSequenceClassification.fromPretrained(dir);
    const relogits = again.forward(ids).logits;
    expect(await relogits.data()).toEqual(await logits.data());
    for (const t of [ids, logits, relogits]) t.dispose();
    for (const m of [mlmModel, model, again]) m.dispose();
  });

  it('replaces the head of a classifier checkpoint with named labels', async () => {
    const model = await BertForSequenceClassification.fromPretrainedEncoder(fixtureDir('bert-cls'), { id2label: { 0: 'NEG', 1: 'POS' } });
    expect(model.numLabels).toBe(2);
    expect(model.config.label2id).toEqual({ NEG: 0, POS: 1 });
    const src = await BertForSequenceClassification.fromPretrained(fixtureDir('bert-cls'));
    expect(await model.bert.pooler?.dense.weight.data()).toEqual(await src.bert.pooler?.dense.weight.data());
    model.dispose();
    src.dispose();
  });

  it('ignores the position_ids buffer old checkpoints hold, as HF does', async () => {
    const { loadWeights, saveWeights } = await import('../src/index.js');
    const weights = await loadWeights(fixtureDir('bert-cls'));
    const dir = mkdtempSync(join(tmpdir(), 'heed-bert-old-'));
    weights.set('bert.embeddings.position_ids', tensor([Array.from({ length: 64 }, (_, i) => i)], { dtype: 'int32' }));
    await saveWeights(dir, weights);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'config.json'), readFileSync(join(fixtureDir('bert-cls'), 'config.json')));
    const model = await BertForSequenceClassification.fromPretrained(dir);
    expect(model.stateDict().has('bert.embeddings.position_ids')).toBe(false);
    for (const t of weights.values()) t.dispose();
    model.dispose();
  });
});
