// SPDX-License-Identifier: MIT
// DistributedSampler: PyTorch 1.13's unshuffled shards (padding and dropLast; values printed by
// torch.utils.data.DistributedSampler), shuffled epochs that partition the dataset across ranks
// and depend only on (seed, epoch), one rank = the DataLoader's own seeded order, the shard
// view feeding a DataLoader (re-read after setEpoch), and errors.
import { describe, expect, it } from 'vitest';
import { HeedError, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { DataLoader, DistributedSampler, type Dataset } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const range = (n: number): Dataset<number> => ({ length: n, get: (i) => i });
const shards = (n: number, R: number, o: { shuffle?: boolean; dropLast?: boolean; seed?: number } = {}, epoch = 0) =>
  Array.from({ length: R }, (_, rank) => new DistributedSampler(n, { numReplicas: R, rank, ...o }).indices(epoch));

describe('DistributedSampler', () => {
  it('matches PyTorch without shuffling: strided shards, padded by repeating the first indices, or dropLast', () => {
    expect(shards(10, 4, { shuffle: false })).toEqual([[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]);
    expect(shards(10, 4, { shuffle: false, dropLast: true })).toEqual([[0, 4], [1, 5], [2, 6], [3, 7]]);
    expect(shards(3, 4, { shuffle: false })).toEqual([[0], [1], [2], [0]]);
    expect(new DistributedSampler(10, { numReplicas: 4, rank: 0 }).length).toBe(3);
    expect(new DistributedSampler(10, { numReplicas: 4, rank: 0, dropLast: true }).totalSize).toBe(8);
  });

  it('shuffles per epoch identically on every rank: the shards partition the dataset, reproducible from (seed, epoch)', () => {
    const e0 = shards(12, 4, { seed: 3 }, 0);
    const e1 = shards(12, 4, { seed: 3 }, 1);
    for (const e of [e0, e1]) expect(e.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(e1).not.toEqual(e0);
    expect(shards(12, 4, { seed: 3 }, 1)).toEqual(e1);
    expect(shards(12, 4, { seed: 4 }, 1)).not.toEqual(e1);
    expect(e0.flat()).not.toEqual(shards(12, 4, { shuffle: false }).flat());
    // One rank is the DataLoader's own seeded order of that epoch.
    const loader = new DataLoader(range(12), { batchSize: 5, shuffle: true, seed: 3 });
    expect(shards(12, 1, { seed: 3 }, 2)[0]).toEqual(loader.batchIndices(2).flat());
  });

  it('feeds the DataLoader through shard(), following setEpoch', async () => {
    const sampler = new DistributedSampler(10, { numReplicas: 2, rank: 1, seed: 9 });
    const loader = new DataLoader(sampler.shard(range(10)), { batchSize: 2, collate: (items: number[]) => items });
    expect(loader.length).toBe(3);
    for (const epoch of [0, 1]) {
      sampler.setEpoch(epoch);
      const got: number[] = [];
      for await (const b of loader) got.push(...b);
      expect(got).toEqual(sampler.indices(epoch));
    }
    expect(sampler.indices(0)).not.toEqual(sampler.indices(1));
  });

  it('refuses bad ranks, options and a dataset of another length', () => {
    expect(() => new DistributedSampler(10, { numReplicas: 2, rank: 2 })).toThrow(/rank 2 is out of range/);
    expect(() => new DistributedSampler(10, { numReplicas: 0, rank: 0 })).toThrow(HeedError);
    expect(() => new DistributedSampler(1, { numReplicas: 2, rank: 0, dropLast: true })).toThrow(/dropLast leaves no items/);
    const s = new DistributedSampler(10, { numReplicas: 2, rank: 0 });
    expect(() => s.shard(range(9))).toThrow(/9 items but the sampler was made for 10/);
    expect(() => s.setEpoch(-1)).toThrow(HeedError);
  });
});
