// SPDX-License-Identifier: MIT
// All-reduce bandwidth of @heed/distributed's 'mpi' transport (Open MPI through the heed_mpi
// binding) beside memcpy, for 1-64 MB of float32 at 2 (and more) processes: the same columns as
// allreduce_heed.mjs (threads) — time of one all-reduce (slowest rank's mean over the reps),
// algorithm bandwidth (bytes / time), NCCL's bus bandwidth (algbw * 2 (N-1) / N) — for the
// host-array path (`allReduceBuffer`) and the tensor path (`allReduce([t])`, which also reads the
// tensor and assigns the result), plus one thread's memcpy (`Float32Array.set`) for reference.
// Usage: node bench/allreduce_mpi.mjs [--ranks=2] [--sizes=1,4,16,64] [--reps=5] [--mca=btl=self,vader]
// (starts `mpirun --oversubscribe -np N node bench/allreduce_mpi.mjs --rank-mode ...` per N;
// needs `npm run build` and `npm run build:native -w @heed/distributed`).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { arg, printTableHeader, printTableRow, measureRows } from './allreduce_common.mjs';

async function rank(sizes, reps) {
  const { registerBackend, setBackend, tensor } = await import('@heed/core');
  const { cpuBackend } = await import('@heed/backend-cpu');
  const { initProcessGroup } = await import('@heed/distributed');
  registerBackend(cpuBackend);
  await setBackend('cpu');
  const group = await initProcessGroup({ backend: 'mpi', timeoutMs: 120_000 });
  const rows = await measureRows(group, tensor, { sizes, reps, hostOp: 'max' });
  await group.destroy();
  if (group.rank === 0) console.log(`ROWS ${JSON.stringify(rows)}`);
}

function main() {
  const ranksList = arg('ranks', '2').split(',').map(Number);
  const sizes = arg('sizes', '1,4,16,64');
  const reps = Number(arg('reps', '5'));
  const mca = process.argv.filter((a) => a.startsWith('--mca=')).flatMap((a) => ['--mca', ...a.slice(6).split('=')]);
  console.log(`# all-reduce over Open MPI (heed_mpi), float32, ${availableParallelism()} hardware threads, ${reps} reps, node ${process.version}${mca.length ? `, ${mca.join(' ')}` : ''}`);
  printTableHeader();
  for (const n of ranksList) {
    const r = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(n), ...mca, process.execPath, fileURLToPath(import.meta.url),
      '--rank-mode', `--sizes=${sizes}`, `--reps=${reps}`], { encoding: 'utf8' });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('ROWS '));
    if (r.status !== 0 || line === undefined) throw new Error(`mpirun failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    for (const row of JSON.parse(line.slice(5))) printTableRow(n, row, reps);
  }
}

if (process.argv.includes('--rank-mode')) await rank(arg('sizes', '1,4,16,64').split(',').map(Number), Number(arg('reps', '5')));
else main();
