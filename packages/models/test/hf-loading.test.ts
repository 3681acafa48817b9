// SPDX-License-Identifier: MIT
// The Hugging Face loading layer against checkpoints written by transformers' own
// save_pretrained (scripts/fixtures/gen_hf_causal_fixtures.py): config.json and
// generation_config.json, single-file and sharded safetensors, f16/bf16 upcast, the
// pytorch_model.bin-only and missing-file errors, unknown model_type; and pretrained.ts's strict
// state loading (missing/unexpected keys listed, model unchanged; tied aliases; base-model
// prefix) and savePretrained -> fromPretrained round trip, on a toy model with HF-style keys.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeedError, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Embedding, Linear, Module, noInit, readSafetensorsHeader } from '@heed/nn';
import {
  AutoModelForCausalLM, ConfigFields, GPT2LMHeadModel, PreTrainedModel, loadConfig, loadGenerationConfig, loadWeights, saveWeights, serializeConfig,
  type PretrainedConfig,
} from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const FIX = join(import.meta.dirname, 'fixtures', 'hf-models');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'heed-hf-loading-'));
const expected = (name: string): { state_keys: string[] } => JSON.parse(readFileSync(join(FIX, name, 'expected.json'), 'utf8')) as { state_keys: string[] };

async function values(m: Map<string, Tensor>): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [k, t] of m) out.set(k, Array.from(await t.data()));
  return out;
}
const disposeAll = (m: Map<string, Tensor>) => { for (const t of m.values()) t.dispose(); };

describe('config.json / generation_config.json', () => {
  it('reads HF-written configs with every field', async () => {
    const config = await loadConfig(join(FIX, 'gpt2'));
    expect(config.model_type).toBe('gpt2');
    expect(config.n_embd).toBe(32);
    expect(config.architectures).toEqual(['GPT2LMHeadModel']);
    expect(config.summary_type).toBe('cls_index'); // unknown to Heed, kept
    const gen = await loadGenerationConfig(join(FIX, 'gpt2'));
    expect(gen?.eos_token_id).toBe(2);
    // HF's layout (sort_keys, indent 2, newline); numbers differ only in spelling (1e-05 vs 0.00001).
    const text = serializeConfig(config);
    expect(JSON.parse(text)).toEqual(JSON.parse(readFileSync(join(FIX, 'gpt2', 'config.json'), 'utf8')));
    const keys = [...text.matchAll(/^ {2}"([^"]+)":/gm)].map((m) => m[1]);
    expect(keys).toEqual([...keys].sort());
    expect(text.endsWith('}\n')).toBe(true);
    expect(await loadGenerationConfig(join(FIX, 'gpt2-bin'))).toBeUndefined();
  });

  it('a folder without config.json, or a path that is not a folder, is a HeedError saying what is needed', async () => {
    const dir = tmp();
    await expect(loadConfig(dir)).rejects.toThrow(/has no config\.json.*model\.safetensors/);
    await expect(loadConfig(join(dir, 'nope'))).rejects.toThrow(/is not a directory/);
    writeFileSync(join(dir, 'config.json'), '{"n_embd": 4}');
    await expect(loadConfig(dir)).rejects.toThrow(/no "model_type"/);
    writeFileSync(join(dir, 'config.json'), '[1]');
    await expect(loadConfig(dir)).rejects.toThrow(HeedError);
  });

  it('ConfigFields reads typed fields with HF defaults and names a bad field', () => {
    const f = new ConfigFields({ model_type: 'x', n_layer: 2, eps: 1e-5, act: 'relu', bad: -1, tie: null }, 'Test');
    expect(f.int('n_layer', 12)).toBe(2);
    expect(f.int('n_head', 12)).toBe(12);
    expect(f.number('eps', 1)).toBe(1e-5);
    expect(f.bool('tie', true)).toBe(true); // null is absent, like HF's None
    expect(f.oneOf('act', ['gelu', 'relu'] as const, 'gelu')).toBe('relu');
    expect(() => f.int('bad', 1)).toThrow(/"bad" must be a positive integer, got -1/);
    expect(() => f.int('missing')).toThrow(/required/);
    expect(() => f.oneOf('act', ['gelu'] as const, 'gelu')).toThrow(/one of "gelu"/);
  });
});

describe('weights', () => {
  it('model.safetensors: HF omits the tied lm_head.weight; every other state key is there', async () => {
    const w = await loadWeights(join(FIX, 'gpt2'));
    expect([...w.keys()].sort()).toEqual(expected('gpt2').state_keys.filter((k) => k !== 'lm_head.weight'));
    expect(w.get('transformer.h.0.attn.c_attn.weight')?.shape).toEqual([32, 96]); // Conv1D: [in, out]
    disposeAll(w);
  });

  it('sharded checkpoints (save_pretrained max_shard_size) load the same tensors as the single file', async () => {
    const dir = join(FIX, 'gpt2-sharded');
    expect(readdirSync(dir).filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    const sharded = await loadWeights(dir);
    const single = await loadWeights(join(FIX, 'gpt2-mini'));
    expect(await values(sharded)).toEqual(await values(single));
    disposeAll(sharded);
    disposeAll(single);
  });

  it('an index naming a missing shard, or a tensor in the wrong shard, is refused', async () => {
    const dir = tmp();
    const src = join(FIX, 'gpt2-sharded');
    for (const f of readdirSync(src)) copyFileSync(join(src, f), join(dir, f));
    const index = JSON.parse(readFileSync(join(src, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    const [first] = Object.keys(index.weight_map);
    const other = Object.values(index.weight_map).find((f) => f !== index.weight_map[first]) as string;
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, [first]: other } }));
    await expect(loadWeights(dir)).rejects.toThrow(/inconsistent/);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, extra: 'model-00009-of-00009.safetensors' } }));
    await expect(loadWeights(dir)).rejects.toThrow(/not in/);
  });

  it('f16 and bf16 checkpoints load as float32, rounded from the f32 source (and differ from it)', async () => {
    const f32 = await values(await loadWeights(join(FIX, 'gpt2-mini')));
    for (const [name, dtype, relUlp] of [['gpt2-f16', 'F16', 2 ** -11], ['gpt2-bf16', 'BF16', 2 ** -8]] as const) {
      const header = readSafetensorsHeader(readFileSync(join(FIX, name, 'model.safetensors')));
      expect(new Set(header.entries.map((e) => e.dtype))).toEqual(new Set([dtype]));
      const w = await loadWeights(join(FIX, name));
      let changed = 0;
      for (const [k, t] of w) {
        expect(t.dtype).toBe('float32');
        const got = Array.from(await t.data());
        const want = f32.get(k) as number[];
        expect(got.length).toBe(want.length);
        got.forEach((g, i) => {
          // Round to nearest: within half an ulp (plus the f16 subnormal step).
          expect(Math.abs(g - want[i])).toBeLessThanOrEqual(relUlp * Math.abs(want[i]) + 2 ** -25);
          if (g !== want[i]) changed++;
        });
      }
      expect(changed).toBeGreaterThan(100);
      disposeAll(w);
    }
  });

  it('a folder with only pytorch_model.bin says to convert it to safetensors, and how', async () => {
    await expect(loadWeights(join(FIX, 'gpt2-bin'))).rejects.toThrow(/pytorch_model\.bin.*safetensors.*save_pretrained\(dir, safe_serialization=True\)/);
    await expect(loadWeights(tmp())).rejects.toThrow(/neither model\.safetensors nor model\.safetensors\.index\.json/);
  });

  it('saveWeights shards by maxShardSize with an index, and loads back exactly', async () => {
    const dir = tmp();
    const t = new Map<string, Tensor>([['a', tensor([1, 2, 3, 4])], ['b', tensor([5, 6])], ['c', tensor([7.25, 8, 9])]]);
    const files = await saveWeights(dir, t, { maxShardSize: 20 }); // 16 bytes | 8 + 12 bytes
    expect(files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json']);
    const back = await loadWeights(dir);
    expect(await values(back)).toEqual(await values(t));
    expect(readSafetensorsHeader(readFileSync(join(dir, files[0]))).metadata).toEqual({ format: 'pt' });
    disposeAll(back);
    // Saving again in the other layout removes the old files (a stale model.safetensors would win).
    expect(await saveWeights(dir, t)).toEqual(['model.safetensors']);
    expect(readdirSync(dir).filter((f) => !f.startsWith('.'))).toEqual(['model.safetensors']);
    await saveWeights(dir, t, { maxShardSize: 20 });
    expect(readdirSync(dir).sort()).toEqual([...files].sort());
    disposeAll(t);
  });
});

describe('AutoModelFor*', () => {
  it('an unknown model_type is a HeedError listing the supported ones', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'mamba' }));
    const err = await AutoModelForCausalLM.fromPretrained(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeedError);
    expect((err as Error).message).toMatch(/unknown model_type "mamba"; AutoModelForCausalLM supports model_type/);
  });
});

// A toy model with HF-style keys: `body` is the base model (prefix 'body'), `lm_head` ties to
// the embedding when config.tie_word_embeddings (HF's default) is not false.
class ToyBody extends Module {
  emb: Embedding;
  proj: Linear;
  constructor(config: PretrainedConfig) {
    super();
    const f = new ConfigFields(config, 'Toy');
    this.emb = new Embedding(f.int('vocab_size'), f.int('hidden'));
    this.proj = new Linear(f.int('hidden'), f.int('hidden'));
  }
}
class ToyLM extends PreTrainedModel {
  static readonly modelType = 'toy';
  static readonly architecture = 'ToyLM';
  body: ToyBody;
  lmHead: Linear;
  constructor(config: PretrainedConfig) {
    super(config);
    this.body = new ToyBody(config);
    this.lmHead = new Linear(new ConfigFields(config, 'Toy').int('hidden'), new ConfigFields(config, 'Toy').int('vocab_size'), { bias: false });
    if (this.tied) this.lmHead.weight = this.body.emb.weight;
  }
  get tied(): boolean { return new ConfigFields(this.config, 'Toy').bool('tie_word_embeddings', true); }
  get architecture(): string { return ToyLM.architecture; }
  override get baseModelPrefix(): string { return 'body'; }
  override tiedWeightKeys(): Record<string, string> { return this.tied ? { 'lm_head.weight': 'body.emb.weight' } : {}; }
  static fromConfig(config: PretrainedConfig): ToyLM { return new ToyLM(config); }
}
class ToyBase extends PreTrainedModel {
  static readonly modelType = 'toy';
  static readonly architecture = 'ToyBase';
  emb: Embedding;
  proj: Linear;
  constructor(config: PretrainedConfig) {
    super(config);
    const b = new ToyBody(config);
    this.emb = b.emb;
    this.proj = b.proj;
  }
  get architecture(): string { return ToyBase.architecture; }
  override get baseModelPrefix(): string { return 'body'; }
  static fromConfig(config: PretrainedConfig): ToyBase { return new ToyBase(config); }
}

const toyConfig = (extra: Record<string, number | boolean> = {}): PretrainedConfig => ({ model_type: 'toy', vocab_size: 5, hidden: 3, ...extra });
async function stateValues(m: Module): Promise<Map<string, number[]>> { return values(m.stateDict()); }

describe('pretrained: strict loading, tied weights, savePretrained', () => {
  it('savePretrained -> fromPretrained is exact; the tied alias is not written and loads tied', async () => {
    const dir = tmp();
    const a = ToyLM.fromConfig(toyConfig());
    a.generationConfig = { eos_token_id: 4, max_new_tokens: 7 };
    const files = await a.savePretrained(dir);
    expect(files).toEqual(['config.json', 'model.safetensors', 'generation_config.json']);
    const names = readSafetensorsHeader(readFileSync(join(dir, 'model.safetensors'))).entries.map((e) => e.name).sort();
    expect(names).toEqual(['body.emb.weight', 'body.proj.bias', 'body.proj.weight']);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual({ ...toyConfig(), architectures: ['ToyLM'] });
    const b = await ToyLM.fromPretrained(dir);
    expect(await stateValues(b)).toEqual(await stateValues(a));
    expect(b.lmHead.weight).toBe(b.body.emb.weight);
    expect(b.generationConfig).toEqual({ eos_token_id: 4, max_new_tokens: 7 });
    expect(b.training).toBe(false); // eval mode, like HF
    a.dispose();
    b.dispose();
  });

  it('untied: lm_head.weight is required and saved', async () => {
    const dir = tmp();
    const a = ToyLM.fromConfig(toyConfig({ tie_word_embeddings: false }));
    await a.savePretrained(dir);
    expect(readSafetensorsHeader(readFileSync(join(dir, 'model.safetensors'))).entries.map((e) => e.name)).toContain('lm_head.weight');
    const b = await ToyLM.fromPretrained(dir);
    expect(b.lmHead.weight).not.toBe(b.body.emb.weight);
    expect(await stateValues(b)).toEqual(await stateValues(a));
  });

  it('a mismatch lists missing and unexpected keys and leaves the model unchanged', async () => {
    const m = ToyLM.fromConfig(toyConfig({ tie_word_embeddings: false }));
    const before = await stateValues(m);
    const w = new Map<string, Tensor>([
      ['body.emb.weight', tensor(new Array(15).fill(0.5), { shape: [5, 3] })],
      ['body.proj.weight', tensor(new Array(9).fill(1), { shape: [3, 3] })],
      ['body.extra', tensor([1])],
    ]);
    expect(() => m.loadPretrainedState(w)).toThrow(/missing keys: body\.proj\.bias, lm_head\.weight; unexpected keys: body\.extra\. The model is unchanged/);
    expect(await stateValues(m)).toEqual(before);
    const bad = new Map<string, Tensor>([...w].filter(([k]) => k !== 'body.extra'));
    bad.set('body.proj.bias', tensor([1, 2, 3, 4]));
    bad.set('lm_head.weight', tensor(new Array(15).fill(0), { shape: [5, 3] }));
    expect(() => m.loadPretrainedState(bad)).toThrow(/shape mismatches: body\.proj\.bias: checkpoint \[4\] float32, model \[3\] float32/);
    expect(await stateValues(m)).toEqual(before);
    disposeAll(w);
  });

  it('base-model prefix: a base checkpoint loads into the head model and a head checkpoint into the base model', async () => {
    const head = ToyLM.fromConfig(toyConfig());
    const baseDir = tmp();
    const base = ToyBase.fromConfig(toyConfig());
    await base.savePretrained(baseDir); // keys emb.weight, proj.* (no prefix)
    const headFromBase = await ToyLM.fromPretrained(baseDir);
    expect(await values(headFromBase.body.stateDict())).toEqual(await stateValues(base));
    const headDir = tmp();
    await head.savePretrained(headDir);
    const baseFromHead = await ToyBase.fromPretrained(headDir);
    expect(await stateValues(baseFromHead)).toEqual(await values(head.body.stateDict()));
  });

  it('noInit (used by fromPretrained) skips the random draws: weights stay zero until loaded', async () => {
    const skipped = noInit(() => new Linear(3, 2));
    expect(Array.from(await skipped.weight.data())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(await skipped.bias!.data())).toEqual([0, 0]);
    const drawn = new Linear(3, 2); // outside noInit: initialised again
    expect(Array.from(await drawn.weight.data()).some((v) => v !== 0)).toBe(true);
    expect(() => noInit(() => { throw new Error('boom'); })).toThrow('boom');
    expect(Array.from(await new Linear(3, 2).weight.data()).some((v) => v !== 0)).toBe(true); // depth restored
    for (const m of [skipped, drawn]) m.dispose();
  });

  it('fromPretrained refuses a config of another family', async () => {
    await expect(ToyLM.fromPretrained(join(FIX, 'gpt2'))).rejects.toThrow(/holds a "gpt2" model but ToyLM is a "toy" class/);
  });
});

describe('URL sources (fetch, as in the browser)', () => {
  let server: Server;
  let base = '';
  const requests: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push(path);
      if (path.startsWith('/broken/')) {
        res.writeHead(500, 'Server Error').end();
        return;
      }
      try {
        const body = readFileSync(join(FIX, ...path.split('/').filter((p) => p && p !== '..')));
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('fromPretrained reads config, index and shards from a URL prefix (string or URL) like from the folder', async () => {
    const fromDir = await GPT2LMHeadModel.fromPretrained(join(FIX, 'gpt2-sharded'));
    const fromUrl = await GPT2LMHeadModel.fromPretrained(`${base}/gpt2-sharded`);
    const fromUrlObject = await AutoModelForCausalLM.fromPretrained(new URL(`${base}/gpt2-sharded/`));
    expect(await stateValues(fromUrl)).toEqual(await stateValues(fromDir));
    expect(await stateValues(fromUrlObject)).toEqual(await stateValues(fromDir));
    expect(requests).toContain('/gpt2-sharded/model.safetensors.index.json');
    expect(requests).toContain('/gpt2-sharded/model-00004-of-00004.safetensors');
    for (const m of [fromDir, fromUrl, fromUrlObject]) m.dispose();
  });

  it('a missing file (404) is "absent"; other HTTP errors are HeedErrors naming the URL', async () => {
    await expect(loadConfig(`${base}/nothing-here`)).rejects.toThrow(/nothing-here' has no config\.json/);
    expect(await loadGenerationConfig(`${base}/gpt2-bin`)).toBeUndefined();
    await expect(loadWeights(`${base}/gpt2-bin`)).rejects.toThrow(/pytorch_model\.bin/);
    await expect(loadConfig(`${base}/broken`)).rejects.toThrow(/could not fetch 'http:\/\/127\.0\.0\.1:\d+\/broken\/config\.json': HTTP 500/);
  });
});
