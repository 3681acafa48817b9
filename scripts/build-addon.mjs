// SPDX-License-Identifier: MIT
// Builds a Node-API addon of this repo with the node-gyp that npm bundles, offline against the
// installed Node headers (`--nodedir` = Node's prefix when it has include/node/node_api.h), when
// the addon is missing or older than its sources. One build at a time per addon directory (test
// files call this in parallel): a lock directory, stale after 5 minutes. Used by
// packages/distributed/native/build.mjs (heed_mpi) and packages/backend-native/native/build.mjs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Whether `cmd` is an executable on PATH.
 *
 * @example
 * ```js
 * onPath('mpicc'); // true where Open MPI's compiler is installed
 * ```
 */
export function onPath(cmd) {
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
 * Builds `<dir>/build/Release/<name>.node` unless it is newer than every file in `sources`.
 * `precheck()` returns null when the build can run, or the reason it cannot (then, with
 * `ifPossible`, the build is skipped with that message and null returned; otherwise it throws).
 *
 * @example
 * ```js
 * buildAddon({ dir: here, name: 'heed_native', sources: ['gemm.c'], force: false, ifPossible: true });
 * ```
 */
export function buildAddon({ dir, name, sources, precheck = () => null, force = false, ifPossible = false, quiet = false }) {
  const addon = join(dir, 'build', 'Release', `${name}.node`);
  const files = sources.map((f) => join(dir, f));
  const log = (msg) => { if (!quiet) console.log(`${name}: ${msg}`); };
  const fresh = () => existsSync(addon) && files.every((s) => statSync(s).mtimeMs <= statSync(addon).mtimeMs);
  if (!force && fresh()) {
    log(`up to date (${addon})`);
    return addon;
  }
  const lock = join(dir, '.build-lock');
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
    const why = precheck();
    if (why !== null) {
      if (ifPossible) {
        log(`skipped: ${why}`);
        return null;
      }
      throw new Error(why);
    }
    const gyp = nodeGyp();
    if (gyp === null) throw new Error(`node-gyp was not found (it ships with npm); run \`npx node-gyp rebuild\` in ${dir}`);
    const prefix = dirname(dirname(process.execPath));
    const args = [gyp, 'rebuild', '--loglevel=warn'];
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
    log(`building with ${args.slice(1).join(' ')}`);
    execFileSync(process.execPath, args, { cwd: dir, stdio: quiet ? 'pipe' : 'inherit' });
    return addon;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
