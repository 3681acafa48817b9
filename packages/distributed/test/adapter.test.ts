// SPDX-License-Identifier: MIT
// adapterForRank: local rank r gets entry point r mod n (round-robin over GPUs, shared when
// there are fewer than ranks), the power preference reaches requestAdapter, and bad input or a
// missing adapter is a HeedError naming the rank and the fix. Fake entry points (no GPU); the
// real one (SwiftShader, two ranks sharing it) is in threads-webgpu.test.ts.
import { describe, expect, it } from 'vitest';
import { HeedError } from '@heed/core';
import { adapterForRank, type AdapterSource } from '@heed/distributed';

/** An entry point whose adapter is its name; records each request's options. */
function fakeSource(name: string | null, calls: unknown[] = []): AdapterSource<string> {
  return { requestAdapter: async (options) => { calls.push(options); return name; } };
}

describe('adapterForRank', () => {
  it('spreads local ranks over the entry points round-robin', async () => {
    const sources = ['gpu0', 'gpu1'].map((n) => fakeSource(n));
    const chosen = await Promise.all([0, 1, 2, 3, 4].map((r) => adapterForRank(r, sources)));
    expect(chosen).toEqual([
      { adapter: 'gpu0', index: 0 }, { adapter: 'gpu1', index: 1 }, { adapter: 'gpu0', index: 0 },
      { adapter: 'gpu1', index: 1 }, { adapter: 'gpu0', index: 0 },
    ]);
    // One entry point: every rank shares it.
    const one = [fakeSource('only')];
    expect(await Promise.all([0, 1, 2].map(async (r) => (await adapterForRank(r, one)).index))).toEqual([0, 0, 0]);
  });

  it('passes the power preference to requestAdapter (none by default)', async () => {
    const calls: unknown[] = [];
    const src = [fakeSource('a', calls)];
    await adapterForRank(0, src);
    await adapterForRank(1, src, { powerPreference: 'high-performance' });
    expect(calls).toEqual([undefined, { powerPreference: 'high-performance' }]);
  });

  it('rejects bad ranks, empty or non-GPU sources and a missing adapter with a HeedError', async () => {
    const ok = [fakeSource('a')];
    for (const rank of [-1, 1.5, Number.NaN]) {
      await expect(adapterForRank(rank, ok)).rejects.toThrow(HeedError);
      await expect(adapterForRank(rank, ok)).rejects.toThrow(/localRank must be a non-negative integer/);
    }
    await expect(adapterForRank(0, [])).rejects.toThrow(/sources must be a non-empty array/);
    await expect(adapterForRank(1, [ok[0], {} as AdapterSource<string>])).rejects.toThrow(/sources\[1\] has no requestAdapter/);
    const err = await adapterForRank(3, [ok[0], fakeSource(null)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeedError);
    expect(String(err)).toMatch(/rank 3: sources\[1\]\.requestAdapter\(\) returned no adapter/);
  });
});
