// SPDX-License-Identifier: MIT
// Per-rank dropout streams of translate-numbers under `--ranks 2 --dropout 0.1` (built
// packages, worker-thread ranks): the ranks draw distinct masks (rank 0 keeps the run's seed,
// rank 1 gets rankSeed's; the masks of each rank's first dropout of step 1, recomputed from the
// stream state the run reports, differ at about 2p(1-p) of the positions), and the run is
// reproducible: a second run stopped after step 1 and resumed (new processes, rank 0's
// checkpoint) has bitwise the same losses, final parameters and stream counters as the unbroken
// run. Skipped when the packages are not built.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Generator, rand, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';

const root = fileURLToPath(new URL('../../', import.meta.url));
const needed = ['core', 'backend-cpu', 'nn', 'models', 'train', 'distributed'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
const missing = needed.filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`[examples] skipping the per-rank dropout test: the packages are not built (missing ${missing.join(', ')}).`);

const SCRIPT = join(root, 'examples', 'translate-numbers', 'train.mjs');
const SEED = 5;
const P = 0.1;
const BASE = ['--cpu', 'wasm', '--quick', '--steps', '2', '--dropout', String(P), '--seed', String(SEED), '--ranks', '2', '--eval-limit', '2', '--quiet', '--force'];

function trainOk(args: string[]): void {
  const r = spawnSync(process.execPath, [SCRIPT, ...BASE, ...args], {
    cwd: root, encoding: 'utf8', timeout: 90_000, env: { ...process.env, NO_COLOR: '1', HEED_DIST_TIMEOUT_MS: '20000' },
  });
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

interface Stream { seed: number; startOffset: number; endOffset: number }
interface Summary { trainLosses: number[]; ranks: number; dropout: number; dropoutStreams: Stream[] }
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;

/** The keep mask (u >= p) of the first `n` values a stream draws from counter `offset` (counter-based: any split of a draw gives the same values). */
function keepMask(seed: number, offset: number, n: number): boolean[] {
  const g = new Generator(seed);
  g.offset = offset;
  const u = rand([n], { generator: g });
  const mask = Array.from(u.dataSync() as Float32Array, (v) => v >= P);
  u.dispose();
  return mask;
}

describe.skipIf(missing.length > 0)('translate-numbers per-rank dropout streams (--ranks 2 --dropout 0.1)', () => {
  const base = mkdtempSync(join(tmpdir(), 'heed-ddp-dropout-'));
  const whole = join(base, 'whole');
  const resumed = join(base, 'resumed');
  beforeAll(async () => {
    registerBackend(cpuBackend);
    await setBackend('cpu');
    trainOk(['--out', whole]);
    trainOk(['--stop-at', '1', '--out', resumed]);
    trainOk(['--resume', '--out', resumed]);
  }, 200_000);

  it('gives the ranks distinct dropout masks, rank 0 keeping the run seed', () => {
    const s = summaryOf(whole);
    expect(s).toMatchObject({ ranks: 2, dropout: P });
    const [r0, r1] = s.dropoutStreams;
    expect(r0.seed).toBe(SEED);
    expect(r1.seed).not.toBe(SEED);
    // Both ranks' dropout layers drew from their stream (the counters moved during training).
    for (const r of [r0, r1]) expect(r.endOffset).toBeGreaterThan(r.startOffset);
    // Step 1's first dropout mask of each rank: independent streams disagree at ~2p(1-p) = 18%
    // of the positions; one stream shared by the ranks would give identical masks.
    expect(r1.startOffset).toBe(r0.startOffset);
    const n = 4096;
    const [m0, m1] = [keepMask(r0.seed, r0.startOffset, n), keepMask(r1.seed, r1.startOffset, n)];
    const differ = m0.filter((k, i) => k !== m1[i]).length / n;
    expect(differ).toBeGreaterThan(0.14);
    expect(differ).toBeLessThan(0.22);
    // Each mask drops about p of its positions (the stream is the dropout's, not degenerate).
    for (const m of [m0, m1]) expect(Math.abs(m.filter((k) => !k).length / n - P)).toBeLessThan(0.03);
  });

  it('is reproducible: a rerun stopped after step 1 and resumed equals the unbroken run bitwise', () => {
    const a = summaryOf(whole);
    const b = summaryOf(resumed);
    expect(b.trainLosses).toEqual(a.trainLosses);
    expect(b.dropoutStreams.map((r) => [r.seed, r.endOffset])).toEqual(a.dropoutStreams.map((r) => [r.seed, r.endOffset]));
    const bytes = (dir: string) => readFileSync(join(dir, 'model.safetensors'));
    expect(bytes(resumed).equals(bytes(whole))).toBe(true);
  });
});
