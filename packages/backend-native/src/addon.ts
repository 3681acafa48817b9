// SPDX-License-Identifier: MIT
// Finds and loads heed_native.node (HEED_NATIVE_ADDON alone when set, else a local build, then
// the prebuilt binary for this platform) and, through it, OpenBLAS (dlopen: HEED_OPENBLAS alone when set, else the OpenMP
// build, then the system's libopenblas). Every failure is a HeedError that says what to install or build.
// Invariant: the addon and the library are loaded once per process; later calls reuse them.
import { HeedError } from '@heed/core';
import type { NativeKernels } from '@heed/backend-cpu';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * heed_native.node's exports: the kernels plus loading and thread control.
 *
 * @example
 * ```ts
 * const { addon } = loadAddon();
 * addon.setThreads(2);
 * addon.threads(); // 2
 * ```
 */
export interface NativeAddon extends NativeKernels {
  /** dlopens the first OpenBLAS of `paths` that loads (throws listing every failure). */
  load(paths: readonly string[]): { config: string; core: string; parallel: string };
  /** Sets the OpenMP team size and OpenBLAS's threads. */
  setThreads(n: number): void;
  /** The thread count last set. */
  threads(): number;
}

/**
 * What was loaded: the addon file, the BLAS library and its build.
 *
 * @example
 * ```ts
 * const { blas } = loadAddon().library; // 'OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... USE_OPENMP Zen ...'
 * ```
 */
export interface NativeLibrary {
  /** Path of the heed_native.node that was loaded. */
  readonly addon: string;
  /** OpenBLAS's build string (version, kernels, threading). */
  readonly blas: string;
  /** The kernel family OpenBLAS chose for this CPU (e.g. 'Haswell', 'SkylakeX', 'Zen'). */
  readonly core: string;
  /** OpenBLAS's threading: 'openmp' (shares the kernels' thread team), 'pthreads' or 'sequential'. */
  readonly parallel: string;
}

/**
 * What to install for the native path's run-time library, as the errors say it.
 *
 * @example
 * ```ts
 * console.log(`install OpenBLAS: ${NATIVE_INSTALL_HINT}`);
 * ```
 */
export const NATIVE_INSTALL_HINT = 'apt-get install libopenblas0-openmp (Debian/Ubuntu; or libopenblas0), brew install openblas (macOS)';

const here = dirname(fileURLToPath(import.meta.url));
let cached: { addon: NativeAddon; library: NativeLibrary } | null = null;

function addonCandidates(): string[] {
  const root = join(here, '..');
  const env = process.env.HEED_NATIVE_ADDON;
  if (env) return [env]; // an explicit choice (e.g. the prebuilt binary in a test)
  return [
    join(root, 'native', 'build', 'Release', 'heed_native.node'),
    join(root, 'prebuilds', `${platform}-${arch}`, 'heed_native.node'),
  ];
}

function blasCandidates(): string[] {
  const env = process.env.HEED_OPENBLAS;
  if (env) return [env]; // an explicit choice: only that library
  const multiarch = arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [
    `/usr/lib/${multiarch}/openblas-openmp/libopenblas.so.0`,
    'libopenblas.so.0',
    `/usr/lib/${multiarch}/openblas-pthread/libopenblas.so.0`,
    'libopenblas.so',
    '/opt/homebrew/opt/openblas/lib/libopenblas.dylib',
    '/usr/local/opt/openblas/lib/libopenblas.dylib',
  ];
}

/**
 * Loads the addon and OpenBLAS once (later calls return the same objects), or throws a
 * HeedError naming what is missing and how to install or build it.
 *
 * @example
 * ```ts
 * const { library } = loadAddon();
 * console.log(library.blas, library.core);
 * ```
 */
export function loadAddon(): { addon: NativeAddon; library: NativeLibrary } {
  if (cached !== null) return cached;
  const file = addonCandidates().find((f) => existsSync(f));
  if (file === undefined) {
    throw new HeedError('backend-native', `heed_native.node is neither built nor prebuilt for ${platform}-${arch}; build it with \`npm run build:native -w @heed/backend-native\` (needs a C compiler: apt-get install gcc make python3), or use the WASM CPU backend (@heed/backend-cpu).`);
  }
  // libgomp reads its spin setting when it loads: idle OpenMP threads sleep at once instead of
  // spinning (default ~300k polls), so they never compete with the WASM worker pool or other
  // processes for the cores (measured: spinning made a loaded 2-core machine 2x slower).
  process.env.GOMP_SPINCOUNT ??= '0';
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (e) {
    throw new HeedError('backend-native', `cannot load ${file} (${e instanceof Error ? e.message : String(e)}); rebuild it with \`npm run build:native -w @heed/backend-native -- --force\`.`);
  }
  let info: { config: string; core: string; parallel: string };
  try {
    info = addon.load(blasCandidates());
  } catch (e) {
    throw new HeedError('backend-native', `OpenBLAS was not found (tried: ${e instanceof Error ? e.message : String(e)}); install it with \`${NATIVE_INSTALL_HINT}\`, or set HEED_OPENBLAS to its path.`);
  }
  cached = { addon, library: { addon: file, blas: info.config, core: info.core, parallel: info.parallel } };
  return cached;
}
