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

const MiB = 1024 * 1024;

function arg(name, fallback) {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

async function rank(sizes, reps) {
  const { registerBackend, setBackend, tensor } = await import('@heed/core');
  const { cpuBackend } = await import('@heed/backend-cpu');
  const { initProcessGroup } = await import('@heed/distributed');
  registerBackend(cpuBackend);
  await setBackend('cpu');
  const group = await initProcessGroup({ backend: 'mpi', timeoutMs: 120_000 });
  const rows = [];
  for (const mb of sizes) {
    const n = (mb * MiB) / 4;
    const buf = new Float32Array(n).fill(group.rank + 1);
    const time = async (fn) => {
      await fn();
      await group.barrier();
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) await fn();
      const ms = (performance.now() - t0) / reps;
      const slowest = new Float64Array([ms]);
      await group.allReduceBuffer(slowest, 'max');
      return slowest[0];
    };
    const hostMs = await time(() => group.allReduceBuffer(buf, 'max'));
    const t = tensor(new Float32Array(n).fill(group.rank + 1), { shape: [n] });
    const tensorMs = await time(() => group.allReduce([t], { op: 'mean' }));
    const first = (await t.data())[0];
    t.dispose();
    if (buf[0] !== group.worldSize || Math.abs(first - (group.worldSize + 1) / 2) > 1e-6) throw new Error(`wrong all-reduce result ${buf[0]} / ${first}`);
    rows.push({ mb, hostMs, tensorMs });
  }
  await group.destroy();
  if (group.rank === 0) console.log(`ROWS ${JSON.stringify(rows)}`);
}

function memcpyGBs(mb, reps) {
  const n = (mb * MiB) / 4;
  const a = new Float32Array(n).fill(1), b = new Float32Array(n);
  b.set(a);
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) b.set(a);
  return (mb * MiB) / (((performance.now() - t0) / reps) * 1e6);
}

function main() {
  const ranksList = arg('ranks', '2').split(',').map(Number);
  const sizes = arg('sizes', '1,4,16,64');
  const reps = Number(arg('reps', '5'));
  const mca = process.argv.filter((a) => a.startsWith('--mca=')).flatMap((a) => ['--mca', ...a.slice(6).split('=')]);
  console.log(`# all-reduce over Open MPI (heed_mpi), float32, ${availableParallelism()} hardware threads, ${reps} reps, node ${process.version}${mca.length ? `, ${mca.join(' ')}` : ''}`);
  console.log('| ranks | MB | memcpy GB/s | host allReduce ms | algbw GB/s | busbw GB/s | busbw / memcpy | tensor allReduce ms | tensor algbw GB/s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const n of ranksList) {
    const r = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '-np', String(n), ...mca, process.execPath, fileURLToPath(import.meta.url),
      '--rank-mode', `--sizes=${sizes}`, `--reps=${reps}`], { encoding: 'utf8' });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('ROWS '));
    if (r.status !== 0 || line === undefined) throw new Error(`mpirun failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
    for (const row of JSON.parse(line.slice(5))) {
      const copy = memcpyGBs(row.mb, reps);
      const bytes = row.mb * MiB;
      const algbw = bytes / (row.hostMs * 1e6);
      const busbw = (algbw * 2 * (n - 1)) / n;
      console.log(`| ${n} | ${row.mb} | ${copy.toFixed(2)} | ${row.hostMs.toFixed(2)} | ${algbw.toFixed(2)} | ${busbw.toFixed(2)} | ${(busbw / copy).toFixed(2)} | ` +
        `${row.tensorMs.toFixed(2)} | ${(bytes / (row.tensorMs * 1e6)).toFixed(2)} |`);
    }
  }
}

if (process.argv.includes('--rank-mode')) await rank(arg('sizes', '1,4,16,64').split(',').map(Number), Number(arg('reps', '5')));
else main();
