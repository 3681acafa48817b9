// SPDX-License-Identifier: MIT
// The threads transport where a thread may not block (a browser's main thread: Atomics.wait
// throws): its waits go through Atomics.waitAsync, or, without it, a 1 ms timer. Two ranks in
// this one thread (which only non-blocking waits allow) must all-reduce in chunks (regions of
// 256 bytes), broadcast and all-gather to the rank-order oracle bit for bit, and a rank that
// never arrives must be named by the other within the timeout.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DistributedError } from '@heed/distributed';
import { ThreadsTransport } from '../src/threads/transport.js';
import { createThreadsStart } from '../src/threads/shared.js';

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const valuesOf = (rank: number, n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + rank) * (rank + 1.5));

function forbidBlocking(): void {
  vi.spyOn(Atomics, 'wait').mockImplementation(() => {
    throw new TypeError('Atomics.wait cannot be called in this context');
  });
}

function twoRanks(timeoutMs: number): ThreadsTransport[] {
  const start = createThreadsStart(2, 256, 0, timeoutMs, 1, null);
  return [0, 1].map((rank) => new ThreadsTransport({ ...start, rank }));
}

async function collectivesAgree(): Promise<void> {
  const ranks = twoRanks(5000);
  const n = 1000; // 4000 bytes: 16 chunks of a 256-byte region
  const data = [0, 1].map((r) => valuesOf(r, n));
  const oracle = Float32Array.from({ length: n }, (_, i) => Math.fround(data[0][i] + data[1][i]));
  const bcast = [0, 1].map((r) => valuesOf(r + 10, 7));
  const gathered = [0, 1].map(() => new Float32Array(2 * 5));
  await Promise.all(ranks.map(async (t, r) => {
    await t.allReduce(data[r], 'sum');
    await t.broadcast(bcast[r], 1);
    await t.allGather(valuesOf(r + 20, 5), gathered[r]);
  }));
  const wantGather = Float32Array.from([...valuesOf(20, 5), ...valuesOf(21, 5)]);
  for (let r = 0; r < 2; r++) {
    expect(bits(data[r])).toEqual(bits(oracle));
    expect(bits(bcast[r])).toEqual(bits(valuesOf(11, 7)));
    expect(bits(gathered[r])).toEqual(bits(wantGather));
  }
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('threads transport without blocking waits', () => {
  it('two ranks in one thread reduce, broadcast and gather exactly through Atomics.waitAsync', async () => {
    forbidBlocking();
    const waitAsync = vi.spyOn(Atomics as unknown as { waitAsync: (...a: unknown[]) => unknown }, 'waitAsync');
    await collectivesAgree();
    expect(waitAsync).toHaveBeenCalled();
  });

  it('falls back to a timer where Atomics.waitAsync is missing', async () => {
    forbidBlocking();
    vi.stubGlobal('Atomics', Object.assign(Object.create(Atomics) as typeof Atomics, { waitAsync: undefined }));
    await collectivesAgree();
  });

  it('a rank that never arrives is named by the other within the timeout', async () => {
    forbidBlocking();
    const [r0] = twoRanks(300);
    const t0 = Date.now();
    const err = await r0.allReduce(new Float32Array([1, 2, 3]), 'sum').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DistributedError);
    expect((err as DistributedError).rank).toBe(1);
    expect(String(err)).toMatch(/rank 1 did not reach allReduce/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });
});
