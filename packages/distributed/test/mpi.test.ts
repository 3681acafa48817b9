// SPDX-License-Identifier: MIT
// The 'mpi' transport as users launch it: `mpirun --allow-run-as-root --oversubscribe -np N node
// script` on the built packages. At 2 and 4 ranks every collective (allReduce sum/mean/max/min
// over several buckets, NaN/±0/±Inf, int32, float64 host buffers, broadcast, allGather,
// reduceScatter, barrier) must equal the rank-order oracle bit for bit on every rank (an
// order-dependent float32 data set, so MPI's own reduction order would fail it). Ranks that call
// different collectives, lengths, ops or broadcast sources are refused at once. Failures:
// rank 1 throws, exits, hangs (event loop alive or a busy JS thread) or is SIGKILLed — every
// other rank must report a DistributedError naming rank 1 within the timeout (its own timers
// firing meanwhile: the wait is off the JS thread), and mpirun must end. Without the binding, asking for 'mpi' is a HeedError with the install and build commands.
// Skipped, with a message, only when mpirun is absent.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HeedError } from '@heed/core';
import { initProcessGroup } from '@heed/distributed';
import { MPIRUN, ensureMpiBuilt, mpirun } from './mpi-support.js';

describe('mpi transport: the package without the binding', () => {
  const saved = process.env.HEED_MPI_ADDON;
  afterEach(() => {
    if (saved === undefined) delete process.env.HEED_MPI_ADDON;
    else process.env.HEED_MPI_ADDON = saved;
  });

  it("backend 'mpi' without a built binding is a HeedError saying what to install and how to build", async () => {
    process.env.HEED_MPI_ADDON = join(tmpdir(), 'no-such-dir', 'heed_mpi.node');
    const err = await initProcessGroup({ backend: 'mpi' }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(HeedError);
    expect((err as Error).message).toMatch(/not built/);
    expect((err as Error).message).toContain('apt-get install openmpi-bin libopenmpi-dev');
    expect((err as Error).message).toContain('npm run build:native -w @heed/distributed');
  });

  it("a binding that cannot be loaded (e.g. no libmpi) is a HeedError with the same instructions", async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'heed-mpi-')), 'heed_mpi.node');
    writeFileSync(bad, 'not a shared object');
    process.env.HEED_MPI_ADDON = bad;
    const err = await initProcessGroup({ backend: 'mpi' }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(HeedError);
    expect((err as Error).message).toMatch(/could not load/);
    expect((err as Error).message).toContain('apt-get install openmpi-bin libopenmpi-dev');
  });
});

describe.skipIf(MPIRUN === null)('mpi transport under mpirun', () => {
  beforeAll(() => ensureMpiBuilt(), 120_000);

  it.each([2, 4])('every collective at %i ranks equals the rank-order oracle bit for bit, identical on every rank', (n) => {
    const run = mpirun(n, 'collectives.mjs', ['10000']);
    const results = run.lines('RESULT');
    expect(results.map((r) => r.rank), run.output).toEqual(Array.from({ length: n }, (_, r) => r));
    for (const r of results) {
      expect(r.failed, run.output).toEqual([]);
      expect(r.backend).toBe('mpi');
      expect(r.worldSize).toBe(n);
      expect(r.checks).toBeGreaterThan(30);
    }
    expect(new Set(results.map((r) => r.digest)).size).toBe(1);
    expect(run.status).toBe(0);
  });

  it('a script that ends without destroy() is finalized by the exit hook, and mpirun reports success', () => {
    const run = mpirun(2, 'no-destroy.mjs');
    expect(run.lines('RESULT'), run.output).toEqual([{ rank: 0, backend: 'mpi', sum: 1 }, { rank: 1, backend: 'mpi', sum: 1 }]);
    expect(run.status, run.output).toBe(0);
  });

  it('ranks calling different collectives, sizes, ops or sources all stop at once naming the culprit, and the group stays usable', () => {
    const run = mpirun(3, 'mismatch.mjs');
    const results = run.lines('RESULT');
    expect(results.map((r) => r.rank), run.output).toEqual([0, 1, 2]);
    const want: Record<string, RegExp> = {
      length: /called allReduce\(sum\) of 1[04] float32 but rank \d called allReduce\(sum\) of 1[04] float32 \(collective #1\)/,
      collective: /(called barrier but rank \d called allReduce\(sum\) of 3 float64|called allReduce\(sum\) of 3 float64 but rank 1 called barrier) \(collective #2\)/,
      op: /allReduce\((max|mean)\) of 4 float32 but rank \d called allReduce\((max|mean)\) of 4 float32 \(collective #3\)/,
      source: /called broadcast from rank [01] of 2 float32 but rank \d called broadcast from rank [01] of 2 float32 \(collective #4\)/,
    };
    for (const r of results) {
      const caught = r.caught as Record<string, { name: string; blamed: number; message: string; ms: number }>;
      for (const [name, pattern] of Object.entries(want)) {
        expect(caught[name].name, `${name} on rank ${r.rank}`).toBe('DistributedError');
        expect(caught[name].blamed).toBe(r.rank === 1 ? 0 : 1); // the first rank whose call differs from this one's
        expect(caught[name].message).toMatch(pattern);
        expect(caught[name].message).toContain('the group is still usable');
        expect(caught[name].ms).toBeLessThan(5000); // at once, not the 20 s timeout
      }
      expect(r.sum).toBe(3); // 0 + 1 + 2 after the four refused calls
    }
    expect(run.status).toBe(0);
  });

  const survivors = [0, 2];
  const caught = (run: ReturnType<typeof mpirun>) => run.lines('CAUGHT').filter((c) => c.rank !== 1);

  it.each([
    ['throw', /rank 1 failed \(exited with code 1: Error: boom from rank 1\)/],
    ['exit', /rank 1 failed \(exited with code 3\)/],
  ])('rank 1 %s: the other ranks reject at once with a DistributedError naming rank 1', (mode, pattern) => {
    const run = mpirun(3, 'failure.mjs', [mode as string, '20000']);
    const c = caught(run);
    expect(c.map((x) => x.rank), run.output).toEqual(survivors);
    for (const x of c) {
      expect(x.name).toBe('DistributedError');
      expect(x.blamed).toBe(1);
      expect(x.message).toMatch(pattern as RegExp);
      expect(x.ms).toBeLessThan(5000); // a notice, not the 20 s timeout
    }
    expect(run.status).not.toBe(0);
  });

  it.each(['hang', 'busy'])('rank 1 %s: the other ranks time out with a DistributedError naming rank 1', (mode) => {
    const run = mpirun(3, 'failure.mjs', [mode, '2000']);
    const c = caught(run);
    expect(c.map((x) => x.rank), run.output).toEqual(survivors);
    for (const x of c) {
      expect(x.name).toBe('DistributedError');
      expect(x.blamed).toBe(1);
      expect(x.message).toMatch(/rank 1 did not reach allReduce \(collective #2\) within 2000 ms/);
      expect(x.ms).toBeGreaterThanOrEqual(1900);
      expect(x.ms).toBeLessThan(6000);
      expect(x.ticks).toBeGreaterThanOrEqual(5); // a 50 ms timer kept firing during the 2 s wait
    }
    expect(run.status).not.toBe(0);
    expect(run.ms).toBeLessThan(20_000);
  });

  it('rank 1 SIGKILLed: mpirun stops the others, which print a DistributedError naming rank 1', () => {
    const run = mpirun(3, 'failure.mjs', ['kill', '20000']);
    for (const r of survivors) {
      expect(run.output).toContain(`DistributedError: allReduce: the MPI launcher stopped rank ${r} (SIGTERM) while it waited in allReduce (collective #2) for rank 1`);
    }
    expect(run.status).not.toBe(0);
    expect(run.ms).toBeLessThan(15_000);
  });
});
