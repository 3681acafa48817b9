// SPDX-License-Identifier: MIT
// Generated WASM programs over the worker pool (fast/program-jobs.ts): the same fused programs
// on 1 and 2 threads give bitwise the same buffers (row blocks, column blocks, broadcast and
// strided inputs, outer dims, several outputs, exp/tanh/sigmoid, programs with reductions split
// by rows), equal to the reference
// kernels where the ops are IEEE-exact; large calls really run as pool jobs and small ones stay
// on the caller; a worker failing inside a program job switches threading off and the call's
// results are still right (rerun on the caller after the job drained); in headless Chromium the
// Web Workers receive the program and take blocks too.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { programLevels, type ElementwiseExpr, type ElementwiseProgram, type StridedView } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { acquireFastRuntime } from '../src/fast/index.js';
import { PARALLEL_PROGRAM_UNITS, blockPlan, parallelProgramCalls, programCost } from '../src/fast/program-jobs.js';
import { wasmProgramRuns } from '../src/fast/codegen-wasm.js';
import { wasmRowProgramRuns } from '../src/fast/codegen-wasm-rows.js';
import { randomValues } from './util.js';
import { CHROMIUM, bundlePage, runPage } from '../../../scripts/test-support/browser.js';

const one = new CpuBackend({ fast: true, threads: 1 });
const two = new CpuBackend({ fast: true, threads: 2 });
const ref = new CpuBackend({ fast: false });
const rtTwo = acquireFastRuntime({ threads: 2 });

async function workersReady(b: CpuBackend): Promise<void> {
  const t0 = Date.now();
  while ((b.fastInfo()?.threads ?? 1) < 2 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 10));
  expect(b.fastInfo()?.threads).toBeGreaterThanOrEqual(2);
}
beforeAll(() => workersReady(two));

/** Seeded float32 values in [-3, 3). */
const values = (n: number, seed: number): Float32Array => Float32Array.from(randomValues(n, seed, 3));

/** One input of a case: its data (uploaded contiguous) and the view the program reads. */
interface CaseInput { readonly data: Float32Array; readonly shape: readonly number[]; readonly strides: readonly number[]; readonly offset?: number }

const f = 'float32' as const;
const input = (i: number): ElementwiseExpr => ({ op: 'input', input: i, dtype: f });
const bin = (fn: 'add' | 'sub' | 'mul' | 'div' | 'minimum' | 'maximum', a: number, b: number): ElementwiseExpr => ({ op: 'binary', fn, a, b, dtype: f });
const un = (fn: 'relu' | 'exp' | 'tanh' | 'sigmoid' | 'sqrt' | 'abs' | 'neg' | 'square', x: number): ElementwiseExpr => ({ op: 'unary', fn, x, dtype: f });

/** relu(x * a + b): x [rows, n], a broadcast over rows ([n]), b broadcast over columns ([rows, 1]). */
function reluCase(rows: number, n: number): { program: ElementwiseProgram; inputs: CaseInput[] } {
  return {
    program: { shape: [rows, n], exprs: [input(0), input(1), bin('mul', 0, 1), input(2), bin('add', 2, 3), un('relu', 4)], outputs: [5] },
    inputs: [
      { data: values(rows * n, 1), shape: [rows, n], strides: [n, 1] },
      { data: values(n, 2), shape: [rows, n], strides: [0, 1] },
      { data: values(rows, 3), shape: [rows, n], strides: [1, 0] },
    ],
  };
}

/** Two outputs over IEEE-exact ops and a constant: (x - y) / (|y| + 0.5) and min(x, y) * max(x, y)^2. */
function exactCase(shape: readonly number[], x: CaseInput, y: CaseInput): { program: ElementwiseProgram; inputs: CaseInput[] } {
  const exprs: ElementwiseExpr[] = [
    input(0), input(1), bin('sub', 0, 1), un('abs', 1), { op: 'const', value: 0.5, dtype: f }, bin('add', 3, 4), bin('div', 2, 5),
    bin('minimum', 0, 1), bin('maximum', 0, 1), un('square', 8), bin('mul', 7, 9),
  ];
  return { program: { shape, exprs, outputs: [6, 10] }, inputs: [x, y] };
}

/** exp, tanh and sigmoid of one input (three outputs). */
function mathCase(n: number): { program: ElementwiseProgram; inputs: CaseInput[] } {
  return {
    program: { shape: [n], exprs: [input(0), un('exp', 0), un('tanh', 0), un('sigmoid', 0)], outputs: [1, 2, 3] },
    inputs: [{ data: values(n, 7), shape: [n], strides: [1] }],
  };
}

/**
 * softmax over rows with a per-row input, two outputs: y = exp(x - max x) / sum, and the row
 * value sum + bias (a program with reductions: codegen-wasm-rows.ts).
 */
function softmaxCase(rows: number, n: number): { program: ElementwiseProgram; inputs: CaseInput[] } {
  const exprs: ElementwiseExpr[] = [
    input(0), { op: 'rowInput', input: 1, dtype: f }, { op: 'reduce', fn: 'max', x: 0, dtype: f }, bin('sub', 0, 2), un('exp', 3),
    { op: 'reduce', fn: 'sum', x: 4, dtype: f }, bin('div', 4, 5), bin('add', 5, 1),
  ];
  return {
    program: { shape: [rows, n], exprs, outputs: [6, 7], reduceAxes: 1 },
    inputs: [{ data: values(rows * n, 21), shape: [rows, n], strides: [n, 1] }, { data: values(rows, 22), shape: [rows], strides: [1] }],
  };
}

/** Runs the case's program on `b` (fused, as the lazy layer would) and reads every output back. */
function run(b: CpuBackend, c: { program: ElementwiseProgram; inputs: CaseInput[] }): Float32Array[] {
  const views: StridedView[] = c.inputs.map((x) => ({ data: b.upload(x.data, f), dtype: f, shape: x.shape, strides: x.strides, offset: x.offset ?? 0 }));
  const outs = b.elementwise(c.program, views);
  if (outs === null) throw new Error('the fused kernel declined');
  const { row, inner } = programLevels(c.program);
  const size = c.program.shape.reduce((p, d) => p * d, 1);
  const got = outs.map((id, j) => b.readSync(id, f, row[c.program.outputs[j]] ? size / inner : size) as Float32Array);
  for (const id of outs) b.free(id);
  for (const v of views) b.free(v.data);
  return got;
}

/** Bitwise equality of float32 arrays (as uint32: NaN payloads and -0 count). */
function expectBitwise(got: readonly Float32Array[], want: readonly Float32Array[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const a = new Uint32Array(g.buffer, g.byteOffset, g.length);
    const w = new Uint32Array(want[i].buffer, want[i].byteOffset, want[i].length);
    let bad = -1;
    for (let k = 0; k < a.length && bad < 0; k++) if (a[k] !== w[k]) bad = k;
    expect(bad, bad < 0 ? '' : `output ${i} element ${bad}: ${g[bad]} vs ${want[i][bad]}`).toBe(-1);
  });
}

/** Runs `c` on 1 and 2 threads; expects bitwise equal results and that 2 threads used the pool iff `pooled`. */
function sameOnOneAndTwo(c: { program: ElementwiseProgram; inputs: CaseInput[] }, pooled: boolean): Float32Array[] {
  const runs0 = wasmProgramRuns() + wasmRowProgramRuns();
  const calls0 = parallelProgramCalls();
  const single = run(one, c);
  expect(parallelProgramCalls()).toBe(calls0);
  const multi = run(two, c);
  expect(wasmProgramRuns() + wasmRowProgramRuns()).toBe(runs0 + 2); // both on a generated wasm path
  expect(parallelProgramCalls() > calls0).toBe(pooled);
  expectBitwise(multi, single);
  return multi;
}

describe('generated programs on the worker pool', () => {
  it('plans row blocks for many rows and aligned column blocks for few', () => {
    expect(blockPlan(1 << 22, 1, 2)).toEqual([1, 1 << 19]);
    expect(blockPlan(512, 8192, 2)).toEqual([1024, 0]);
    const [rows, cols] = blockPlan(100003, 3, 2);
    expect(rows).toBe(1);
    expect(cols % 16).toBe(0);
    expect(Math.ceil(100003 / cols) * 3).toBeGreaterThanOrEqual(8);
  });

  it('relu(x * a + b) over 4M elements (column blocks of one run) is bitwise the same on 1 and 2 threads', () => {
    sameOnOneAndTwo(reluCase(1, 1 << 22), true);
  });

  it('the workers take blocks of program jobs (after receiving the program)', () => {
    const before = rtTwo?.workerProgramBlocks() ?? 0;
    for (let i = 0; i < 5; i++) sameOnOneAndTwo(reluCase(1, 1 << 21), true);
    expect(rtTwo?.workerProgramBlocks() ?? 0).toBeGreaterThan(before);
  });

  it('row blocks, and column blocks of a few long rows with ragged ends, match bitwise', () => {
    sameOnOneAndTwo(reluCase(2048, 509), true); // rows mode
    sameOnOneAndTwo(reluCase(3, 100003), true); // column blocks, widths not multiples of 4
  });

  it('IEEE-exact programs with two outputs equal the reference kernels on 2 threads (outer dims, strided rows)', async () => {
    // x is a [4, 64, 4099] view of a [64, 4, 4099] buffer (permuted: 3 dims survive coalescing,
    // so 4 calls of 64 strided rows); y broadcasts a [64, 4099] plane over the first dim
    const x: CaseInput = { data: values(64 * 4 * 4099, 11), shape: [4, 64, 4099], strides: [4099, 4 * 4099, 1] };
    const y: CaseInput = { data: values(64 * 4099 + 5, 12), shape: [4, 64, 4099], strides: [0, 4099, 1], offset: 5 };
    const c = exactCase([4, 64, 4099], x, y);
    const got = sameOnOneAndTwo(c, true);
    expectBitwise(got, run(ref, c));
  });

  it('exp, tanh and sigmoid (the fast module\'s f32x4 math) match bitwise on 1 and 2 threads', () => {
    sameOnOneAndTwo(mathCase((1 << 20) + 3), true);
  });

  it('programs with reductions are split by rows only and match bitwise (many rows; a few long rows)', () => {
    const rows0 = wasmRowProgramRuns();
    const got = sameOnOneAndTwo(softmaxCase(1000, 300), true);
    sameOnOneAndTwo(softmaxCase(5, 100003), true);
    expect(wasmRowProgramRuns()).toBe(rows0 + 4);
    // the softmax rows sum to 1 and the row output is sum + bias (a real reduction ran per row)
    const bias = values(1000, 22);
    for (const r of [0, 499, 999]) {
      let total = 0;
      for (let k = 0; k < 300; k++) total += got[0][r * 300 + k];
      expect(total).toBeCloseTo(1, 5);
      expect(got[1][r] - bias[r]).toBeGreaterThanOrEqual(1);
    }
    sameOnOneAndTwo(softmaxCase(1, 1 << 17), false); // one row: nothing to split
  });

  it('calls under the threshold stay on the calling thread', () => {
    const relu = reluCase(1, 1);
    // x read, mul, add, relu, one output; a is read along the run, b is one value per run
    expect(programCost(relu.program, ['contiguous', 'contiguous', 'scalar'])).toBe(4.5);
    expect(programCost(mathCase(1).program, ['contiguous'])).toBe(52);
    expect(programCost(softmaxCase(1, 1).program, ['contiguous', 'scalar'])).toBe(21.5); // x 1, max, sub, exp 16, sum, div 2, one element output 1
    const from = Math.ceil(PARALLEL_PROGRAM_UNITS / 4.5 / 8) * 8;
    sameOnOneAndTwo(reluCase(1, from - 16), false);
    sameOnOneAndTwo(reluCase(8, from / 8), true);
    sameOnOneAndTwo(mathCase(Math.ceil(PARALLEL_PROGRAM_UNITS / 52)), true); // expensive programs split sooner
  });
});

describe('a worker failing inside a program job', () => {
  it('turns threading off and the results stay right', async () => {
    // a runtime of its own (threads: 3 is another cache key), so the other tests keep their pool
    const faulty = new CpuBackend({ fast: true, threads: 3 });
    await workersReady(faulty);
    const rt = acquireFastRuntime({ threads: 3 });
    expect(rt).not.toBeNull();
    const c = reluCase(1, 1 << 21);
    const want = run(one, c);
    expectBitwise(run(faulty, c), want); // shares the program with the workers
    rt?.injectWorkerFault();
    for (let i = 0; i < 50 && (faulty.fastInfo()?.threads ?? 1) > 1; i++) expectBitwise(run(faulty, c), want);
    expect(faulty.fastInfo()?.threads).toBe(1);
    expectBitwise(run(faulty, c), want);
    // the other kernels keep working on the calling thread
    const x = faulty.upload(values(1 << 18, 5), f);
    const y = faulty.unary('relu', { data: x, dtype: f, shape: [1 << 18], strides: [1], offset: 0 }, f);
    const r = ref.unary('relu', { data: ref.upload(values(1 << 18, 5), f), dtype: f, shape: [1 << 18], strides: [1], offset: 0 }, f);
    expectBitwise([faulty.readSync(y, f, 1 << 18) as Float32Array], [ref.readSync(r, f, 1 << 18) as Float32Array]);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('generated programs on Web Workers (headless Chromium, cross-origin isolated)', () => {
  it('the workers receive the program, take blocks, and the results equal 1 thread bitwise', async () => {
    const script = await bundlePage(fileURLToPath(new URL('./browser/program-parallel-page.ts', import.meta.url)), ['core', 'backend-cpu']);
    type Result = { error?: string; threads?: number; bitwise?: boolean; poolCalls?: number; workerBlocks?: number };
    const got = await runPage<Result>(script, { isolated: true });
    expect(got.error).toBeUndefined();
    expect(got.threads).toBeGreaterThanOrEqual(2);
    expect(got.bitwise).toBe(true);
    expect(got.poolCalls).toBe(8);
    expect(got.workerBlocks).toBeGreaterThan(0);
  });
});
