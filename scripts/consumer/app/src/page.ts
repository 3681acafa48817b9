// SPDX-License-Identifier: MIT
// The consumer project's browser entry, bundled by Vite and by esbuild: `?backend=webgpu` or
// `?backend=cpu` picks the backend (the CPU one waits up to 3 s for its worker threads when the
// page is cross-origin isolated), runs the workload, checks that @heed/nn's Node-only file
// helper fails with its HeedError, and publishes everything on `window.heedResult`.
import { HeedError, registerBackend, setBackend } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { webgpuBackend } from '@heed/backend-webgpu';
import { loadFile } from '@heed/nn';
import { workload, type WorkloadResult } from './workload.js';

/** What the page publishes. */
export interface PageResult extends Partial<WorkloadResult> {
  backend?: string;
  isolated?: boolean;
  threads?: number | undefined;
  hardware?: number;
  fileError?: string;
  error?: string;
}

declare global {
  interface Window { heedResult?: PageResult }
}

async function main(): Promise<PageResult> {
  const cpu = new CpuBackend();
  registerBackend({ name: 'cpu', priority: 1, create: () => cpu });
  registerBackend(webgpuBackend);
  const name = new URLSearchParams(location.search).get('backend') ?? 'webgpu';
  const backend = await setBackend(name);
  const t0 = performance.now();
  while (name === 'cpu' && crossOriginIsolated && (cpu.fastInfo()?.threads ?? 1) < 2 && performance.now() - t0 < 3000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const result = await workload();
  let fileError = '';
  try {
    await loadFile('weights.safetensors');
  } catch (e) {
    fileError = e instanceof HeedError ? e.message : `not a HeedError: ${String(e)}`;
  }
  return {
    ...result, backend: backend.name, isolated: crossOriginIsolated, threads: cpu.fastInfo()?.threads,
    hardware: navigator.hardwareConcurrency, fileError,
  };
}

main().then(
  (r) => { window.heedResult = r; },
  (e: unknown) => { window.heedResult = { error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }; },
);
