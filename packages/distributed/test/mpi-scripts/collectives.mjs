// SPDX-License-Identifier: MIT
// One rank of `mpirun -np N node collectives.mjs [timeoutMs]` (run by test/mpi.test.ts on the
// built dist): every collective of the 'mpi' group on the CPU backend, checked bit for bit
// against a JS oracle that regenerates every rank's inputs from per-rank seeds and folds them in
// rank order 0..N-1 (float32 rounding after every rank via Math.fround), and against the
// threads transport's reduction kernel (combineInto/finishReduce) on the same inputs, so both
// transports give the same bits. Float32 sums of values of very different magnitudes make the
// order visible. Prints one `RESULT {json}` line; the
// test also compares the result digests across ranks.
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { combineInto, finishReduce, initProcessGroup } from '@heed/distributed';

const timeoutMs = Number(process.argv[2] ?? 5000);
registerBackend(cpuBackend);
await setBackend('cpu');
const group = await initProcessGroup({ timeoutMs });
const { rank, worldSize: N } = group;
const checks = [];
let digest = 0x811c9dc5;

/** Deterministic values for (rank, stream): mixed magnitudes and signs, some exact integers. */
function values(r, stream, n) {
  let s = (r * 7919 + stream * 104729 + 1) >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = (u - 0.5) * 10 ** ((i + r) % 9 - 4);
  }
  return out;
}

function bitsOf(a) {
  return a instanceof Float64Array ? new Uint32Array(a.buffer, a.byteOffset, a.length * 2) : new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Bitwise comparison; results that every rank shares also go into the digest compared across ranks. */
function check(name, got, want, shared = true) {
  const g = bitsOf(got), w = bitsOf(want);
  let bad = g.length !== w.length ? 0 : -1;
  for (let i = 0; bad < 0 && i < g.length; i++) if (g[i] !== w[i]) bad = i;
  if (shared) for (const x of g) digest = Math.imul(digest ^ x, 16777619) >>> 0;
  checks.push({ name, ok: bad < 0, ...(bad >= 0 ? { at: bad, got: Array.from(got.slice(0, 4)), want: Array.from(want.slice(0, 4)) } : {}) });
}

/** Oracle fold in rank order with the group's combine rules (NaN wins, ties keep the earlier rank). */
function fold(op, arrays, ctor) {
  const round = ctor === Float32Array ? Math.fround : ctor === Int32Array ? (x) => x | 0 : (x) => x;
  const acc = arrays[0].map(round);
  for (let r = 1; r < arrays.length; r++) {
    for (let i = 0; i < acc.length; i++) {
      const a = acc[i], v = round(arrays[r][i]);
      if (op === 'sum' || op === 'mean') acc[i] = round(a + v);
      else if (op === 'max') acc[i] = v > a || v !== v ? v : a;
      else acc[i] = v < a || v !== v ? v : a;
    }
  }
  if (op === 'mean') for (let i = 0; i < acc.length; i++) acc[i] = round(acc[i] / arrays.length);
  return ctor.from(acc);
}

/** What the threads transport computes: its reduction kernel (src/reduce.ts) over the ranks in order. */
function threadsKernel(op, arrays, ctor) {
  const acc = ctor.from(arrays[0]);
  for (let r = 1; r < arrays.length; r++) combineInto(op, acc, 0, ctor.from(arrays[r]), 0, acc.length);
  finishReduce(op, acc, 0, acc.length, arrays.length);
  return acc;
}

const all = (stream, n) => Array.from({ length: N }, (_, r) => values(r, stream, n));

// allReduce on tensors of several sizes (0, 1 < N, odd, large), three buckets by bucketBytes.
for (const op of ['sum', 'mean', 'max', 'min']) {
  const sizes = [0, 1, 3, 1000, 70001];
  const ts = sizes.map((n, k) => tensor(Float32Array.from(values(rank, 10 + k, n)), { shape: [n] }));
  await group.allReduce(ts, { op, bucketBytes: 4096 });
  for (let k = 0; k < sizes.length; k++) {
    const got = await ts[k].data();
    check(`allReduce ${op} f32 [${sizes[k]}]`, got, fold(op, all(10 + k, sizes[k]).map((a) => Float32Array.from(a)), Float32Array));
    check(`allReduce ${op} f32 [${sizes[k]}] = threads kernel`, got, threadsKernel(op, all(10 + k, sizes[k]), Float32Array), false);
  }
}

// NaN, infinities and signed zeros through max/min (ties: the earlier rank's zero stays).
{
  const special = (r) => Float32Array.from([r === 1 ? NaN : r, r % 2 ? -0 : 0, r === 0 ? Infinity : -r, -Infinity, r === N - 1 ? NaN : 0.5]);
  for (const op of ['max', 'min', 'sum']) {
    const t = tensor(special(rank), { shape: [5] });
    await group.allReduce([t], { op });
    const got = await t.data();
    check(`allReduce ${op} special`, got, fold(op, Array.from({ length: N }, (_, r) => special(r)), Float32Array));
    check(`allReduce ${op} special = threads kernel`, got, threadsKernel(op, Array.from({ length: N }, (_, r) => special(r)), Float32Array), false);
  }
}

// int32 tensors (sum wraps like an Int32Array), and host buffers: float64 and int32.
{
  const ints = (r) => Int32Array.from([r, -r * 3, 2 ** 31 - 1 - r, r * 1000003]);
  const t = tensor(ints(rank), { shape: [4], dtype: 'int32' });
  await group.allReduce([t], { op: 'sum' });
  check('allReduce sum i32', await t.data(), fold('sum', Array.from({ length: N }, (_, r) => ints(r)), Int32Array));
  const f64 = values(rank, 30, 257);
  await group.allReduceBuffer(f64, 'sum');
  check('allReduceBuffer sum f64', f64, fold('sum', all(30, 257), Float64Array));
  const counts = Int32Array.from([rank + 1, 7]);
  await group.allReduceBuffer(counts, 'max');
  check('allReduceBuffer max i32', counts, Int32Array.from([N, 7]));
}

// broadcast from the last rank, allGather, reduceScatter, barrier.
{
  const src = N - 1;
  const a = tensor(Float32Array.from(values(rank, 40, 33)), { shape: [3, 11] });
  const b = tensor(Int32Array.from([rank, rank * 2]), { shape: [2], dtype: 'int32' });
  await group.broadcast([a, b], { src });
  check('broadcast f32', await a.data(), Float32Array.from(values(src, 40, 33)));
  check('broadcast i32', await b.data(), Int32Array.from([src, src * 2]));
  const g = await group.allGather(tensor(Float32Array.from(values(rank, 50, 6)), { shape: [2, 3] }));
  for (let r = 0; r < N; r++) check(`allGather from ${r}`, await g[r].data(), Float32Array.from(values(r, 50, 6)));
  const rows = 2 * N;
  const x = tensor(Float32Array.from(values(rank, 60, rows * 5)), { shape: [rows, 5] });
  const mine = await group.reduceScatter(x, { op: 'sum' });
  const whole = fold('sum', all(60, rows * 5).map((v) => Float32Array.from(v)), Float32Array);
  check('reduceScatter sum', await mine.data(), whole.slice(rank * 10, rank * 10 + 10), false);
  if (JSON.stringify(mine.shape) !== JSON.stringify([2, 5])) checks.push({ name: 'reduceScatter shape', ok: false, got: mine.shape });
  await group.barrier();
}

// Bad input is refused on every rank before anything is exchanged; the group still works after it.
{
  let message = '';
  try {
    await group.reduceScatter(tensor(new Float32Array(N + 1), { shape: [N + 1] }));
  } catch (e) {
    message = String(e.message);
  }
  checks.push({ name: 'reduceScatter refuses a non-divisible shape', ok: /divisible by the world size/.test(message), message });
  const t = tensor(Float32Array.from([rank]), { shape: [1] });
  await group.allReduce([t]);
  check('allReduce after a refused call', await t.data(), Float32Array.from([(N * (N - 1)) / 2]));
}

await group.destroy();
console.log(`RESULT ${JSON.stringify({ rank, worldSize: N, backend: group.backend, digest, failed: checks.filter((c) => !c.ok), checks: checks.length })}`);
