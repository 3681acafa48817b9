// SPDX-License-Identifier: MIT
// The equivalence proof for the native transport: translate-numbers (--quick --dropout 0,
// built packages) trained by `mpirun -np 2` with noSync accumulation (--accumulate 2) and by
// `mpirun -np 4` (stopped at step 2) must give exactly the same bits as the same runs on
// worker-thread ranks (--ranks 2 / --ranks 4): every step's gradients, per-step losses, the
// summary.json final loss and the final parameters. Both transports reduce in rank order with
// one kernel, so anything but bit equality is a bug; that the thread runs match 1 rank within
// 1e-6 / 1e-4 is examples/test/ddp-translate.test.ts's job, so this closes the chain for MPI.
// Skipped, with a message, without mpirun or without the built packages.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { MPIRUN, ensureMpiBuilt } from './mpi-support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const script = join(root, 'examples', 'translate-numbers', 'train.mjs');
const needed = ['core', 'backend-cpu', 'nn', 'models', 'train'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
const missing = needed.filter((p) => !existsSync(p));
if (MPIRUN !== null && missing.length > 0) console.warn(`[mpi-ddp] skipped: the packages are not built (missing ${missing.join(', ')}; \`npm run build\`).`);

const BASE = ['--quick', '--steps', '4', '--dropout', '0', '--eval-limit', '2', '--quiet', '--force'];

/** Runs train.mjs with `args`, under `mpirun -np mpiRanks` when given; throws with its output on failure. */
function train(args: string[], mpiRanks?: number): void {
  const node = [process.execPath, script, ...BASE, ...args];
  const argv = mpiRanks === undefined ? node : [MPIRUN ?? 'mpirun', '--allow-run-as-root', '--oversubscribe', '-np', String(mpiRanks), ...node];
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd: root, encoding: 'utf8', timeout: 120_000, killSignal: 'SIGKILL', env: { ...process.env, NO_COLOR: '1', HEED_DIST_TIMEOUT_MS: '30000' },
  });
  if (r.status !== 0) throw new Error(`${argv.slice(0, 6).join(' ')} ...: exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

interface Summary { finalTrainLoss: number; trainLosses: number[]; ranks: number; transport: string; steps: number }
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;

/** The tensor bytes of a safetensors file after its header (identical files of one model have identical layouts). */
function payload(file: string): Buffer {
  const b = readFileSync(file);
  return b.subarray(8 + Number(b.readBigUInt64LE(0)));
}

const dir = (name: string) => join(mkdtempSync(join(tmpdir(), 'heed-mpi-ddp-')), name);

describe.skipIf(MPIRUN === null || missing.length > 0)('translate-numbers under mpirun = the same run on worker-thread ranks, bit for bit', () => {
  beforeAll(() => ensureMpiBuilt(), 120_000);

  it.each([
    { ranks: 2, extra: ['--accumulate', '2'], steps: 4 },
    { ranks: 4, extra: ['--stop-at', '2'], steps: 2 },
  ])('$ranks ranks $extra', ({ ranks, extra, steps }) => {
    const threads = dir('threads');
    const mpi = dir('mpi');
    train(['--ranks', String(ranks), ...extra, '--out', threads, '--grad-dump', join(threads, 'grads')]);
    train([...extra, '--out', mpi, '--grad-dump', join(mpi, 'grads')], ranks);
    const [t, m] = [summaryOf(threads), summaryOf(mpi)];
    expect(t).toMatchObject({ ranks, transport: 'threads', steps });
    expect(m).toMatchObject({ ranks, transport: 'mpi', steps });
    expect(m.trainLosses).toEqual(t.trainLosses);
    expect(m.finalTrainLoss).toBe(t.finalTrainLoss);
    // The all-reduced gradients of every step (grads/step-<n>.safetensors).
    const dumps = readdirSync(join(threads, 'grads')).sort();
    expect(dumps).toEqual(Array.from({ length: steps }, (_, i) => `step-${i + 1}.safetensors`));
    expect(readdirSync(join(mpi, 'grads')).sort()).toEqual(dumps);
    for (const f of dumps) expect(payload(join(mpi, 'grads', f)).equals(payload(join(threads, 'grads', f))), f).toBe(true);
    const weights = steps === 4 ? 'model.safetensors' : 'checkpoint.safetensors';
    expect(payload(join(mpi, weights)).equals(payload(join(threads, weights)))).toBe(true);
  }, 240_000);
});
