// SPDX-License-Identifier: MIT
// Public entry of @heed/backend-webgpu: the backend class, its registry factory, and device
// acquisition that works in browsers (navigator.gpu) and in Node (the npm `webgpu` package,
// Dawn; on machines without a GPU, Dawn runs on SwiftShader's software Vulkan).
// `webgpu` is an optional peer dependency, imported by a computed name so that bundlers never
// see it: browser users neither install nor bundle Dawn. The reference below makes the
// published .d.ts files bring the WebGPU types (GPUDevice, ...) to every consumer.
// Invariant: the Dawn GPU object this module creates stays referenced for as long as the
// module lives (Dawn tears its devices down when the instance is garbage-collected).
/// <reference types="@webgpu/types" preserve="true" />
import { HeedError, type BackendFactory } from '@heed/core';
import { WebGPUBackend } from './backend.js';
import type { WebGPUDebug } from './runtime.js';

export { WebGPUBackend };
export { chooseMatmulVariant, MATMUL_VARIANTS, type MatmulVariant, type MatmulDeviceHints } from './matmul.js';
export { sizeClass, type WebGPUDebug } from './runtime.js';
export { MAX_RANK } from './layout.js';
export { QUIET_MAX_SLEEP_MS } from './quiet-wait.js';


/**
 * Options of {@link createWebGPUBackend}.
 *
 * @example
 * ```ts
 * const options: WebGPUBackendOptions = { debug: { printShaders: true } };
 * await createWebGPUBackend(options);
 * ```
 */
export interface WebGPUBackendOptions {
  /** Use this device (else one is requested from `adapter`, else from `gpu`). */
  device?: GPUDevice;
  /** Use this adapter. */
  adapter?: GPUAdapter;
  /** Use this GPU object, e.g. `create(dawnFlags())` of the npm `webgpu` package. Keep it referenced. */
  gpu?: GPU;
  /** Debug switches: print shaders, force a matmul variant. */
  debug?: WebGPUDebug;
  /** Registry name of the backend (default 'webgpu'). */
  name?: string;
  /**
   * Node only, when Heed creates the Dawn instance itself (no `device`, `adapter` or `gpu`
   * given): keep Dawn's shader robustness (bounds clamps on every storage access). Default
   * false, see {@link dawnFlags}; HEED_WEBGPU_ROBUSTNESS=1 turns it on for the whole process.
   * Browsers always keep robustness.
   */
  robustness?: boolean;
  /**
   * Node only: while a read waits for the GPU, sleep briefly between Dawn's device ticks instead
   * of letting its binding tick in a busy loop (default true). The busy loop keeps one CPU core
   * at 100% for the whole wait; on a software adapter (SwiftShader) that core is taken from the
   * shader threads (the spec's training step ran 2x faster without it). A read then returns up
   * to 1 ms later than the GPU finished ({@link QUIET_MAX_SLEEP_MS}); false restores the busy loop.
   */
  quietReads?: boolean;
}

/**
 * The flags Heed passes to Dawn's `create(flags)` (npm `webgpu`) for the instance it creates in
 * Node. Without `robustness`, the `disable_robustness` device toggle: Dawn then stops wrapping
 * every storage-buffer index in a clamp, which on SwiftShader (CPU emulation) also removes a
 * per-lane bounds check from every load and makes matmul ~1.8x faster. Heed's kernels do not
 * rely on Dawn's clamps: every kernel bounds its own accesses (outputs guarded by their size,
 * matmul and tiled loads clamped to the last row/column, gathered indices clamped and reported
 * as HeedErrors, see index-errors.ts), and views are validated against their buffers before
 * anything is recorded. Native Dawn users such as Chrome's Skia Graphite and ONNX Runtime's
 * WebGPU execution provider turn robustness off the same way. HEED_WEBGPU_ROBUSTNESS=1 (or
 * `robustness: true`) keeps it, e.g. to rule it out while debugging a new kernel.
 *
 * @example
 * ```ts
 * import { create, globals } from 'webgpu';
 * Object.assign(globalThis, globals);
 * const gpu = create(dawnFlags()); // ['enable-dawn-features=disable_robustness']
 * ```
 */
export function dawnFlags(options: { robustness?: boolean } = {}): string[] {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.HEED_WEBGPU_ROBUSTNESS;
  const robust = options.robustness ?? (env !== undefined && env !== '' && env !== '0');
  return robust ? [] : ['enable-dawn-features=disable_robustness'];
}

/** Dawn's GPU instances (one per flag set) must stay referenced while their devices live. */
const dawnGpus = new Map<string, Promise<GPU>>();

/** The npm package of Dawn for Node; a variable, so that bundlers do not resolve it. */
const DAWN_PACKAGE: string = 'webgpu';

/** What this package uses of the `webgpu` package. */
interface DawnModule {
  create(flags: string[]): GPU;
  readonly globals: object;
}

/** Whether `e` says that the module itself (not one of its files or libraries) is not installed. */
function isNotInstalled(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(`'${DAWN_PACKAGE}'`);
}

/**
 * The WebGPU entry point: `navigator.gpu` when present (browsers, Deno), else Dawn through a
 * dynamic import of the optional peer dependency `webgpu` (Node), whose globals
 * (GPUBufferUsage, ...) are installed once. Throws a HeedError naming `npm install webgpu`
 * when neither is there. Dawn is created with {@link dawnFlags}`(options)`: robustness off unless
 * asked for.
 *
 * @example
 * ```ts
 * const gpu = await findGpu();
 * const adapter = await gpu.requestAdapter();
 * ```
 */
export async function findGpu(options: { robustness?: boolean } = {}): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  // One Dawn instance per flag set for the module's life, also when calls overlap: a second
  // instance would leave the first unreferenced, and Dawn tears its devices down when it is collected.
  const flags = dawnFlags(options);
  const key = flags.join(' ');
  let gpu = dawnGpus.get(key);
  if (!gpu) {
    gpu = loadDawn(flags);
    dawnGpus.set(key, gpu);
  }
  try {
    return await gpu;
  } catch (e) {
    dawnGpus.delete(key); // not installed: a later call (after `npm install webgpu`) may try again
    throw e;
  }
}

async function loadDawn(flags: string[]): Promise<GPU> {
  const inNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  let dawn: DawnModule;
  try {
    dawn = (await import(/* webpackIgnore: true */ /* @vite-ignore */ DAWN_PACKAGE)) as DawnModule;
  } catch (e) {
    if (!inNode) {
      throw new HeedError('createWebGPUBackend', 'no WebGPU: navigator.gpu is missing. Use a browser with WebGPU enabled, on a page ' +
        'served over https or from localhost, or use the CPU backend.');
    }
    const why = isNotInstalled(e) ? 'is not installed' : `could not be loaded (${e instanceof Error ? e.message : String(e)})`;
    throw new HeedError('createWebGPUBackend', `no WebGPU: Node has no navigator.gpu, and \`${DAWN_PACKAGE}\` (Dawn for Node, an ` +
      `optional peer dependency of @heed/backend-webgpu) ${why}. Run \`npm install ${DAWN_PACKAGE}\`, or use the CPU backend.`);
  }
  Object.assign(globalThis, dawn.globals);
  return dawn.create(flags);
}

/**
 * Creates a WebGPU backend on the given device, or on the first adapter found. The device is
 * requested with the adapter's full storage-buffer and buffer-size limits, and with the
 * 'subgroups' feature when the adapter has it (the 'subgroup' matmul kernel of software adapters).
 *
 * @example
 * ```ts
 * import { create, globals } from 'webgpu';
 * Object.assign(globalThis, globals);
 * const gpu = create(dawnFlags()); // what Heed itself would create: robustness off
 * const backend = await createWebGPUBackend({ gpu });
 * registerBackend({ name: 'webgpu', priority: 2, async: true, create: () => backend });
 * await setBackend('webgpu');
 * ```
 */
export async function createWebGPUBackend(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  let device = options.device;
  let info: GPUAdapterInfo | undefined;
  if (!device) {
    const adapter = options.adapter ?? (await (options.gpu ?? (await findGpu({ robustness: options.robustness }))).requestAdapter());
    if (!adapter) {
      throw new HeedError('createWebGPUBackend', 'requestAdapter() returned null. In Node without a GPU, install Debian chromium and ' +
        'libvulkan1 and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json (SwiftShader).');
    }
    info = adapter.info;
    const limits = adapter.limits;
    device = await adapter.requestDevice({
      // subgroups: the 'subgroup' matmul kernel of software adapters (matmul.ts)
      requiredFeatures: adapter.features.has('subgroups') ? ['subgroups'] : [],
      requiredLimits: {
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage, // fused programs: more inputs and outputs per kernel
      },
    });
  }
  const backend = new WebGPUBackend(device, options.debug, options.name ?? 'webgpu', info);
  backend.runtime.quietReads = options.quietReads ?? true;
  // Keep the GPU object alive as long as the backend (Dawn tears devices down on GC).
  (backend as { gpuInstance?: unknown }).gpuInstance = options.gpu ?? dawnGpus.get(dawnFlags(options).join(' '));
  return backend;
}

/**
 * Registry factory: `registerBackend(webgpuBackend); await setBackend('webgpu')`.
 * Priority 2 (above the CPU backend), created asynchronously on first use.
 *
 * @example
 * ```ts
 * import { registerBackend, setBackend } from '@heed/core';
 * registerBackend(webgpuBackend);
 * await setBackend('webgpu');
 * ```
 */
export const webgpuBackend: BackendFactory = { name: 'webgpu', priority: 2, async: true, create: () => createWebGPUBackend() };
