// SPDX-License-Identifier: MIT
// Real-browser test of the CPU fast path: the same page runs in headless Chromium twice, once
// cross-origin isolated (COOP/COEP: shared WebAssembly memory, Web Workers, 2 threads) and once
// not (no SharedArrayBuffer: the single-thread fallback on a plain memory). Both must use the
// WASM kernels and match the same workload run in Node on the CPU backend.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { CHROMIUM, bundlePage, runPage } from '../../../scripts/test-support/browser.js';
import { cpuWorkload, type WorkloadResult } from './browser/workload.js';

interface PageResult { result?: WorkloadResult; error?: string; isolated?: boolean; flavor?: string; threads?: number; hardware?: number }

function expectSame(got: readonly number[], want: readonly number[], label: string): void {
  expect(got.length, label).toBe(want.length);
  got.forEach((v, i) => expect(Math.abs(v - want[i]), `${label}[${i}]: ${v} vs ${want[i]}`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want[i]))));
}

describe.skipIf(!existsSync(CHROMIUM))('CPU fast path in headless Chromium', () => {
  let script = '';
  let node: WorkloadResult;

  it('runs threaded when cross-origin isolated, single-threaded otherwise, with the results of Node', async () => {
    script = await bundlePage(fileURLToPath(new URL('./browser/page.ts', import.meta.url)), ['core', 'backend-cpu']);
    registerBackend({ name: 'cpu', priority: 1, create: () => new CpuBackend() });
    await setBackend('cpu');
    node = await cpuWorkload();
    expect(node.losses.at(-1)!).toBeLessThan(node.losses[0]);

    const isolated = await runPage<PageResult>(script, { isolated: true });
    expect(isolated.error).toBeUndefined();
    expect(isolated.isolated).toBe(true);
    expect(isolated.flavor).toMatch(/^(relaxed|simd)$/);
    expect(isolated.threads).toBe(Math.min(8, isolated.hardware ?? 1));
    expect(isolated.threads).toBeGreaterThanOrEqual(2);

    console.log(`isolated page: ${isolated.flavor}, ${isolated.threads} threads`);
    const plain = await runPage<PageResult>(script, { isolated: false });
    console.log(`non-isolated page: ${plain.flavor}, ${plain.threads} thread`);
    expect(plain.error).toBeUndefined();
    expect(plain.isolated).toBe(false);
    expect(plain.flavor).toMatch(/^(relaxed|simd)$/);
    expect(plain.threads).toBe(1);

    for (const [label, page] of [['isolated', isolated], ['not isolated', plain]] as const) {
      expectSame(page.result!.matmul, node.matmul, `${label} matmul`);
      expectSame(page.result!.softmax, node.softmax, `${label} softmax`);
      expectSame(page.result!.losses, node.losses, `${label} losses`);
    }
  }, 180_000);
});
