// SPDX-License-Identifier: MIT
// One rank of `mpirun -np N node failure.mjs <mode> [timeoutMs]` (test/mpi.test.ts): after one
// good allReduce, rank 1 misbehaves — `throw` (uncaught error), `exit` (process.exit(3)), `hang`
// (never calls the next collective; its event loop stays alive), `busy` (an endless loop on the
// JS thread), `kill` (SIGKILL: no chance to say anything) — while every other rank calls the
// next allReduce. A surviving rank prints `CAUGHT {json}` with the error it got (name, blamed
// rank, message, ms after the call, timer ticks while it waited) and exits 1; in `kill` mode mpirun stops the survivors
// (SIGTERM) and the transport's hook prints the DistributedError instead.
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { initProcessGroup } from '@heed/distributed';

const mode = process.argv[2];
const timeoutMs = Number(process.argv[3] ?? 2000);
registerBackend(cpuBackend);
await setBackend('cpu');
const group = await initProcessGroup({ backend: 'mpi', timeoutMs });
const t = tensor(new Float32Array(1000).fill(group.rank + 1), { shape: [1000] });
await group.allReduce([t]);
if (group.rank === 1) {
  if (mode === 'throw') throw new Error('boom from rank 1');
  if (mode === 'exit') process.exit(3);
  if (mode === 'hang') {
    setInterval(() => {}, 1000);
    await new Promise(() => {});
  }
  if (mode === 'busy') for (;;);
  if (mode === 'kill') process.kill(process.pid, 'SIGKILL');
}
if (mode === 'kill' && group.rank !== 1) setInterval(() => {}, 1000); // keep waiting: mpirun stops us
const start = Date.now();
let ticks = 0; // the collective waits on the binding's thread: this rank's event loop keeps running
const ticker = setInterval(() => ticks++, 50);
try {
  await group.allReduce([t]);
  console.log(`CAUGHT ${JSON.stringify({ rank: group.rank, name: 'none' })}`);
} catch (e) {
  clearInterval(ticker);
  console.log(`CAUGHT ${JSON.stringify({ rank: group.rank, name: e.name, blamed: e.rank, message: e.message, ms: Date.now() - start, ticks })}`);
  process.exitCode = 1;
}
