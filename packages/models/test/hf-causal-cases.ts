// SPDX-License-Identifier: MIT
// The HF parity cases of the causal-LM fixtures (scripts/fixtures/gen_hf_causal_fixtures.py),
// run the same way on any backend by hf-causal.test.ts (CPU) and hf-causal-webgpu.test.ts:
// single sequence, right/left-padded batches (logits compared at mask=1 rows only: HF leaves
// padded query rows undefined), mask-derived and gapped position ids, and the incremental kv-cache pass,
// whose steps must also equal the full forward's rows.
import { expect } from 'vitest';
import { tensor, tidy, type Tensor } from '@heed/core';
import { disposeCache, type CausalLM, type PastKeyValues } from '../src/index.js';
import { expectRel, fixtureDir, readExpected, type Enc } from './hf-bert-helpers.js';

/** One padded-batch case of expected.json. */
export interface CausalCase { input_ids: Enc; attention_mask?: Enc; position_ids?: Enc; logits: Enc }
/** The incremental case: a prompt of `prompt_length` then one token at a time. */
export interface IncrementalCase { input_ids: Enc; attention_mask: Enc; prompt_length: number; logits: Enc[] }
/** expected.json of a causal fixture. */
export interface CausalExpected {
  state_keys: string[];
  cases: { single: CausalCase; right_padded?: CausalCase; left_padded?: CausalCase; left_padded_positions?: CausalCase; gapped_positions?: CausalCase; incremental?: IncrementalCase };
  fine_tune?: { input_ids: Enc; lr: number; loss_before: number; loss_after: number };
}

/** Fixtures with every case, and the single-case variants (f16/bf16/sharded sources). */
export const FULL_FIXTURES = ['gpt2', 'gpt2-untied', 'llama', 'llama-tied'] as const;
export const SINGLE_FIXTURES = ['gpt2-mini', 'gpt2-f16', 'gpt2-bf16', 'gpt2-sharded'] as const;
export { fixtureDir, readExpected };

/** An int32 tensor from a record, on `backend`. */
export function ints(e: Enc, backend: string, cols?: [number, number]): Tensor {
  const [B, T] = e.shape;
  const [from, to] = cols ?? [0, T];
  const data = Int32Array.from({ length: B * (to - from) }, (_, i) => e.data[Math.floor(i / (to - from)) * T + from + (i % (to - from))]);
  return tensor(data, { shape: [B, to - from], dtype: 'int32', backend });
}

/** The rows (flat b * T + t) of `[B, T, V]` logits where `keep(b, t)`, as `[n, V]` and its record. */
function pick(logits: Tensor, want: Enc, keep: (b: number, t: number) => boolean): { got: Tensor; want: Enc } {
  const [B, T, V] = want.shape;
  const rows: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) if (keep(b, t)) rows.push(b * T + t);
  const got = tidy(() => logits.reshape([B * T, V]).indexSelect(0, tensor(Int32Array.from(rows), { dtype: 'int32', backend: logits.backend.name })));
  return { got, want: { shape: [rows.length, V], data: rows.flatMap((r) => want.data.slice(r * V, (r + 1) * V)) } };
}

async function compareRows(logits: Tensor, want: Enc, mask: Enc | undefined, label: string, maskOffset = 0): Promise<number> {
  const width = mask ? mask.shape[1] : 0;
  const { got, want: w } = pick(logits, want, (b, t) => !mask || mask.data[b * width + maskOffset + t] === 1);
  try {
    return await expectRel(got, w, label);
  } finally {
    got.dispose();
  }
}

/** Runs every case of `name`'s expected.json through `model` on `backend`; returns the worst relative error. */
export async function checkCases(model: CausalLM, name: string, backend: string): Promise<number> {
  const { cases } = readExpected<CausalExpected>(name);
  let worst = 0;
  const run = async (c: CausalCase, label: string) => {
    const ids = ints(c.input_ids, backend);
    const mask = c.attention_mask ? ints(c.attention_mask, backend) : undefined;
    const pos = c.position_ids ? ints(c.position_ids, backend) : undefined;
    const { logits } = model.forward(ids, { attentionMask: mask, positionIds: pos });
    worst = Math.max(worst, await compareRows(logits, c.logits, c.attention_mask, `${name} ${label}`));
    for (const t of [ids, mask, pos, logits]) t?.dispose();
  };
  await run(cases.single, 'single');
  if (cases.right_padded) await run(cases.right_padded, 'right_padded');
  if (cases.left_padded) await run(cases.left_padded, 'left_padded');
  if (cases.left_padded_positions) await run(cases.left_padded_positions, 'left_padded_positions');
  if (cases.gapped_positions) await run(cases.gapped_positions, 'gapped_positions');
  if (cases.incremental) worst = Math.max(worst, await checkIncremental(model, name, cases.incremental, backend));
  return worst;
}

async function checkIncremental(model: CausalLM, name: string, c: IncrementalCase, backend: string): Promise<number> {
  const T = c.input_ids.shape[1];
  const fullIds = ints(c.input_ids, backend);
  const fullMask = ints(c.attention_mask, backend);
  const full = model.forward(fullIds, { attentionMask: fullMask });
  let past: PastKeyValues | undefined;
  let worst = 0;
  let start = 0;
  for (let step = 0; step < c.logits.length; step++) {
    const end = step === 0 ? c.prompt_length : start + 1;
    const ids = ints(c.input_ids, backend, [start, end]);
    const mask = ints(c.attention_mask, backend, [0, end]);
    const out = model.forward(ids, { attentionMask: mask, pastKeyValues: past, useCache: true });
    expect(out.pastKeyValues?.layers[0].key.shape[2], `${name} cache length`).toBe(end);
    disposeCache(past);
    past = out.pastKeyValues;
    const label = `${name} incremental step ${step}`;
    worst = Math.max(worst, await compareRows(out.logits, c.logits[step], c.attention_mask, label, start));
    // The cached step equals the full forward at the same (unpadded) positions.
    const fullRows = tidy(() => full.logits.narrow(1, start, end - start));
    const asRecord: Enc = { shape: [...fullRows.shape], data: Array.from(await fullRows.data()) };
    await compareRows(out.logits, asRecord, c.attention_mask, `${label} vs full forward`, start);
    for (const t of [ids, mask, out.logits, fullRows]) t.dispose();
    start = end;
  }
  expect(start).toBe(T);
  disposeCache(past);
  for (const t of [fullIds, fullMask, full.logits]) t.dispose();
  return worst;
}
