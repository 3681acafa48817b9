#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Builds heed_native.node (the native CPU kernels) with node-gyp when a C compiler is present and
// the addon is missing or older than its sources; `--force` rebuilds, `--if-possible` exits 0
// with a message when no compiler is installed (the package then uses its prebuilt binary, or
// Heed keeps its WASM kernels). `--prebuild` also copies the result (stripped) to prebuilds/<platform>-<arch>/.
// OpenBLAS is not needed to build: the addon loads it at run time.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon, onPath } from '../../../scripts/build-addon.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SOURCES = ['heed_native.c', 'native.h', 'vmath.h', 'gemm.c', 'small_gemm.c', 'rows.c', 'adam.c', 'attention.c', 'program.c', 'binding.gyp', 'build.mjs'];

/**
 * Builds the addon if needed; returns its path, or null (with `ifPossible`) without a compiler.
 *
 * @example
 * ```js
 * buildNativeAddon({ ifPossible: true }); // '/.../native/build/Release/heed_native.node'
 * ```
 */
export function buildNativeAddon({ force = false, ifPossible = false, quiet = false } = {}) {
  const precheck = () => (onPath('cc') || onPath('gcc') ? null : 'no C compiler (cc) on PATH; install one with `apt-get install gcc make python3`');
  return buildAddon({ dir: here, name: 'heed_native', sources: SOURCES, precheck, force, ifPossible, quiet });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const built = buildNativeAddon({ force: process.argv.includes('--force'), ifPossible: process.argv.includes('--if-possible') });
    if (built !== null && process.argv.includes('--prebuild')) {
      const dir = join(here, '..', 'prebuilds', `${process.platform}-${process.arch}`);
      mkdirSync(dir, { recursive: true });
      copyFileSync(built, join(dir, 'heed_native.node'));
      if (onPath('strip')) execFileSync('strip', ['--strip-unneeded', join(dir, 'heed_native.node')]);
      console.log(`heed_native: copied to ${dir}`);
    }
  } catch (e) {
    console.error(`heed_native: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
