// SPDX-License-Identifier: MIT
// generate() on WebGPU (Dawn on SwiftShader when there is no GPU): the tiny causal LM of
// hf-generate-toy.ts moved to WebGPU gives the CPU's tokens for a left-padded batch, greedy
// (cached and uncached) and seeded sampling, and frees every intermediate. Skipped, with the
// reason, when no WebGPU adapter is found. The HF checkpoints on WebGPU: hf-generate-hf.test.ts.
import { describe, expect, it } from 'vitest';
import { Generator, checkLeaks, tensor, type Tensor } from '@heed/core';
import { generate, type HFGenerateOptions } from '@heed/models';
import { ToyCausalLM } from './hf-generate-toy.js';
import { setupWebGPU } from './hf-webgpu-setup.js';

const skipReason = await setupWebGPU();

const batch = { ids: [0, 0, 3, 7, 0, 5, 2, 9, 0, 0, 0, 8], mask: [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1] };

async function tokens(model: ToyCausalLM, backend: string, options: HFGenerateOptions): Promise<number[]> {
  const ids = tensor(Int32Array.from(batch.ids), { shape: [3, 4], dtype: 'int32', backend });
  const mask = tensor(Int32Array.from(batch.mask), { shape: [3, 4], dtype: 'int32', backend });
  let out: Tensor | undefined;
  try {
    out = await generate(model, ids, { attentionMask: mask, padTokenId: 0, ...options });
    expect(out.backend.name).toBe(backend);
    return Array.from(await out.data());
  } finally {
    ids.dispose();
    mask.dispose();
    out?.dispose();
  }
}

describe.skipIf(skipReason !== null)(`generate on WebGPU${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('gives the CPU tokens (greedy cached/uncached, seeded sampling) and leaks nothing', async () => {
    const model = new ToyCausalLM({ vocab: 11, seed: 4 });
    const sampling = { maxNewTokens: 8, doSample: true, temperature: 1.2, topP: 0.95 };
    const greedyCpu = await tokens(model, 'cpu', { maxNewTokens: 8 });
    const sampledCpu = await tokens(model, 'cpu', { ...sampling, generator: new Generator(9) });
    model.to('webgpu');
    expect(await tokens(model, 'webgpu', { maxNewTokens: 8 })).toEqual(greedyCpu);
    expect(await tokens(model, 'webgpu', { maxNewTokens: 8, useCache: false })).toEqual(greedyCpu);
    expect(await checkLeaks(() => tokens(model, 'webgpu', { ...sampling, generator: new Generator(9) }))).toEqual(sampledCpu);
    model.dispose();
  });
});
