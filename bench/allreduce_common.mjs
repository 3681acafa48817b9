// SPDX-License-Identifier: MIT
// Shared parts of the all-reduce benchmarks (allreduce_heed.mjs: threads transport,
// allreduce_mpi.mjs: Open MPI): `--name=value` flags, the per-rank timing of one all-reduce
// (slowest rank's mean over the reps), one thread's memcpy bandwidth for reference, and the
// Markdown table both print (algorithm bandwidth bytes / time and NCCL's bus bandwidth
// algbw * 2 (N-1) / N). Imports nothing, so a worker can load it before choosing a backend.

export const MiB = 1024 * 1024;

/** The value of `--name=value` on the command line, else `fallback`. */
export function arg(name, fallback) {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/**
 * Mean ms of `fn` over `reps` calls after one warm-up and a barrier, maxed over the ranks of
 * `group` (every rank gets the slowest rank's time).
 */
export async function timeAllReduce(group, reps, fn) {
  await fn();
  await group.barrier();
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) await fn();
  const ms = (performance.now() - t0) / reps;
  const slowest = new Float64Array([ms]);
  await group.allReduceBuffer(slowest, 'max');
  return slowest[0];
}

/**
 * One rank's rows `{ mb, hostMs, tensorMs }` for each size in MiB: the host path
 * (`allReduceBuffer(buf, hostOp)`) and the tensor path (`allReduce([t], { op: 'mean' })`) on
 * float32 arrays filled with rank + 1, timed by {@link timeAllReduce}. Checks the results once:
 * the tensor holds the mean of 1..N, and for hostOp 'max' the buffer holds N ('sum' grows with
 * the reps and is not checked). `tensor` is @heed/core's, loaded by the caller.
 */
export async function measureRows(group, tensor, { sizes, reps, hostOp }) {
  const rows = [];
  for (const mb of sizes) {
    const n = (mb * MiB) / 4;
    const buf = new Float32Array(n).fill(group.rank + 1);
    const hostMs = await timeAllReduce(group, reps, () => group.allReduceBuffer(buf, hostOp));
    const t = tensor(new Float32Array(n).fill(group.rank + 1), { shape: [n] });
    // mean keeps the values bounded; every element ends as the mean of 1..N.
    const tensorMs = await timeAllReduce(group, reps, () => group.allReduce([t], { op: 'mean' }));
    const first = (await t.data())[0];
    t.dispose();
    if ((hostOp === 'max' && buf[0] !== group.worldSize) || Math.abs(first - (group.worldSize + 1) / 2) > 1e-6) {
      throw new Error(`wrong all-reduce result: host ${buf[0]} (${hostOp}), tensor ${first} (mean)`);
    }
    rows.push({ mb, hostMs, tensorMs });
  }
  return rows;
}

/** GB/s of one thread's `Float32Array.set` of `mb` MiB (mean over `reps` after a warm-up). */
export function memcpyGBs(mb, reps) {
  const n = (mb * MiB) / 4;
  const a = new Float32Array(n).fill(1), b = new Float32Array(n);
  b.set(a);
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) b.set(a);
  return (mb * MiB) / (((performance.now() - t0) / reps) * 1e6);
}

/** Prints the header of the results table. */
export function printTableHeader() {
  console.log('| ranks | MB | memcpy GB/s | host allReduce ms | algbw GB/s | busbw GB/s | busbw / memcpy | tensor allReduce ms | tensor algbw GB/s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
}

/**
 * Measures memcpy for one `{ mb, hostMs, tensorMs }` row of `ranks` ranks, prints its table line
 * and returns the record { ranks, mb, memcpyGBs, hostMs, algbw, busbw, tensorMs, tensorAlgbw }.
 */
export function printTableRow(ranks, row, reps) {
  const copy = memcpyGBs(row.mb, reps);
  const bytes = row.mb * MiB;
  const algbw = bytes / (row.hostMs * 1e6);
  const busbw = (algbw * 2 * (ranks - 1)) / ranks;
  const tensorAlgbw = bytes / (row.tensorMs * 1e6);
  console.log(`| ${ranks} | ${row.mb} | ${copy.toFixed(2)} | ${row.hostMs.toFixed(2)} | ${algbw.toFixed(2)} | ${busbw.toFixed(2)} | ${(busbw / copy).toFixed(2)} | ` +
    `${row.tensorMs.toFixed(2)} | ${tensorAlgbw.toFixed(2)} |`);
  return { ranks, mb: row.mb, memcpyGBs: copy, hostMs: row.hostMs, algbw, busbw, tensorMs: row.tensorMs, tensorAlgbw };
}
