// SPDX-License-Identifier: MIT
// Generated WASM programs (the CPU's fused `elementwise` kernel) on 1 thread vs the worker pool:
// ms per call of relu(x * a + b) and of a 3-output exp/tanh/sigmoid program at sizes 4K-4M,
// through CpuBackend.elementwise directly (what the lazy layer calls). Sets the pool's split
// threshold to 0 (HEED_CPU_PROGRAM_SPLIT=0) so every size runs as a pool job on the threaded
// backend: the crossover is where PARALLEL_PROGRAM_UNITS (fast/program-jobs.ts) belongs (divide
// by the program's programCost: relu(x*a+b) here is 3.5 units per element, exp,tanh,sigmoid 52).
// On a shared machine run it at real-time priority (chrt -f 10) so the pool gets its cores.
// usage: node bench/cpu_program_threads.mjs [--threads=2] [--reps=15] [--min=4096] [--max=4194304] [--program=relu|exp]
// One `RESULT {json}` line per size and program.
process.env.HEED_CPU_PROGRAM_SPLIT ??= '0';
const { CpuBackend } = await import('@heed/backend-cpu');

const arg = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt);
const threads = arg('threads', 2);
const reps = arg('reps', 15);
const minSize = arg('min', 4096), maxSize = arg('max', 1 << 22);
const only = process.argv.find((a) => a.startsWith('--program='))?.split('=')[1];
const one = new CpuBackend({ threads: 1 });
const many = new CpuBackend({ threads });
const t0 = Date.now();
while ((many.fastInfo()?.threads ?? 1) < Math.min(threads, 2) && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));

const f = 'float32';
const input = (i) => ({ op: 'input', input: i, dtype: f });
const PROGRAMS = {
  'relu(x*a+b)': (n) => ({ shape: [n], exprs: [input(0), input(1), { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: f }, input(2), { op: 'binary', fn: 'add', a: 2, b: 3, dtype: f }, { op: 'unary', fn: 'relu', x: 4, dtype: f }], outputs: [5], inputs: [[1], [0], [0]] }),
  'exp,tanh,sigmoid': (n) => ({ shape: [n], exprs: [input(0), { op: 'unary', fn: 'exp', x: 0, dtype: f }, { op: 'unary', fn: 'tanh', x: 0, dtype: f }, { op: 'unary', fn: 'sigmoid', x: 0, dtype: f }], outputs: [1, 2, 3], inputs: [[1]] }),
};

/** A timer of one program call on `b` (inputs uploaded once; outputs freed each call). */
function timer(b, make, n) {
  const { inputs, ...program } = make(n);
  const views = inputs.map(([stride]) => {
    const data = new Float32Array(stride === 0 ? 1 : n).map((_, i) => Math.sin(i) * 2);
    return { data: b.upload(data, f), dtype: f, shape: [n], strides: [stride], offset: 0 };
  });
  const calls = Math.max(1, Math.round(2e6 / n));
  return {
    sample() {
      const s = performance.now();
      for (let c = 0; c < calls; c++) for (const id of b.elementwise(program, views)) b.free(id);
      return (performance.now() - s) / calls;
    },
    close() { for (const v of views) b.free(v.data); },
  };
}

const median = (xs) => xs.slice().sort((x, y) => x - y)[xs.length >> 1];
for (const [name, make] of Object.entries(PROGRAMS)) {
  if (only !== undefined && !name.startsWith(only)) continue;
  for (let n = minSize; n <= maxSize; n *= 2) {
    // samples alternate between the two backends, so both see the same machine load
    const t1 = timer(one, make, n), tN = timer(many, make, n);
    const s1 = [], sN = [];
    for (let r = 0; r < reps + 2; r++) {
      const a = t1.sample(), b = tN.sample();
      if (r >= 2) { s1.push(a); sN.push(b); }
    }
    t1.close(); tN.close();
    const rec = { suite: 'cpu-program-threads', program: name, size: n, threads: many.fastInfo()?.threads,
      ms_1thread: median(s1), ms_pool: median(sN), min_1thread: Math.min(...s1), min_pool: Math.min(...sN) };
    console.log(`RESULT ${JSON.stringify({ ...rec, speedup: rec.ms_1thread / rec.ms_pool, speedup_min: rec.min_1thread / rec.min_pool })}`);
  }
}
