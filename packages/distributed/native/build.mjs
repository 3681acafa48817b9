#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Builds heed_mpi.node (mpi.c, binding.gyp) when Open MPI's `mpicc` is on PATH and the binding
// is missing or older than its sources (node-gyp, offline; scripts/build-addon.mjs does the
// build and the locking). `npm run build:native -w @heed/distributed`, .ci/run and the MPI
// tests call it. Flags: `--force` rebuilds; `--if-possible` exits 0 with a message when mpicc
// is missing (so a machine without Open MPI still builds the package; its 'threads' backend
// needs none).
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAddon, onPath } from '../../../scripts/build-addon.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const INSTALL = 'apt-get install openmpi-bin libopenmpi-dev';

/**
 * Builds the binding if needed; returns the path of heed_mpi.node, or null (with `ifPossible`)
 * when Open MPI's compiler is missing. Throws with the install/build commands otherwise.
 *
 * @example
 * ```js
 * import { buildMpiAddon } from './build.mjs';
 * buildMpiAddon({ ifPossible: true }); // '/.../native/build/Release/heed_mpi.node'
 * ```
 */
export function buildMpiAddon({ force = false, ifPossible = false, quiet = false } = {}) {
  const precheck = () => (onPath('mpicc')
    ? null
    : `Open MPI's mpicc is not on PATH, so the 'mpi' backend's binding cannot be built; install it with \`${INSTALL}\` (the 'threads' backend works without it)`);
  return buildAddon({ dir: here, name: 'heed_mpi', sources: ['mpi.c', 'binding.gyp', 'build.mjs'], precheck, force, ifPossible, quiet });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildMpiAddon({ force: process.argv.includes('--force'), ifPossible: process.argv.includes('--if-possible') });
  } catch (e) {
    console.error(`heed_mpi: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
