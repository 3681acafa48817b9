// SPDX-License-Identifier: MIT
// Browser entry of program-parallel.test.ts: in a cross-origin isolated page, runs a generated
// WASM program (relu(x * a + b) over 2M elements) on a 1-thread and a pooled CPU backend and
// publishes (window.heedResult) whether the results are bitwise equal, how many calls ran as pool jobs
// and how many blocks the Web Workers ran (they receive the program module by message).
import type { ElementwiseProgram, StridedView } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { acquireFastRuntime } from '../../src/fast/index.js';
import { parallelProgramCalls } from '../../src/fast/program-jobs.js';

/** What the page publishes as window.heedResult (what runPage returns). */
type PageResult = { error?: string; threads?: number; bitwise?: boolean; poolCalls?: number; workerBlocks?: number };
const publish = (r: PageResult): void => { (window as unknown as { heedResult?: PageResult }).heedResult = r; };

const f = 'float32' as const;
const n = 1 << 21;
const program: ElementwiseProgram = {
  shape: [n],
  exprs: [
    { op: 'input', input: 0, dtype: f }, { op: 'input', input: 1, dtype: f }, { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: f },
    { op: 'input', input: 2, dtype: f }, { op: 'binary', fn: 'add', a: 2, b: 3, dtype: f }, { op: 'unary', fn: 'relu', x: 4, dtype: f },
  ],
  outputs: [5],
};

function run(b: CpuBackend): Uint32Array {
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3);
  const views: StridedView[] = [
    { data: b.upload(x, f), dtype: f, shape: [n], strides: [1], offset: 0 },
    { data: b.upload(new Float32Array([0.75]), f), dtype: f, shape: [n], strides: [0], offset: 0 },
    { data: b.upload(new Float32Array([-0.5]), f), dtype: f, shape: [n], strides: [0], offset: 0 },
  ];
  const [out] = b.elementwise(program, views) ?? [];
  const got = new Uint32Array((b.readSync(out, f, n) as Float32Array).slice().buffer);
  b.free(out);
  for (const v of views) b.free(v.data);
  return got;
}

async function main(): Promise<void> {
  try {
    const pooled = new CpuBackend();
    const t0 = performance.now();
    while ((pooled.fastInfo()?.threads ?? 1) < 2 && performance.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    const want = run(new CpuBackend({ threads: 1 }));
    const calls0 = parallelProgramCalls();
    let bitwise = true;
    for (let i = 0; i < 8; i++) {
      const got = run(pooled);
      bitwise &&= got.every((v, k) => v === want[k]);
      await new Promise((r) => setTimeout(r, 5)); // let the workers take their messages
    }
    const rt = acquireFastRuntime({});
    publish({ threads: pooled.fastInfo()?.threads, bitwise, poolCalls: parallelProgramCalls() - calls0, workerBlocks: rt?.workerProgramBlocks() });
  } catch (e) {
    publish({ error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
  }
}

void main();
