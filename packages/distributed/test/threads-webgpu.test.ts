// SPDX-License-Identifier: MIT
// Two threads ranks, each with its own WebGPU device on the adapter adapterForRank picks (rank r
// gets entry point r of two, both the one SwiftShader adapter, so the ranks share it): mean
// all-reduce, broadcast and allGather of GPU tensors must equal the rank-order oracle bit for
// bit on both ranks, and every result must stay on the rank's own device. Skipped, with a
// message, without SwiftShader's Vulkan ICD or a built @heed/backend-webgpu.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnThreads } from '@heed/distributed/node';
import { bits, ensureBuilt, workerUrl } from './threads-support.js';
// @ts-expect-error plain-JS helper shared with the workers (no declaration file)
import { values } from './workers/inputs.mjs';

const vals = values as (rank: number, index: number, n: number) => number[];
const ICD = process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json';
const built = existsSync(fileURLToPath(new URL('../../backend-webgpu/dist/index.js', import.meta.url)));
const skip = !existsSync(ICD) ? `no Vulkan ICD at ${ICD}` : !built ? 'packages/backend-webgpu/dist is missing (npm run build)' : '';
if (skip) console.warn(`[distributed webgpu] skipped: ${skip}`);

interface Result { backend: string; adapterIndex: number; onDevice: boolean; a: Float32Array; b: Float32Array; c: Float32Array; gathered: Float32Array[] }

beforeAll(() => { if (!skip) ensureBuilt(); }, 120_000);

describe.skipIf(skip !== '')('threads transport with a WebGPU device per rank', () => {
  it('two ranks sharing one adapter reduce GPU tensors exactly and keep them on their devices', async () => {
    process.env.VK_ICD_FILENAMES = ICD;
    const results = await spawnThreads<Result>(2, workerUrl('webgpu.mjs'), { timeoutMs: 60_000, cpuThreads: 1 });
    const mean = (index: number, n: number) => Float32Array.from({ length: n }, (_, i) =>
      Math.fround(Math.fround(Math.fround(vals(0, index, n)[i]) + Math.fround(vals(1, index, n)[i])) / 2));
    expect(results.map((r) => r.adapterIndex)).toEqual([0, 1]);
    for (const r of results) {
      expect(r.backend).toBe('webgpu');
      expect(r.onDevice).toBe(true);
      expect(bits(r.a)).toEqual(bits(mean(0, 1000)));
      expect(bits(r.b)).toEqual(bits(mean(1, 3)));
      expect(bits(r.c)).toEqual(bits(vals(1, 2, 6)));
      expect(r.gathered.map((g) => bits(g))).toEqual([0, 1].map((k) => bits(vals(k, 3, 4))));
    }
  }, 120_000);
});
