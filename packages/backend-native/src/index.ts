// SPDX-License-Identifier: MIT
// Public entry of @heed/backend-native: Heed's CPU backend with native kernels (OpenBLAS GEMM,
// OpenMP row kernels, the Adam update) working on the CPU backend's heap in place, for Node.js.
// Anything the native kernels decline runs on the WASM kernels, so the backend passes the same
// conformance suite. Importing registers nothing; a missing addon or OpenBLAS is a HeedError
// from the factory naming what to install (or use `bestCpuBackend()`, which falls back to WASM).
import { type BackendFactory } from '@heed/core';
import { cpuBackend, CpuBackend, type CpuBackendOptions, type NativeProvider } from '@heed/backend-cpu';
import { availableParallelism } from 'node:os';
import { loadAddon, type NativeLibrary } from './addon.js';

export { loadAddon, NATIVE_INSTALL_HINT, type NativeAddon, type NativeLibrary } from './addon.js';

/**
 * Options of the native CPU backend: the CPU backend's, with `threads` shared by the native
 * kernels (OpenMP/OpenBLAS) and the WASM worker pool, so the two never oversubscribe the cores.
 *
 * @example
 * ```ts
 * const opts: NativeCpuOptions = { threads: 2 };
 * ```
 */
export type NativeCpuOptions = Omit<CpuBackendOptions, 'native' | 'fast'>;

/**
 * The thread count used when none is given: HEED_CPU_THREADS, else the machine's cores (at most 8).
 *
 * @example
 * ```ts
 * defaultThreads(); // 2 on a 2-core machine
 * ```
 */
export function defaultThreads(): number {
  const env = Number(process.env.HEED_CPU_THREADS);
  return Number.isFinite(env) && env >= 1 ? Math.floor(env) : Math.min(8, Math.max(1, availableParallelism()));
}

/**
 * The native provider (kernels + description) with `threads` set, loading the addon and
 * OpenBLAS on first use. Throws a HeedError naming what to install when either is missing.
 *
 * @example
 * ```ts
 * const provider = nativeProvider(2);
 * provider.name; // 'OpenBLAS 0.3.21 (Zen, openmp), 2 threads'
 * ```
 */
export function nativeProvider(threads: number = defaultThreads()): NativeProvider & { readonly library: NativeLibrary; readonly threads: number } {
  const { addon, library } = loadAddon();
  addon.setThreads(threads);
  const version = /OpenBLAS\s+\S+/.exec(library.blas)?.[0] ?? library.blas;
  return { name: `${version} (${library.core}, ${library.parallel}), ${threads} threads`, kernels: addon, library, threads };
}

/**
 * A new CPU backend using the native kernels (throws a HeedError when they cannot load).
 *
 * @example
 * ```ts
 * const cpu = createNativeCpuBackend({ threads: 2 });
 * cpu.fastInfo()?.native; // 'OpenBLAS 0.3.21 (Zen, openmp), 2 threads'
 * ```
 */
export function createNativeCpuBackend(options: NativeCpuOptions = {}): CpuBackend {
  const threads = options.threads ?? defaultThreads();
  return new CpuBackend({ ...options, threads, fast: true, native: nativeProvider(threads) });
}

/**
 * The factory to register with core: name `'cpu-native'`, priority 2 (above the WASM `'cpu'`).
 *
 * @example
 * ```ts
 * import { registerBackend, setBackend } from '@heed/core';
 * import { nativeCpuBackend } from '@heed/backend-native';
 * registerBackend(nativeCpuBackend());
 * await setBackend('cpu-native');
 * ```
 */
export function nativeCpuBackend(options: NativeCpuOptions = {}): BackendFactory {
  return { name: 'cpu-native', priority: 2, create: () => createNativeCpuBackend(options) };
}

/**
 * Whether the native path can load here (the addon and OpenBLAS), without throwing.
 *
 * @example
 * ```ts
 * if (!nativeAvailable()) console.log('using the WASM CPU kernels');
 * ```
 */
export function nativeAvailable(): boolean {
  try {
    loadAddon();
    return true;
  } catch {
    return false;
  }
}

/**
 * The fastest CPU backend this process can run, with a line saying which path it is: the
 * native one when it loads, else the WASM backend (with the reason). For scripts and examples.
 *
 * @example
 * ```ts
 * const { factory, path } = bestCpuBackend();
 * registerBackend(factory); await setBackend(factory.name);
 * console.log(`CPU path: ${path}`);
 * ```
 */
export function bestCpuBackend(options: NativeCpuOptions = {}): { factory: BackendFactory; native: boolean; path: string } {
  try {
    const threads = options.threads ?? defaultThreads();
    const provider = nativeProvider(threads);
    const factory: BackendFactory = { name: 'cpu-native', priority: 2, create: () => new CpuBackend({ ...options, threads, fast: true, native: provider }) };
    return { factory, native: true, path: `native, ${provider.name}` };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return { factory: cpuBackend, native: false, path: `WASM SIMD (native path unavailable: ${why})` };
  }
}
