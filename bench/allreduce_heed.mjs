// SPDX-License-Identifier: MIT
// All-reduce bandwidth of @heed/distributed's threads transport beside memcpy, for 1-64 MB of
// float32 at 2 and 4 ranks (worker_threads over one SharedArrayBuffer slab). For each size it
// prints the time of one all-reduce (the slowest rank's mean over the reps), the algorithm
// bandwidth (bytes / time) and NCCL's bus bandwidth (algbw * 2 (N-1) / N: the bytes every
// rank must move in a ring), for the host-array path (`allReduceBuffer`) and the tensor path
// (`allReduce([t])`, which also reads the tensor and assigns the result), and the memcpy
// bandwidth of one thread (`Float32Array.set`) for reference.
// Usage: node bench/allreduce_heed.mjs [--ranks=2,4] [--sizes=1,4,16,64] [--reps=5] [--slab=25] [--json]
// (sizes and slab region in MiB, default the library's 25; needs `npm run build`). This file is also the workers' script.
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { MiB, arg, measureRows, printTableHeader, printTableRow } from './allreduce_common.mjs';

async function rank() {
  const { registerBackend, setBackend, tensor } = await import('@heed/core');
  const { cpuBackend } = await import('@heed/backend-cpu');
  const { runWorker } = await import('@heed/distributed');
  registerBackend(cpuBackend);
  await setBackend('cpu');
  await runWorker((group, { sizes, reps }) => measureRows(group, tensor, { sizes, reps, hostOp: 'sum' }));
}

async function main() {
  const { spawnThreads } = await import('@heed/distributed/node');
  const { availableParallelism } = await import('node:os');
  const ranksList = arg('ranks', '2,4').split(',').map(Number);
  const sizes = arg('sizes', '1,4,16,64').split(',').map(Number);
  const reps = Number(arg('reps', '5'));
  const slabBytes = Number(arg('slab', '25')) * MiB;
  const json = process.argv.includes('--json');
  const out = [];
  console.log(`# all-reduce, float32, ${availableParallelism()} hardware threads, slab region ${slabBytes / MiB} MiB, ${reps} reps, node ${process.version}`);
  printTableHeader();
  for (const n of ranksList) {
    const results = await spawnThreads(n, fileURLToPath(import.meta.url), { workerData: { sizes, reps }, slabBytes, timeoutMs: 120_000, cpuThreads: 1 });
    for (const row of results[0]) out.push(printTableRow(n, row, reps));
  }
  if (json) console.log(`RESULT ${JSON.stringify(out)}`);
}

if (isMainThread) await main();
else await rank();
