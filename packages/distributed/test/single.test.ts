// SPDX-License-Identifier: MIT
// The 1-rank group and the shared tensor layer's validation: initProcessGroup() outside any
// launcher is 'single', every collective is the identity (values checked), results are new
// tensors or in-place assigns, bad input is a HeedError naming the op and nothing leaks.
import { beforeAll, describe, expect, it } from 'vitest';
import { HeedError, memory, ones, registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { envRankInfo, initProcessGroup } from '@heed/distributed';

beforeAll(async () => {
  registerBackend(cpuBackend);
  await setBackend('cpu');
});

describe('single group', () => {
  it('is the default outside a launcher and every collective is the identity', async () => {
    expect(envRankInfo()).toBeNull();
    const g = await initProcessGroup();
    expect([g.rank, g.worldSize, g.backend]).toEqual([0, 1, 'single']);
    const before = memory().numTensors;
    const a = tensor([1.5, -2, 3]);
    const b = tensor([[1, 2], [3, 4]], { dtype: 'int32' });
    await g.allReduce([a, b], { op: 'sum' });
    await g.allReduce([a], { op: 'mean' });
    expect(Array.from(await a.data())).toEqual([1.5, -2, 3]);
    expect(Array.from(await b.data())).toEqual([1, 2, 3, 4]);
    await g.broadcast([a]);
    const gathered = await g.allGather(a);
    expect(gathered).toHaveLength(1);
    expect(Array.from(await gathered[0].data())).toEqual([1.5, -2, 3]);
    const rs = await g.reduceScatter(b);
    expect(rs.shape).toEqual([2, 2]);
    expect(Array.from(await rs.data())).toEqual([1, 2, 3, 4]);
    const host = new Float64Array([2 ** 40 + 1]);
    await g.allReduceBuffer!(host, 'sum');
    expect(host[0]).toBe(2 ** 40 + 1);
    await g.barrier();
    for (const t of [a, b, rs, ...gathered]) t.dispose();
    expect(memory().numTensors).toBe(before);
    await g.destroy();
    await expect(g.barrier()).rejects.toThrow(/destroyed/);
  });

  it('rejects bad input with a HeedError naming the op and the fix', async () => {
    const g = await initProcessGroup({ backend: 'single' });
    const x = ones([2]);
    await expect(g.allReduce([tensor([true, false])])).rejects.toThrow(/allReduce: tensor 0 \[2\] is bool; only float32 and int32/);
    await expect(g.allReduce([tensor([1, 2], { dtype: 'int32' })], { op: 'mean' })).rejects.toThrow(/op 'mean' needs float32 tensors/);
    await expect(g.allReduce([x], { op: 'prod' as never })).rejects.toThrow(/unknown reduce op "prod"/);
    const w = ones([2], { requiresGrad: true });
    const y = w.mul(2);
    await expect(g.allReduce([y])).rejects.toThrow(/is not a leaf/);
    y.dispose();
    w.dispose();
    await expect(g.reduceScatter(tensor(3))).rejects.toThrow(HeedError);
    await expect(g.broadcast([x], { src: 1 })).rejects.toThrow(/src 1 is not a rank of this group \(0..0\)/);
    await expect(initProcessGroup({ backend: 'gloo' as never })).rejects.toThrow(/unknown backend 'gloo'/);
    await expect(initProcessGroup({ backend: 'threads' })).rejects.toThrow(/only works inside a worker started by spawnThreads/);
    await expect(initProcessGroup({ timeoutMs: -1 })).rejects.toThrow(/timeoutMs must be a positive/);
    expect(Array.from(await x.data())).toEqual([1, 1]);
    x.dispose();
  });

  it("reads rank and world size from torchrun's and Open MPI's variables (MPI's win), and rejects malformed ones", () => {
    const keys = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE', 'OMPI_COMM_WORLD_LOCAL_RANK', 'OMPI_COMM_WORLD_LOCAL_SIZE'];
    const saved = keys.map((k) => process.env[k]);
    const set = (vars: Record<string, string>) => { for (const k of keys) delete process.env[k]; Object.assign(process.env, vars); };
    try {
      set({ RANK: '3', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2' });
      expect(envRankInfo()).toEqual({ rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, launcher: 'torchrun' });
      set({ RANK: '2', WORLD_SIZE: '8' });
      expect(envRankInfo()).toEqual({ rank: 2, worldSize: 8, localRank: 2, localWorldSize: 8, launcher: 'torchrun' });
      set({ OMPI_COMM_WORLD_RANK: '1', OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_LOCAL_RANK: '0', RANK: '5', WORLD_SIZE: '9' });
      expect(envRankInfo()).toEqual({ rank: 1, worldSize: 2, localRank: 0, localWorldSize: 2, launcher: 'mpi' });
      // Two hosts of two ranks each: a rank shares its machine's cores with one other rank, not three.
      set({ OMPI_COMM_WORLD_RANK: '3', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '1', OMPI_COMM_WORLD_LOCAL_SIZE: '2' });
      expect(envRankInfo()).toEqual({ rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2, launcher: 'mpi' });
      set({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_SIZE: 'x' });
      expect(() => envRankInfo()).toThrow(/OMPI_COMM_WORLD_LOCAL_SIZE='x' is not a non-negative integer/);
      set({ WORLD_SIZE: 'four' });
      expect(() => envRankInfo()).toThrow(/initProcessGroup: environment variable WORLD_SIZE='four' is not a non-negative integer/);
    } finally {
      keys.forEach((k, i) => { if (saved[i] === undefined) delete process.env[k]; else process.env[k] = saved[i]; });
    }
    expect(envRankInfo()).toBeNull();
  });
});

