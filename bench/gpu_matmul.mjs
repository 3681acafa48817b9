// SPDX-License-Identifier: MIT
// fp32 matmul throughput at large sizes (default 1024-8192) on one backend, for the GPU machine
// (`bench/gpu.sh`): per size, inputs made once on the device, K back-to-back matmuls then one
// readback (the peers harness's measure()), GFLOP/s = 2 n^3 / time, and a spot check of C against
// a float64 dot product of the same rows/columns. One `RESULT {json}` line per size.
// usage: node bench/gpu_matmul.mjs [--backend=webgpu|cpu] [--sizes=1024,2048,4096,8192]
import { parseArgs, measure, emit } from '../../shared/peers/lib/common.mjs';
import { setupHeed, sync } from './heed_setup.mjs';

const args = parseArgs();
const sizes = String(args.sizes ?? '1024,2048,4096,8192').split(',').map(Number);
const { heed, backend, meta } = await setupHeed(args);

/** Deterministic inputs in [-1, 1): a cheap LCG, so no host RNG dominates at 8192. */
function inputs(n, seed) {
  const out = new Float32Array(n * n);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

for (const n of sizes) {
  const a = inputs(n, 1), b = inputs(n, 2);
  const A = heed.tensor(a, { shape: [n, n] }), B = heed.tensor(b, { shape: [n, n] });
  let last = null;
  const r = await measure(async (K) => {
    for (let k = 0; k < K; k++) {
      last?.dispose();
      last = heed.matmul(A, B);
    }
    await sync(backend, last);
  }, { maxK: 16, budgetMs: 6000, reps: 7, minReps: 3 });
  const out = await last.data();
  let check = 'ok';
  for (const [i, j] of [[0, 0], [n - 1, n - 1], [n >> 1, 3]]) {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
    if (Math.abs(out[i * n + j] - s) > 1e-3 * (1 + Math.abs(s)) * Math.sqrt(n / 64)) check = `C[${i},${j}]=${out[i * n + j]} expected ${s}`;
  }
  emit({ ...meta, kind: 'ops', op: 'matmul', size: String(n), medianMs: r.median, gflops: (2 * n ** 3) / (r.median * 1e6), check });
  last.dispose(); last = null;
  A.dispose(); B.dispose();
}
