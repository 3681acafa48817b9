// SPDX-License-Identifier: MIT
// One rank of `mpirun -np N node mismatch.mjs` (test/mpi.test.ts): rank 1 calls a collective
// that does not match the others' — a different length, a different collective, a different
// op, a different broadcast source — and every rank must reject at once with a DistributedError
// that names a mismatching rank and says what each called; then the group must still work.
// Prints `RESULT {json}` with each case's error (name, blamed rank, message, ms).
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { initProcessGroup } from '@heed/distributed';

registerBackend(cpuBackend);
await setBackend('cpu');
const group = await initProcessGroup({ backend: 'mpi', timeoutMs: 20_000 });
const odd = group.rank === 1;
const cases = {
  length: () => group.allReduceBuffer(new Float32Array(odd ? 14 : 10), 'sum'),
  collective: () => (odd ? group.barrier() : group.allReduceBuffer(new Float64Array(3), 'sum')),
  op: () => group.allReduceBuffer(new Float32Array(4), odd ? 'max' : 'mean'),
  source: () => group.broadcast([tensor([1, 2])], { src: odd ? 1 : 0 }),
};
const caught = {};
for (const [name, run] of Object.entries(cases)) {
  const start = Date.now();
  try {
    await run();
    caught[name] = { name: 'none' };
  } catch (e) {
    caught[name] = { name: e.name, blamed: e.rank, message: e.message, ms: Date.now() - start };
  }
}
const sum = new Float64Array([group.rank]);
await group.allReduceBuffer(sum, 'sum');
await group.destroy();
console.log(`RESULT ${JSON.stringify({ rank: group.rank, caught, sum: sum[0] })}`);
