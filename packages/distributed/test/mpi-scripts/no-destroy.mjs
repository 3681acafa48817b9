// SPDX-License-Identifier: MIT
// One rank of `mpirun -np N node no-destroy.mjs` (test/mpi.test.ts): joins the group through
// initProcessGroup's environment detection (no backend given), sums its rank over the group as
// a float64 host buffer and ends without destroy(); the transport's exit hook must finalize MPI
// so that mpirun reports success.
import { initProcessGroup } from '@heed/distributed';

const group = await initProcessGroup({ timeoutMs: 10_000 });
const sum = new Float64Array([group.rank]);
await group.allReduceBuffer(sum, 'sum');
console.log(`RESULT ${JSON.stringify({ rank: group.rank, backend: group.backend, sum: sum[0] })}`);
