// SPDX-License-Identifier: MIT
// Selecting the compute backend of an example from `--backend cpu|webgpu`. The CPU backend
// is a regular dependency; the WebGPU backend is imported dynamically, so the examples run
// where it is not built or no GPU adapter exists, and fail with a clear message only when
// `--backend webgpu` is asked for.
// Invariant: after `useBackend(name)` resolves, `getBackend().name === name`.
import { getBackend, registerBackend, setBackend } from '@heed/core';

/** @type {readonly string[]} The backends the examples know. */
export const BACKENDS = ['cpu', 'webgpu'];

/** Loaders per backend name: each returns the factory to register. */
const LOADERS = {
  cpu: async () => (await import('@heed/backend-cpu')).cpuBackend,
  webgpu: async () => {
    let mod;
    try {
      mod = await import('@heed/backend-webgpu');
    } catch (e) {
      throw new Error('--backend webgpu: could not load @heed/backend-webgpu (is it built? run `npm run build`). ' +
        `Cause: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!mod.webgpuBackend) throw new Error('--backend webgpu: @heed/backend-webgpu does not export `webgpuBackend` (yet).');
    return mod.webgpuBackend;
  },
};

/**
 * Registers and activates the backend `name` ('cpu' or 'webgpu').
 *
 * @example
 * await useBackend(opts.backend);
 * @param {string} name
 * @returns {Promise<string>} the active backend's name
 */
export async function useBackend(name) {
  const load = LOADERS[name];
  if (!load) throw new Error(`unknown backend '${name}'; use one of: ${BACKENDS.join(', ')}.`);
  const factory = await load();
  registerBackend(factory);
  try {
    await setBackend(name);
  } catch (e) {
    throw new Error(`--backend ${name}: the backend failed to start (${e instanceof Error ? e.message : String(e)}). ` +
      (name === 'webgpu' ? 'A WebGPU adapter is needed (a GPU, or SwiftShader via VK_ICD_FILENAMES); use --backend cpu otherwise.' : ''));
  }
  return getBackend().name;
}

/**
 * Like {@link useBackend}, for scripts: on failure prints the reason and exits with status 2
 * instead of a stack trace.
 *
 * @example
 * const backend = await selectBackend(opts.backend);
 * @param {string} name
 * @returns {Promise<string>}
 */
export async function selectBackend(name) {
  try {
    return await useBackend(name);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
}
