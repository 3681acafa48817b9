// SPDX-License-Identifier: MIT
// Data-parallel runs of the sentiment and char-lm examples (`--quick --steps 4`, built
// packages, worker-thread ranks) against `--ranks 1`: with dropout 0, 2 ranks (sentiment
// stopped after step 2 and resumed on 2 ranks, or on 4; char-lm unbroken, and under
// `mpirun -np 2` where the MPI binding is built) have every step's loss and the summary.json final loss
// within 1e-4 relative of one rank's; with dropout (per-rank streams), a 2-rank run stopped
// after step 2 and resumed equals the unbroken 2-rank run bit for bit; a rank that throws makes
// the run exit 1 with a SpawnError naming it. Skipped when the packages are not built.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { mpiAvailable } from '@heed/distributed/node';

const root = fileURLToPath(new URL('../../', import.meta.url));
const needed = ['core', 'backend-cpu', 'nn', 'models', 'train', 'distributed'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
const missing = needed.filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`[examples] skipping the sentiment/char-lm data-parallel tests: the packages are not built (missing ${missing.join(', ')}).`);

type Example = 'sentiment' | 'char-lm';
/** Each example's quick run of 4 steps (char-lm: short sampling and validation, dropout 0 is its default). */
const BASE: Record<Example, string[]> = {
  sentiment: ['--cpu', 'wasm', '--quick', '--steps', '4', '--quiet', '--force'],
  'char-lm': ['--cpu', 'wasm', '--quick', '--steps', '4', '--sample-length', '4', '--val-windows', '4', '--quiet', '--force'],
};

/** Runs an example (or, with `mpiRanks`, `mpirun -np mpiRanks` of it). */
function train(example: Example, args: string[], env: Record<string, string> = {}, mpiRanks = 0) {
  const script = join(root, 'examples', example, 'train.mjs');
  const [cmd, pre] = mpiRanks > 0
    ? ['mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(mpiRanks), process.execPath, script]]
    : [process.execPath, [script]];
  const r = spawnSync(cmd, [...pre, ...BASE[example], ...args], {
    cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1', HEED_DIST_TIMEOUT_MS: '20000', ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function trainOk(example: Example, args: string[], mpiRanks = 0): string {
  const r = train(example, args, {}, mpiRanks);
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r.stdout;
}

interface Summary { finalTrainLoss: number; trainLosses: number[]; ranks: number; transport: string; steps: number; dropout: number }
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
const dir = (name: string) => join(mkdtempSync(join(tmpdir(), 'heed-ddp-examples-')), name);

/** Per-step losses and the final loss of `got` within 1e-4 relative of `want`'s. */
function expectSameTraining(got: Summary, want: Summary): void {
  expect(got.trainLosses).toHaveLength(4);
  expect(want.trainLosses).toHaveLength(4);
  got.trainLosses.forEach((v, i) => {
    const w = want.trainLosses[i];
    expect(Math.abs(v - w), `step ${i + 1}: ${v} vs ${w}`).toBeLessThanOrEqual(1e-4 * Math.abs(w));
  });
  expect(Math.abs(got.finalTrainLoss - want.finalTrainLoss)).toBeLessThanOrEqual(1e-4 * Math.abs(want.finalTrainLoss));
}

describe.skipIf(missing.length > 0)('sentiment and char-lm data-parallel (--ranks, mpirun)', () => {
  const one: Record<Example, string> = { sentiment: dir('sentiment-1'), 'char-lm': dir('char-lm-1') };
  beforeAll(() => {
    trainOk('sentiment', ['--dropout', '0', '--ranks', '1', '--out', one.sentiment]);
    trainOk('char-lm', ['--ranks', '1', '--out', one['char-lm']]);
  }, 60_000);

  it('sentiment: 2 ranks, stopped after step 2 and resumed on 2 (or 4) ranks, train the same model as 1 rank (dropout 0)', () => {
    const out = dir('sentiment-2');
    trainOk('sentiment', ['--dropout', '0', '--ranks', '2', '--stop-at', '2', '--out', out]);
    expect(summaryOf(out)).toMatchObject({ ranks: 2, transport: 'threads', steps: 2, dropout: 0 });
    const out4 = dir('sentiment-2-4');
    cpSync(out, out4, { recursive: true });
    trainOk('sentiment', ['--ranks', '4', '--resume', '--out', out4]);
    expect(summaryOf(out4)).toMatchObject({ ranks: 4, steps: 4 });
    expectSameTraining(summaryOf(out4), summaryOf(one.sentiment));
    const stdout = trainOk('sentiment', ['--ranks', '2', '--resume', '--out', out]);
    // Rank 0 alone prints: one header line and one accuracy table.
    expect(stdout.match(/^sentiment on /gm)).toHaveLength(1);
    expect(stdout.match(/test accuracy on /g)).toHaveLength(1);
    const s = summaryOf(out);
    expect(s).toMatchObject({ ranks: 2, steps: 4, dropout: 0 });
    expect(summaryOf(one.sentiment)).toMatchObject({ ranks: 1, transport: 'single' });
    expectSameTraining(s, summaryOf(one.sentiment));
  }, 60_000);

  it('char-lm: 2 ranks train the same model as 1 rank', () => {
    const out = dir('char-lm-2');
    const stdout = trainOk('char-lm', ['--ranks', '2', '--out', out]);
    expect(stdout.match(/^char-lm on /gm)).toHaveLength(1);
    expect(stdout).toContain('summary         '); // the last line of rank 0's output arrives
    const s = summaryOf(out);
    expect(s).toMatchObject({ ranks: 2, transport: 'threads', steps: 4 });
    expectSameTraining(s, summaryOf(one['char-lm']));
  }, 60_000);

  for (const example of ['sentiment', 'char-lm'] as const) {
    it(`${example}: with dropout 0.1 on 2 ranks, --resume after step 2 equals the unbroken run bit for bit`, () => {
      const args = ['--dropout', '0.1', '--ranks', '2'];
      const straight = dir(`${example}-d-straight`);
      const resumed = dir(`${example}-d-resumed`);
      trainOk(example, [...args, '--out', straight]);
      trainOk(example, [...args, '--stop-at', '2', '--out', resumed]);
      trainOk(example, [...args, '--resume', '--out', resumed]);
      const a = summaryOf(straight);
      const b = summaryOf(resumed);
      expect(a).toMatchObject({ ranks: 2, dropout: 0.1, steps: 4 });
      expect(b.trainLosses).toEqual(a.trainLosses);
      expect(b.finalTrainLoss).toBe(a.finalTrainLoss);
      // Dropout is on: the losses are not the dropout-free ones.
      expect(a.trainLosses[1]).not.toBe(summaryOf(one[example]).trainLosses[1]);
    }, 60_000);
  }

  const mpi = missing.length > 0 ? { ok: false as const, reason: 'not built' } : mpiAvailable();
  if (!mpi.ok) console.warn(`[examples] skipping the char-lm mpirun test: ${mpi.reason}`);
  it.skipIf(!mpi.ok)('char-lm under mpirun -np 2 (the MPI transport) trains the same model as 1 rank', () => {
    const out = dir('char-lm-mpi2');
    trainOk('char-lm', ['--out', out], 2);
    const s = summaryOf(out);
    expect(s).toMatchObject({ ranks: 2, transport: 'mpi', steps: 4 });
    expectSameTraining(s, summaryOf(one['char-lm']));
  }, 60_000);

  it('sentiment: a rank that throws fails the run with a SpawnError naming it', () => {
    const r = train('sentiment', ['--ranks', '2', '--out', dir('sentiment-fail')], { HEED_EXAMPLE_FAIL_RANK: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/SpawnError: spawnThreads: rank 1 of 2 threw an error/);
    expect(r.stderr).toMatch(/rank 1 fails on purpose at step 2/);
  }, 60_000);
});
