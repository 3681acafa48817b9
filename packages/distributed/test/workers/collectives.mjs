// SPDX-License-Identifier: MIT
// A rank of the threads tests (runs in a worker_thread, on the built packages): runs every
// collective on the inputs of inputs.mjs and returns the results (typed arrays, so NaNs and
// bits survive), plus the live-tensor count before and after, for the leak check.
import { registerBackend, setBackend, tensor, memory } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { runWorker } from '@heed/distributed';
import { ints, values } from './inputs.mjs';

registerBackend(cpuBackend);
await setBackend('cpu');

const OPS = ['sum', 'mean', 'max', 'min'];

runWorker(async (group, data) => {
  const { sizes, bucketCount, bigSize } = data;
  const { rank, worldSize } = group;
  const before = memory().numTensors;
  const out = {};
  for (const op of OPS) {
    const ts = sizes.map((n, i) => tensor(values(rank, i, n), { shape: [n] }));
    if (op === 'max' || op === 'min') ts.splice(1, 1, tensor(values(rank, 1, sizes[1]).map((v, i) => (i === 2 && rank === worldSize - 1 ? NaN : v)), { shape: [sizes[1]] }))[0].dispose();
    await group.allReduce(ts, { op });
    out[`allReduce-${op}`] = await Promise.all(ts.map((t) => t.data()));
    ts.forEach((t) => t.dispose());
  }
  const it = tensor(ints(rank, 0, 37), { shape: [37], dtype: 'int32' });
  await group.allReduce([it]);
  out['allReduce-int32'] = [await it.data()];
  it.dispose();
  // Many small tensors in small buckets, of two dtypes interleaved.
  const many = Array.from({ length: bucketCount }, (_, i) => i % 5 === 4
    ? tensor(ints(rank, 100 + i, 1 + (i % 9)), { shape: [1 + (i % 9)], dtype: 'int32' })
    : tensor(values(rank, 100 + i, 1 + (i % 9)), { shape: [1 + (i % 9)] }));
  await group.allReduce(many, { op: 'sum', bucketBytes: 64 });
  out.bucketed = await Promise.all(many.map((t) => t.data()));
  many.forEach((t) => t.dispose());
  // Bigger than one slab region: runs in chunks.
  const big = tensor(values(rank, 7, bigSize), { shape: [bigSize] });
  await group.allReduce([big], { op: 'mean' });
  out.big = [await big.data()];
  big.dispose();
  // Collectives launched without awaiting each (as DDP does from its backward hooks) run one
  // after the other in call order.
  const launched = [0, 1, 2].map((i) => tensor(values(rank, 20 + i, bigSize + i), { shape: [bigSize + i] }));
  const toGather = tensor(values(rank, 23, 9), { shape: [9] });
  const gatherLaunched = group.allGather(toGather);
  await Promise.all([...launched.map((t) => group.allReduce([t], { op: 'sum' })), gatherLaunched]);
  out.concurrent = await Promise.all(launched.map((t) => t.data()));
  const gl = await gatherLaunched;
  out.concurrentGather = await Promise.all(gl.map((p) => p.data()));
  [...launched, ...gl, toGather].forEach((t) => t.dispose());
  // broadcast from the last rank, in place.
  const b = tensor(values(rank, 8, 11), { shape: [11] });
  await group.broadcast([b], { src: worldSize - 1 });
  out.broadcast = [await b.data()];
  b.dispose();
  // allGather of an odd-sized 2-D tensor and of a big one.
  for (const [key, n] of [['allGather', 5], ['allGatherBig', bigSize]]) {
    const g = tensor(values(rank, 9, n), { shape: [1, n] });
    const parts = await group.allGather(g);
    out[key] = await Promise.all(parts.map((p) => p.data()));
    parts.forEach((p) => p.dispose());
    g.dispose();
  }
  // reduceScatter: [worldSize * 3, 2] -> [3, 2], and a big one.
  for (const op of OPS) {
    const r = tensor(values(rank, 10, worldSize * 6), { shape: [worldSize * 3, 2] });
    const mine = await group.reduceScatter(r, { op });
    out[`reduceScatter-${op}`] = [await mine.data()];
    mine.dispose();
    r.dispose();
  }
  const rb = tensor(values(rank, 11, worldSize * bigSize), { shape: [worldSize * bigSize] });
  const rbMine = await group.reduceScatter(rb);
  out.reduceScatterBig = [await rbMine.data()];
  rbMine.dispose();
  rb.dispose();
  // Empty tensors take part without exchanging anything.
  const empty = tensor([], { shape: [0, 3] });
  await group.allReduce([empty]);
  const emptyParts = await group.allGather(empty);
  out.emptyShapes = emptyParts.map((p) => p.shape);
  emptyParts.forEach((p) => p.dispose());
  empty.dispose();
  const host = new Float64Array([rank + 0.5, 2 ** 40 + rank]);
  await group.allReduceBuffer(host, 'sum');
  out.buffer = [host];
  await group.barrier();
  return { rank, out, leaked: memory().numTensors - before };
});
