// SPDX-License-Identifier: MIT
// Choosing the compute backend of a training run by name: 'cpu' (@heed/backend-cpu) or
// 'webgpu' (@heed/backend-webgpu), each imported only when asked for, so a run works where the
// other is not installed or no GPU adapter exists. A list of names is a preference order:
// the first backend that starts wins (a page asks for ['webgpu', 'cpu'] to fall back to the
// CPU where WebGPU is missing).
// Invariants: after `useBackend(...)` resolves to `name`, `getBackend().name === name`; a
// backend already registered is reused, never re-registered (that would dispose its tensors).
import { HeedError, getBackend, listBackends, registerBackend, setBackend, type BackendFactory } from '@heed/core';

/**
 * The backends the training tools know.
 *
 * @example
 * ```ts
 * const name: BackendName = 'webgpu';
 * ```
 */
export type BackendName = 'cpu' | 'webgpu';

/**
 * Loaders per backend name: each returns the factory to register.
 *
 * @example
 * ```ts
 * const loaders: BackendLoaders = { ...DEFAULT_LOADERS, webgpu: async () => myWebgpuFactory };
 * ```
 */
export type BackendLoaders = { readonly [K in BackendName]: () => Promise<BackendFactory> };

/**
 * The default loaders: dynamic imports of `@heed/backend-cpu` and `@heed/backend-webgpu`
 * (optional peer dependencies of `@heed/train`: install the ones you use).
 *
 * @example
 * ```ts
 * const factory = await DEFAULT_LOADERS.cpu();
 * ```
 */
export const DEFAULT_LOADERS: BackendLoaders = {
  cpu: async () => (await import('@heed/backend-cpu')).cpuBackend,
  webgpu: async () => (await import('@heed/backend-webgpu')).webgpuBackend,
};

/**
 * The names of {@link BackendName} (the keys of {@link DEFAULT_LOADERS}).
 *
 * @example
 * ```ts
 * BACKENDS; // ['cpu', 'webgpu']
 * ```
 */
export const BACKENDS: readonly BackendName[] = Object.keys(DEFAULT_LOADERS) as BackendName[];

/**
 * Options of {@link useBackend}.
 *
 * @example
 * ```ts
 * const o: UseBackendOptions = { onFallback: (name, reason) => console.warn(`${name} unavailable: ${reason}`) };
 * ```
 */
export interface UseBackendOptions {
  /** How to load each backend (default {@link DEFAULT_LOADERS}). */
  loaders?: BackendLoaders;
  /** Called for each backend of a preference list that did not start, with the reason. */
  onFallback?: (name: BackendName, reason: string) => void;
}

/** What to do when a backend's package cannot be loaded, or its backend cannot start. */
const HINTS: Record<BackendName, { load: string; start: string }> = {
  cpu: { load: 'install @heed/backend-cpu.', start: 'the CPU backend needs no hardware: please report this.' },
  webgpu: {
    load: 'install @heed/backend-webgpu.',
    start: 'a WebGPU adapter is needed (a GPU, or SwiftShader via VK_ICD_FILENAMES in Node); use the cpu backend otherwise.',
  },
};

async function start(name: BackendName, loaders: BackendLoaders): Promise<void> {
  if (!listBackends().includes(name)) {
    let factory: BackendFactory;
    try {
      factory = await loaders[name]();
    } catch (e) {
      throw new Error(`could not load the ${name} backend (${e instanceof Error ? e.message : String(e)}); ${HINTS[name].load}`);
    }
    registerBackend(factory);
  }
  try {
    await setBackend(name);
  } catch (e) {
    throw new Error(`the ${name} backend failed to start (${e instanceof Error ? e.message : String(e)}); ${HINTS[name].start}`);
  }
}

/**
 * Registers (once) and activates a backend; given a list, the first one that starts.
 * Resolves to the active backend's name; rejects with a HeedError naming every failure.
 *
 * @example
 * ```ts
 * await useBackend('cpu');
 * const name = await useBackend(['webgpu', 'cpu']); // 'cpu' where WebGPU is missing
 * ```
 */
export async function useBackend(choice: BackendName | readonly BackendName[], options: UseBackendOptions = {}): Promise<BackendName> {
  const names = typeof choice === 'string' ? [choice] : [...choice];
  const loaders = options.loaders ?? DEFAULT_LOADERS;
  const failures: string[] = [];
  for (const name of names) {
    if (!Object.hasOwn(loaders, name)) {
      throw new HeedError('useBackend', `unknown backend '${String(name)}'; use one of: ${BACKENDS.join(', ')}.`);
    }
  }
  if (names.length === 0) throw new HeedError('useBackend', `no backend given; use one of: ${BACKENDS.join(', ')}.`);
  for (const name of names) {
    try {
      await start(name, loaders);
      return getBackend().name as BackendName;
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      failures.push(reason);
      if (name !== names[names.length - 1]) options.onFallback?.(name, reason);
    }
  }
  throw new HeedError('useBackend', failures.join(' '));
}
