// SPDX-License-Identifier: MIT
// Lifetimes in the WebGPU entry and runtime: overlapping first calls of findGpu() share one Dawn
// instance (a second one would be left unreferenced and collected, tearing down its devices),
// and reads leave no listener behind on device.lost (long inference loops do not grow).
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
