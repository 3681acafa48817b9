// SPDX-License-Identifier: MIT
// Failure handling of the threads transport: a rank that throws, calls process.exit, hangs in
// a collective, calls a different collective, or hangs after the others finished makes
// spawnThreads reject with a SpawnError naming that rank, within the timeout (throws and exits
// at once: woken by the failure record, not by their timeout), and every other rank's own collective rejects with a
// DistributedError naming the rank (never a silent hang).
import { beforeAll, describe, expect, it } from 'vitest';
import { SpawnError, spawnThreads } from '@heed/distributed/node';
import { ensureBuilt, workerUrl } from './threads-support.js';

beforeAll(() => ensureBuilt(), 120_000);

const TIMEOUT = 2500;

async function failure(worldSize: number, mode: string, bad: number): Promise<{ err: SpawnError; ms: number }> {
  const t0 = Date.now();
  const err = await spawnThreads(worldSize, workerUrl('failures.mjs'), { workerData: { mode, bad }, timeoutMs: TIMEOUT, cpuThreads: 1, graceMs: 1500 })
    .then(() => null, (e: unknown) => e);
  const ms = Date.now() - t0;
  expect(err).toBeInstanceOf(SpawnError);
  return { err: err as SpawnError, ms };
}

function expectOthersNamed(err: SpawnError, bad: number): void {
  for (const o of err.outcomes) {
    if (o.rank === bad) continue;
    expect(o.status, `rank ${o.rank}`).toBe('error');
    expect(o.errorName).toBe('DistributedError');
    expect(o.culprit).toBe(bad);
    expect(o.message).toMatch(new RegExp(`rank ${bad}\\b`));
  }
}

describe('threads transport failures', () => {
  it('a rank that throws: the others stop at once, naming it', async () => {
    const { err, ms } = await failure(3, 'throw', 1);
    expect(err.rank).toBe(1);
    expect(err.message).toMatch(/spawnThreads: rank 1 of 3 threw an error/);
    expect(err.outcomes[1]).toMatchObject({ status: 'error', message: 'boom from rank 1', errorName: 'Error' });
    expectOthersNamed(err, 1);
    // They were woken by the failure record, not by their own timeout:
    for (const r of [0, 2]) expect(err.outcomes[r].message).toMatch(/^allReduce: rank 1 threw an error; rank \d stopped in allReduce \(collective #2\)/);
    expect(ms).toBeLessThan(TIMEOUT + 1500);
  });

  it('a rank that calls process.exit: the others stop at once, naming it', async () => {
    const { err, ms } = await failure(3, 'exit', 2);
    expect(err.rank).toBe(2);
    expect(err.message).toMatch(/rank 2 of 3 exited/);
    expect(err.outcomes[2]).toMatchObject({ status: 'exited', message: expect.stringMatching(/exit code 3/) });
    expectOthersNamed(err, 2);
    for (const r of [0, 1]) expect(err.outcomes[r].message).toMatch(/^allReduce: rank 2 exited; rank \d stopped in allReduce \(collective #2\)/);
    expect(ms).toBeLessThan(TIMEOUT + 1500);
  });

  it('a rank that hangs inside its program: the others time out naming it, and it is terminated', async () => {
    const { err, ms } = await failure(2, 'hang', 0);
    expect(err.rank).toBe(0);
    expect(err.message).toMatch(/rank 0 of 2 did not arrive in time/);
    expect(err.outcomes[0].status).toBe('terminated');
    expectOthersNamed(err, 0);
    expect(err.outcomes[1].message).toMatch(/rank 0 did not reach allReduce \(collective #2\) within 2500 ms/);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT);
    expect(ms).toBeLessThan(TIMEOUT + 3000);
  });

  it('a rank that calls a different collective: every rank rejects, naming the mismatch', async () => {
    const { err } = await failure(2, 'mismatch', 1);
    expect(err.message).toMatch(/called a different collective/);
    for (const o of err.outcomes) {
      expect(o.errorName).toBe('DistributedError');
      expect(o.message).toMatch(/called (broadcast|allReduce).* but rank \d called (broadcast|allReduce)/);
    }
  });

  it('a rank that hangs after the others finished is named once the timeout passes', async () => {
    const { err, ms } = await failure(2, 'hang-after', 1);
    expect(err.rank).toBe(1);
    expect(err.message).toMatch(/rank 1 of 2 did not finish in time after the other ranks finished/);
    expect(err.outcomes[0].status).toBe('ok');
    expect(err.outcomes[1].status).toBe('terminated');
    expect(ms).toBeLessThan(TIMEOUT + 3000);
  });
});
