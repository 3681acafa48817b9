// SPDX-License-Identifier: MIT
// Lifetimes in the WebGPU entry and runtime: overlapping first calls of findGpu() share one Dawn
// instance (a second one would be left unreferenced and collected, tearing down its devices),
// one more per robustness setting (dawnFlags), and reads leave no listener behind on
// device.lost (long inference loops do not grow).
import { describe, expect, it, vi } from 'vitest';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, put, skipReason } from './gpu.js';

describe.skipIf(!device)(`WebGPU lifetimes${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('overlapping first findGpu() calls return the same Dawn instance', async () => {
    vi.resetModules();
    const fresh = (await import('../src/index.js')) as typeof import('../src/index.js');
    const [a, b] = await Promise.all([fresh.findGpu(), fresh.findGpu()]);
    expect(a).toBe(b);
    expect(await fresh.findGpu()).toBe(a);
  });

  it('dawnFlags turns robustness off unless asked; each setting has its own Dawn instance, and both compute', async () => {
    vi.resetModules();
    const fresh = (await import('../src/index.js')) as typeof import('../src/index.js');
    const saved = process.env.HEED_WEBGPU_ROBUSTNESS;
    try {
      delete process.env.HEED_WEBGPU_ROBUSTNESS;
      expect(fresh.dawnFlags()).toEqual(['enable-dawn-features=disable_robustness']);
      expect(fresh.dawnFlags({ robustness: true })).toEqual([]);
      process.env.HEED_WEBGPU_ROBUSTNESS = '1';
      expect(fresh.dawnFlags()).toEqual([]);
      expect(fresh.dawnFlags({ robustness: false })).toEqual(['enable-dawn-features=disable_robustness']);
      process.env.HEED_WEBGPU_ROBUSTNESS = '0';
      expect(fresh.dawnFlags()).toEqual(['enable-dawn-features=disable_robustness']);
    } finally {
      if (saved === undefined) delete process.env.HEED_WEBGPU_ROBUSTNESS;
      else process.env.HEED_WEBGPU_ROBUSTNESS = saved;
    }
    const [fast, robust] = await Promise.all([fresh.findGpu({ robustness: false }), fresh.findGpu({ robustness: true })]);
    expect(fast).not.toBe(robust);
    expect(await fresh.findGpu({ robustness: true })).toBe(robust);
    for (const robustness of [false, true]) {
      const be = await fresh.createWebGPUBackend({ robustness });
      const a = put(be, [1, 2, 3, 4, 5, 6], 'float32');
      const m = be.matmul({ ...a, shape: [1, 2, 3], strides: [6, 3, 1] }, { ...a, shape: [1, 3, 2], strides: [6, 2, 1] });
      expect(Array.from(await be.read(m, 'float32', 4))).toEqual([22, 28, 49, 64]);
      be.dispose();
    }
  });

  it('reads leave no listener waiting on device.lost', async () => {
    const be = new WebGPUBackend(device!);
    const waiting = (be as unknown as { runtime: { waitingReads: Set<unknown> } }).runtime.waitingReads;
    const id = put(be, [1, 2, 3], 'float32').data;
    for (let i = 0; i < 20; i++) expect(Array.from(await be.read(id, 'float32', 3))).toEqual([1, 2, 3]);
    expect(waiting.size).toBe(0);
    be.free(id);
    be.dispose();
  });
});
