// SPDX-License-Identifier: MIT
// Browser entry of the CPU backend's real-browser test: registers the CPU backend, waits (up
// to 3 s) for the fast path's Web Workers when the page is cross-origin isolated, runs the
// shared workload and publishes the results and what the fast path used on window.
import { registerBackend, setBackend } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { cpuWorkload, type WorkloadResult } from './workload.js';

declare global {
  interface Window {
    heedResult?: { result?: WorkloadResult; error?: string; isolated?: boolean; flavor?: string; threads?: number; hardware?: number };
  }
}

async function main(): Promise<void> {
  try {
    const backend = new CpuBackend();
    registerBackend({ name: 'cpu', priority: 1, create: () => backend });
    await setBackend('cpu');
    const t0 = performance.now();
    while (crossOriginIsolated && (backend.fastInfo()?.threads ?? 1) < 2 && performance.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const result = await cpuWorkload();
    const info = backend.fastInfo();
    window.heedResult = { result, isolated: crossOriginIsolated, flavor: info?.flavor, threads: info?.threads, hardware: navigator.hardwareConcurrency };
  } catch (e) {
    window.heedResult = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) };
  }
}

void main();
