// SPDX-License-Identifier: MIT
// A rank of the browser test (a module Web Worker started by spawnWorkers): its own CPU
// backend, an allReduce and an allGather; with mode 'throw' rank 1 throws after the first
// collective while the others wait in the next one, with mode 'hang' it blocks forever there.
import { registerBackend, setBackend, tensor } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { runWorker } from '@heed/distributed';

registerBackend({ name: 'cpu', priority: 1, create: () => new CpuBackend({ threads: 1 }) });
await setBackend('cpu');

void runWorker(async (group, data, info) => {
  const { mode } = data as { mode: 'ok' | 'throw' | 'hang' };
  const t = tensor([group.rank + 1, 0.1 * group.rank, -1]);
  await group.allReduce([t], { op: 'sum' });
  const sum = Array.from(await t.data());
  if (mode === 'throw' && group.rank === 1) throw new Error('boom in the browser');
  if (mode === 'hang' && group.rank === 1) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // never returns
  const parts = await group.allGather(tensor([group.rank * 10, 7]));
  const gathered = await Promise.all(parts.map(async (p) => Array.from(await p.data())));
  return { rank: group.rank, worldSize: group.worldSize, sum, gathered, cpuThreads: info.cpuThreads };
});
