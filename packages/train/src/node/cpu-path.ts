// SPDX-License-Identifier: MIT
// Which CPU path a Node training run uses: 'native' (@heed/backend-native: OpenBLAS GEMM and
// OpenMP kernels; an error naming what to install when it cannot load), 'wasm' (the WASM SIMD
// kernels of @heed/backend-cpu), or 'auto' (native when it loads, else WASM; WASM in worker
// threads, e.g. data-parallel ranks, whose threads the rank launcher already budgets). Whichever runs is
// registered under the name 'cpu', so scripts that ask for the 'cpu' backend get it unchanged.
import { HeedError, type BackendFactory } from '@heed/core';
import { isMainThread } from 'node:worker_threads';
import { DEFAULT_LOADERS, type BackendLoaders } from '../backend.js';

/**
 * The CPU path of a run (`--cpu`).
 *
 * @example
 * ```ts
 * const path: CpuPath = 'auto';
 * ```
 */
export type CpuPath = 'auto' | 'native' | 'wasm';

/**
 * The values of {@link CpuPath}.
 *
 * @example
 * ```ts
 * CPU_PATHS; // ['auto', 'native', 'wasm']
 * ```
 */
export const CPU_PATHS: readonly CpuPath[] = ['auto', 'native', 'wasm'];

interface NativeModule {
  bestCpuBackend(options?: { threads?: number }): { factory: BackendFactory; native: boolean; path: string };
  nativeCpuBackend(options?: { threads?: number }): BackendFactory;
  nativeProvider(threads?: number): { name: string };
}

/**
 * Backend loaders whose 'cpu' entry follows `path`, and a line saying which CPU path was
 * chosen (filled in when the cpu loader runs). Throws (from the loader) a HeedError naming what
 * to install when `path` is 'native' and the native path cannot load.
 *
 * @example
 * ```ts
 * const { loaders, described } = cpuPathLoaders('auto');
 * await useBackend('cpu', { loaders });
 * console.log(described()); // 'native, OpenBLAS 0.3.21 (Zen, openmp), 2 threads'
 * ```
 */
export function cpuPathLoaders(path: CpuPath): { loaders: BackendLoaders; described: () => string } {
  let line = 'not chosen yet';
  const cpu = async (): Promise<BackendFactory> => {
    if (path === 'wasm' || (path === 'auto' && !isMainThread)) {
      line = path === 'wasm' ? 'WASM SIMD (--cpu wasm)' : 'WASM SIMD (in a worker thread; --cpu native to use native kernels there)';
      return DEFAULT_LOADERS.cpu();
    }
    let mod: NativeModule;
    try {
      mod = (await import('@heed/backend-native' as string)) as NativeModule;
    } catch (e) {
      if (path === 'native') throw new HeedError('--cpu native', `@heed/backend-native is not installed (${e instanceof Error ? e.message : String(e)}); install it, or use --cpu wasm.`);
      line = 'WASM SIMD (@heed/backend-native is not installed)';
      return DEFAULT_LOADERS.cpu();
    }
    if (path === 'native') {
      const factory = mod.nativeCpuBackend(); // its create() throws the install hint if needed
      line = `native, ${mod.nativeProvider().name}`;
      return { ...factory, name: 'cpu' };
    }
    const best = mod.bestCpuBackend();
    line = best.path;
    return { ...best.factory, name: 'cpu' };
  };
  return { loaders: { ...DEFAULT_LOADERS, cpu }, described: () => line };
}
