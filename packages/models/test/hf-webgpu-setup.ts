// SPDX-License-Identifier: MIT
// Test helper of the hf-*-webgpu and hf-generate-hf suites: registers the CPU and WebGPU
// backends and tries to select WebGPU (Dawn on SwiftShader when there is no GPU, through
// VK_ICD_FILENAMES), returning why not so that suites skip with the reason printed.
import { mkdirSync } from 'node:fs';
import { registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { webgpuBackend } from '@heed/backend-webgpu';

/**
 * Registers 'cpu' and 'webgpu' and probes WebGPU by selecting it. Returns null when it works,
 * else the reason (printed). Afterwards the default backend is `after` when WebGPU works, and
 * 'cpu' when it does not.
 */
export async function setupWebGPU(after: 'cpu' | 'webgpu' = 'cpu'): Promise<string | null> {
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
  if (skipReason !== null || after === 'cpu') await setBackend('cpu');
  return skipReason;
}
