// SPDX-License-Identifier: MIT
// Shared by the MPI tests: finds mpirun, makes sure the built dist and the heed_mpi binding are
// there (building them when missing or stale: `npm test` builds the dist, .ci/run the binding),
// runs `mpirun --allow-run-as-root --oversubscribe -np N node test/mpi-scripts/<script>` and
// parses the ranks' `RESULT {json}` / `CAUGHT {json}` lines.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt } from './threads-support.js';
// @ts-expect-error plain-JS build helper (no declaration file)
import { buildMpiAddon } from '../native/build.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** Directory of the rank scripts. */
export const SCRIPTS = fileURLToPath(new URL('./mpi-scripts/', import.meta.url));

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  return null;
}

/** mpirun's path, or null (the MPI tests then skip, saying so). */
export const MPIRUN = which('mpirun');
if (MPIRUN === null) console.warn('[mpi] skipped: mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev).');

/** Builds what the rank scripts load: the package dist (if stale) and heed_mpi.node (if stale). */
export function ensureMpiBuilt(): void {
  ensureBuilt();
  (buildMpiAddon as (o: { quiet: boolean }) => string)({ quiet: true });
  if (!existsSync(join(root, 'packages', 'distributed', 'dist', 'mpi', 'index.js'))) throw new Error('packages/distributed/dist/mpi is missing after the build.');
}

/** What one mpirun gave back. */
export interface MpiRun {
  status: number | null;
  output: string;
  ms: number;
  /** Parsed `<TAG> {json}` lines by rank. */
  lines: (tag: string) => Record<string, unknown>[];
}

/** Options of {@link mpirun}: extra mpirun flags, a command mpirun runs under (e.g. `ip netns exec A`), limit, env. */
export interface MpirunOptions {
  extra?: readonly string[];
  prefix?: readonly string[];
  limitMs?: number;
  env?: Record<string, string>;
}

/** Runs `[prefix] mpirun -np n [extra] node <script> ...args` with a hard wall-clock limit. */
export function mpirun(n: number, script: string, args: readonly string[] = [], options: MpirunOptions = {}): MpiRun {
  const start = Date.now();
  const argv = [...(options.prefix ?? []), MPIRUN ?? 'mpirun', '--allow-run-as-root', '--oversubscribe', '-np', String(n), ...(options.extra ?? []),
    process.execPath, join(SCRIPTS, script), ...args];
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd: root, encoding: 'utf8', timeout: options.limitMs ?? 25_000, killSignal: 'SIGKILL',
    env: { ...process.env, FORCE_COLOR: '0', ...options.env },
  });
  const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
  return {
    status: r.status, output, ms: Date.now() - start,
    lines: (tag) => output.split('\n').filter((l) => l.startsWith(`${tag} `)).map((l) => JSON.parse(l.slice(tag.length + 1)) as Record<string, unknown>)
      .sort((a, b) => Number(a.rank) - Number(b.rank)),
  };
}
