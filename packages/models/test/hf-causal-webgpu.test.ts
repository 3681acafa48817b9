// SPDX-License-Identifier: MIT
// GPT2LMHeadModel / LlamaForCausalLM on WebGPU (Dawn on SwiftShader when there is no GPU):
// loaded with `{ backend: 'webgpu' }`, every HF parity case of hf-causal-cases.ts (single,
// padded batches, mask-derived positions, incremental kv-cache) is within 1e-4 relative of HF's
// logits, and repeated cached forwards free every intermediate. Skipped, with the reason, when
// no WebGPU adapter is found.
import { describe, expect, it } from 'vitest';
import { checkLeaks } from '@heed/core';
import { AutoModelForCausalLM, disposeCache } from '../src/index.js';
import { FULL_FIXTURES, checkCases, fixtureDir, ints, readExpected, type CausalExpected } from './hf-causal-cases.js';
import { setupWebGPU } from './hf-webgpu-setup.js';

const skipReason = await setupWebGPU();

describe.skipIf(skipReason !== null).each(FULL_FIXTURES)(`%s on WebGPU${skipReason ? ` (skipped: ${skipReason})` : ''}`, (name) => {
  it('logits match HF in every case; cached forwards leak nothing', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(fixtureDir(name), { backend: 'webgpu' });
    expect(model.parameters().every((p) => p.backend.name === 'webgpu')).toBe(true);
    expect(await checkCases(model, name, 'webgpu')).toBeLessThan(1e-4);
    const c = readExpected<CausalExpected>(name).cases.left_padded as NonNullable<CausalExpected['cases']['left_padded']>;
    const ids = ints(c.input_ids, 'webgpu');
    const mask = ints(c.attention_mask as NonNullable<typeof c.attention_mask>, 'webgpu');
    await checkLeaks(async () => {
      for (let i = 0; i < 2; i++) {
        const out = model.forward(ids, { attentionMask: mask, useCache: true });
        await out.logits.data();
        out.logits.dispose();
        disposeCache(out.pastKeyValues);
      }
    });
    ids.dispose();
    mask.dispose();
    model.dispose();
  });
});
