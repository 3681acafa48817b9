// SPDX-License-Identifier: MIT
// Real-browser test: bundles a page with esbuild, serves it on localhost, and drives Debian's
// headless Chromium (playwright-core, WebGPU on SwiftShader) to train a small model on the
// WebGPU backend. The losses must match the same loop on the CPU backend in Node.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { CHROMIUM, bundlePage, runPage } from '../../../scripts/test-support/browser.js';
import { trainLoop } from './browser/train-loop.js';

describe.skipIf(!existsSync(CHROMIUM))('WebGPU backend in headless Chromium', () => {
  it('trains a small MLP with the same losses as the CPU backend', async () => {
    const script = await bundlePage(fileURLToPath(new URL('./browser/page.ts', import.meta.url)), ['core', 'backend-webgpu']);
    const result = await runPage<{ losses?: number[]; error?: string }>(script);
    expect(result?.error).toBeUndefined();
    const gpuLosses = result.losses!;

    registerBackend(cpuBackend);
    await setBackend('cpu');
    const cpuLosses = await trainLoop();
    expect(gpuLosses.length).toBe(cpuLosses.length);
    gpuLosses.forEach((l, i) => expect(Math.abs(l - cpuLosses[i])).toBeLessThan(1e-4 * (1 + Math.abs(cpuLosses[i]))));
    expect(cpuLosses.at(-1)!).toBeLessThan(cpuLosses[0] * 0.5);
  }, 120_000);
});
