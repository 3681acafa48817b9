// SPDX-License-Identifier: MIT
// Shared by the threads tests: the workers run on the built packages (worker_threads cannot
// load TypeScript sources), so this builds @heed/distributed's dist when a source file is newer
// than it (`npm test` builds first; a targeted vitest run may not have).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = join(root, 'packages', 'distributed');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds packages/distributed/dist if it is missing or older than src; throws if core or backend-cpu are not built. */
export function ensureBuilt(): void {
  for (const p of ['core', 'backend-cpu']) {
    if (!existsSync(join(root, 'packages', p, 'dist', 'index.js'))) throw new Error(`packages/${p}/dist is missing: run \`npm run build\` first.`);
  }
  const distIndex = join(pkg, 'dist', 'node', 'index.js');
  if (existsSync(distIndex) && newest(join(pkg, 'dist')) >= newest(join(pkg, 'src'))) return;
  // tsc emits even when a file another engineer is editing has a type error; the tests need the emitted JS.
  const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(pkg, 'tsconfig.json')], { encoding: 'utf8' });
  if (r.status !== 0) console.warn(`[distributed] tsc reported:\n${r.stdout}${r.stderr}`);
  if (!existsSync(distIndex)) throw new Error(`building packages/distributed failed:\n${r.stdout}${r.stderr}`);
}

/** URL of a worker script under test/workers/. */
export function workerUrl(name: string): URL {
  return new URL(`./workers/${name}`, import.meta.url);
}

/** The bits of a float array (so NaN payloads and -0 compare exactly). */
export function bits(a: ArrayLike<number> | Float32Array | Float64Array | Int32Array): number[] {
  if (a instanceof Float64Array) return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length * 2));
  if (a instanceof Int32Array) return Array.from(a);
  const f = a instanceof Float32Array ? a : Float32Array.from(a as ArrayLike<number>);
  return Array.from(new Uint32Array(f.buffer, f.byteOffset, f.length));
}
