#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Builds heed_mpi.node (mpi.c, binding.gyp) with the node-gyp that npm bundles, offline against
// the installed Node headers (`--nodedir` = Node's prefix when it has include/node/node_api.h,
// e.g. Debian's /usr), when Open MPI's `mpicc` is on PATH and the binding is missing or older
// than its sources. `npm run build:native -w @heed/distributed`, .ci/run and the MPI tests call
// it. Flags: `--force` rebuilds; `--if-possible` exits 0 with a message when mpicc is missing
// (so a machine without Open MPI still builds the package; its 'threads' backend needs none).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const addon = join(here, 'build', 'Release', 'heed_mpi.node');
const sources = ['mpi.c', 'binding.gyp', 'build.mjs'].map((f) => join(here, f));
const INSTALL = 'apt-get install openmpi-bin libopenmpi-dev';

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, cmd))) return true;
  return false;
}

function nodeGyp() {
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((p) => existsSync(p)) ?? null;
}

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
  const log = (msg) => { if (!quiet) console.log(`heed_mpi: ${msg}`); };
  const fresh = () => existsSync(addon) && sources.every((s) => statSync(s).mtimeMs <= statSync(addon).mtimeMs);
  if (!force && fresh()) {
    log(`up to date (${addon})`);
    return addon;
  }
  // One build at a time (test files call this in parallel): a lock directory, stale after 5 min.
  const lock = join(here, '.build-lock');
  const until = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > until) throw new Error(`timed out waiting for ${lock} (another build); remove it if no build runs`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!force && fresh()) {
      log(`built meanwhile (${addon})`);
      return addon;
    }
    return build(log, ifPossible, quiet);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function build(log, ifPossible, quiet) {
  if (!onPath('mpicc')) {
    const msg = `Open MPI's mpicc is not on PATH, so the 'mpi' backend's binding cannot be built; install it with \`${INSTALL}\``;
    if (ifPossible) {
      log(`skipped: ${msg} (the 'threads' backend works without it)`);
      return null;
    }
    throw new Error(msg);
  }
  const gyp = nodeGyp();
  if (gyp === null) throw new Error("node-gyp was not found (it ships with npm); install npm's node-gyp or run `npx node-gyp rebuild` in packages/distributed/native");
  const prefix = dirname(dirname(process.execPath));
  const args = [gyp, 'rebuild', '--loglevel=warn'];
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
  log(`building with ${args.slice(1).join(' ')}`);
  execFileSync(process.execPath, args, { cwd: here, stdio: quiet ? 'pipe' : 'inherit' });
  return addon;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildMpiAddon({ force: process.argv.includes('--force'), ifPossible: process.argv.includes('--if-possible') });
  } catch (e) {
    console.error(`heed_mpi: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
