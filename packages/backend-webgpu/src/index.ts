// SPDX-License-Identifier: MIT
// Public entry of @heed/backend-webgpu: the backend class, its factory for the registry, and
// device acquisition that works in browsers (navigator.gpu) and in Node (npm `webgpu`, Dawn).
import { HeedError, type BackendFactory } from '@heed/core';
import { WebGPUBackend, chooseMatmulVariant } from './backend.js';
import type { WebGPUDebug } from './runtime.js';

export { WebGPUBackend, chooseMatmulVariant, type WebGPUDebug };

/**
 * Options of {@link createWebGPUBackend}.
 *
 * @example
 * ```ts
 * await createWebGPUBackend({ debug: { printShaders: true } });
 * ```
 */
export interface WebGPUBackendOptions {
  /** Use this device (else one is requested from `adapter`/`gpu`). */
  device?: GPUDevice;
  /** Use this adapter. */
  adapter?: GPUAdapter;
  /** Use this GPU object (e.g. from the `webgpu` package's `create([])`). */
  gpu?: GPU;
  /** Debug switches (print shaders, force a matmul variant). */
  debug?: WebGPUDebug;
}

/** Dawn's GPU instance must stay referenced while its devices live (GC would tear it down). */
let dawnGpu: GPU | null = null;

async function findGpu(): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  try {
    const dawn = (await import('webgpu')) as { create(flags: string[]): GPU; globals: object };
    Object.assign(globalThis, dawn.globals);
    dawnGpu ??= dawn.create([]);
    return dawnGpu;
  } catch (e) {
    throw new HeedError('createWebGPUBackend', 'no WebGPU found: navigator.gpu is missing and the npm package `webgpu` (Dawn) ' +
      `could not be loaded (${e instanceof Error ? e.message : String(e)}). Install it, or run in a browser with WebGPU.`);
  }
}

/**
 * Creates a WebGPU backend on the given device, or on the first adapter found.
 *
 * @example
 * ```ts
 * const backend = await createWebGPUBackend();
 * ```
 */
export async function createWebGPUBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  let device = options.device;
  if (!device) {
    const adapter = options.adapter ?? (await (options.gpu ?? (await findGpu())).requestAdapter());
    if (!adapter) {
      throw new HeedError('createWebGPUBackend', 'requestAdapter() returned null. In Node without a GPU, install Debian chromium and ' +
        'libvulkan1 and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (SwiftShader).');
    }
    device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
  }
  const backend = new WebGPUBackend(device, options.debug);
  (backend as { gpuInstance?: unknown }).gpuInstance = dawnGpu;
  return backend;
}

/**
 * Registry factory: `registerBackend(webgpuBackend); await setBackend('webgpu')`.
 *
 * @example
 * ```ts
 * registerBackend(webgpuBackend);
 * await setBackend('webgpu');
 * ```
 */
export const webgpuBackend: BackendFactory = { name: 'webgpu', priority: 2, async: true, create: () => createWebGPUBackend() };
