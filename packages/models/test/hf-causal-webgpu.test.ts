// SPDX-License-Identifier: MIT
// GPT2LMHeadModel / LlamaForCausalLM on WebGPU (Dawn on SwiftShader when there is no GPU):
// loaded with `{ backend: 'webgpu' }`, every HF parity case of hf-causal-cases.ts (single,
// padded batches, mask-derived positions, incremental kv-cache) is within 1e-4 relative of HF's
// logits, and repeated cached forwards free every intermediate. Skipped, with the reason, when
// no WebGPU adapter is found.
import { mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkLeaks, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { webgpuBackend } from '@heed/backend-webgpu';
import { AutoModelForCausalLM, disposeCache } from '../src/index.js';
import { FULL_FIXTURES, checkCases, fixtureDir, ints, readExpected, type CausalExpected } from './hf-causal-cases.js';

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp/xdg-runtime';
mkdirSync(process.env.XDG_RUNTIME_DIR, { recursive: true });
registerBackend(cpuBackend);
registerBackend(webgpuBackend);
let skipReason: string | null = null;
try {
  await setBackend('webgpu');
} catch (e) {
  skipReason = e instanceof Error ? e.message : String(e);
  console.warn(`[webgpu tests] skipped: ${skipReason}`);
}
await setBackend('cpu');

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
