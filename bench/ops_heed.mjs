// SPDX-License-Identifier: MIT
// Heed micro benchmarks for the peers harness (../shared/peers): fp32 matmul 128-1024 (plain,
// A^T B and A B^T), elementwise relu(x*a + b) at 1M/4M, softmax over the last axis of
// [16, 512, 512]. Same inputs, timing loop (measure()) and checks as the peers; one
// `RESULT {json}` line per figure.
// usage: node bench/ops_heed.mjs --op=matmul|elementwise|softmax [--backend=cpu|webgpu]
//        CPU debug flags: --threads=N  --reference (plain JS kernels)  --simd=simd|relaxed
import { parseArgs, measure, emit, peakRssMB } from '../../shared/peers/lib/common.mjs';
import * as C from '../../shared/peers/lib/cases.mjs';
import { setupHeed, sync } from './heed_setup.mjs';

const args = parseArgs();
const op = args.op || 'matmul';
const { heed, backend, meta } = await setupHeed(args);
const lazy = Boolean(args.lazy);

const close = (x, y, tol) => Math.abs(x - y) <= tol * (1 + Math.abs(y));
/** Spot check of C = op(A) op(B) where A[i,k] = a[ta ? k*n+i : i*n+k], B[k,j] = b[tb ? j*n+k : k*n+j]. */
function checkMatmulLayout(n, a, b, out, ta, tb) {
  for (const i of [0, n - 1]) for (const j of [0, 1, n >> 1, n - 1]) {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[ta ? k * n + i : i * n + k] * b[tb ? j * n + k : k * n + j];
    if (!close(out[i * n + j], s, 1e-3)) return `C[${i},${j}]=${out[i * n + j]} expected ${s}`;
  }
  return 'ok';
}

/** K ops per sample, previous output disposed, then a sync on the last output. */
function batchRunner(fn) {
  return async (K) => {
    let last = null;
    for (let i = 0; i < K; i++) {
      if (last) {
        if (lazy) await heed.flush(); // lazy: compute each result (a freed one would be skipped)
        last.dispose();
      }
      last = fn();
    }
    await sync(backend, last);
    last.dispose();
  };
}

async function runCase(name, mode, size, fn, work, check) {
  const r = await measure(batchRunner(fn));
  const out = fn();
  const data = await out.data();
  out.dispose();
  const rec = {
    ...meta, suite: 'ops', op: name, mode, size, ms: r.median, ms_min: r.min, ms_max: r.max, reps: r.n, K: r.K,
    first_call_ms: r.firstCallMs, samples_ms: r.perOpMs, check: check(data),
  };
  if (work.flops) rec.gflops = work.flops / (r.median * 1e6);
  if (work.bytes) rec.gbps = work.bytes / (r.median * 1e6);
  emit(rec);
}

if (op === 'matmul') {
  for (const n of C.MATMUL_SIZES) {
    const { a, b } = C.matmulInputs(n);
    const A = heed.tensor(a, { shape: [n, n] });
    const B = heed.tensor(b, { shape: [n, n] });
    const layouts = [['', false, false], ['A^T B', true, false], ['A B^T', false, true]];
    for (const [mode, ta, tb] of layouts) {
      // transposed operands are zero-copy views; the kernel reads them in place
      const fn = () => heed.tidy(() => heed.matmul(ta ? A.transpose(0, 1) : A, tb ? B.transpose(0, 1) : B));
      await runCase('matmul', mode, String(n), fn, { flops: 2 * n ** 3 }, (d) => checkMatmulLayout(n, a, b, d, ta, tb));
    }
    A.dispose();
    B.dispose();
  }
} else if (op === 'elementwise') {
  for (const n of C.ELEMWISE_SIZES) {
    const x = C.elemInput(n);
    const X = heed.tensor(x, { shape: [n] });
    const fn = () => heed.tidy(() => heed.relu(X.mul(C.ELEMWISE_A).add(C.ELEMWISE_B)));
    await runCase('relu(x*a+b)', 'eager', `${n >> 20}M`, fn, { bytes: 8 * n }, (d) => C.checkElemwise(x, d));
    X.dispose();
  }
} else if (op === 'softmax') {
  const shape = C.SOFTMAX_SHAPE;
  const x = C.softmaxInput(shape);
  const X = heed.tensor(x, { shape });
  await runCase('softmax', 'eager', shape.join('x'), () => heed.softmax(X, -1), { bytes: 8 * x.length }, (d) => C.checkSoftmax(shape, x, d));
  X.dispose();
} else {
  throw new Error(`unknown --op=${op}; use matmul, elementwise or softmax`);
}
emit({ ...meta, suite: 'ops', op: '_process', peak_rss_mb: peakRssMB() });
process.exit(0);
