// SPDX-License-Identifier: MIT
// Prepared runs of fused programs (src/fast/prepared-program.ts): a program object called once
// keeps no run; called again with the same input layout it reuses its prepared run and gives
// what a fresh program object (no prepared run) gives on the new data; a call with another layout (offset, strides,
// shape, dtype) is not served by the kept run and is still right; elementwise programs and
// programs with reductions, on the WASM heap with and without the worker pool.
import { describe, expect, it } from 'vitest';
import type { ElementwiseExpr, ElementwiseProgram, StridedView } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { acquireFastRuntime } from '../src/fast/index.js';
import { preparedRun } from '../src/fast/prepared-program.js';
import { randomValues } from './util.js';

const f = 'float32' as const;
const input = (i: number): ElementwiseExpr => ({ op: 'input', input: i, dtype: f });
const bin = (fn: 'add' | 'sub' | 'mul', a: number, b: number): ElementwiseExpr => ({ op: 'binary', fn, a, b, dtype: f });

/** x * a + tanh(x) over [rows, n]; a broadcast along rows. */
const flat = (rows: number, n: number): ElementwiseProgram => ({
  shape: [rows, n], exprs: [input(0), input(1), bin('mul', 0, 1), { op: 'unary', fn: 'tanh', x: 0, dtype: f }, bin('add', 2, 3)], outputs: [4],
});
/** Row sums of x * y and x - mean(x) over [rows, n] (one row output, one element output). */
const rows = (r: number, n: number): ElementwiseProgram => ({
  shape: [r, n], reduceAxes: 1,
  exprs: [input(0), input(1), bin('mul', 0, 1), { op: 'reduce', fn: 'sum', x: 2, dtype: f }, { op: 'reduce', fn: 'sum', x: 0, dtype: f },
    { op: 'const', value: 1 / n, dtype: f }, bin('mul', 4, 5), bin('sub', 0, 6)],
  outputs: [3, 7],
});

interface In { readonly data: Float32Array; readonly strides: readonly number[]; readonly offset: number }

/** Runs `program` on `b` over `ins` (each read with its strides and offset at the program's shape) and reads the outputs back. */
function run(b: CpuBackend, program: ElementwiseProgram, ins: readonly In[]): { out: Float32Array[]; views: StridedView[] } {
  const views: StridedView[] = ins.map((x) => ({ data: b.upload(x.data, f), dtype: f, shape: program.shape, strides: x.strides, offset: x.offset }));
  const outs = b.elementwise(program, views);
  if (outs === null) throw new Error('the fused kernel declined');
  const size = program.shape.reduce((p, d) => p * d, 1);
  const rowSize = size / program.shape[program.shape.length - 1];
  const out = outs.map((id, j) => {
    const e = program.exprs[program.outputs[j]];
    const rowLevel = (program.reduceAxes ?? 0) > 0 && e.op === 'reduce';
    return b.readSync(id, f, rowLevel ? rowSize : size) as Float32Array;
  });
  for (const id of outs) b.free(id);
  for (const v of views) b.free(v.data);
  return { out, views };
}

/** A structurally equal but new program object: it has no prepared run, so it takes the full path. */
const fresh = (p: ElementwiseProgram): ElementwiseProgram => ({ ...p, exprs: p.exprs.map((e) => ({ ...e })), outputs: [...p.outputs] });

const data = (n: number, seed: number): Float32Array => Float32Array.from(randomValues(n, seed, 2));

describe.each([1, 2])('prepared fused programs, %i thread(s)', (threads) => {
  const b = new CpuBackend({ fast: true, threads });
  const rt = acquireFastRuntime({ threads });

  it.each([['elementwise', flat(64, 96)], ['with reductions', rows(64, 96)]] as const)('%s: a repeat call with the same layout reuses the run and reads the new data', (_, program) => {
    const [R, N] = program.shape;
    const layout = (seed: number): In[] => [{ data: data(R * N + 5, seed), strides: [N, 1], offset: 5 }, { data: data(N, seed + 1), strides: [0, 1], offset: 0 }];
    const first = layout(1);
    run(b, program, first);
    const probe: StridedView[] = first.map((x) => ({ data: b.upload(x.data, f), dtype: f, shape: program.shape, strides: x.strides, offset: x.offset }));
    expect(preparedRun(program, rt, probe)).toBeUndefined(); // one call: nothing kept
    for (const v of probe) b.free(v.data);
    run(b, program, first);
    const second = layout(7);
    const views: StridedView[] = second.map((x) => ({ data: b.upload(x.data, f), dtype: f, shape: program.shape, strides: x.strides, offset: x.offset }));
    expect(preparedRun(program, rt, views)).toBeDefined();
    for (const v of views) b.free(v.data);
    const got = run(b, program, second).out;
    const want = run(b, fresh(program), second).out;
    expect(got).toEqual(want);
    expect(got.some((o) => o.some((x) => x !== 0))).toBe(true);
  });

  it.each([['elementwise', flat(32, 48)], ['with reductions', rows(32, 48)]] as const)('%s: another offset, strides or shape is not served by the kept run', (_, program) => {
    const [R, N] = program.shape;
    const kept: In[] = [{ data: data(R * N, 3), strides: [N, 1], offset: 0 }, { data: data(N, 4), strides: [0, 1], offset: 0 }];
    run(b, program, kept);
    run(b, program, kept);
    // the same data read at an offset: a kept run would read from the old place
    const shifted: In[] = [{ data: data(R * N + 9, 5), strides: [N, 1], offset: 9 }, { data: data(N + 2, 6), strides: [0, 1], offset: 2 }];
    const views: StridedView[] = shifted.map((x) => ({ data: b.upload(x.data, f), dtype: f, shape: program.shape, strides: x.strides, offset: x.offset }));
    expect(preparedRun(program, rt, views)).toBeUndefined();
    for (const v of views) b.free(v.data);
    expect(run(b, program, shifted).out).toEqual(run(b, fresh(program), shifted).out);
    // a transposed read (inner stride 1 -> column walk) and a broadcast along the other dim
    const transposed: In[] = [{ data: data(R * N, 8), strides: [1, R], offset: 0 }, { data: data(R, 9), strides: [1, 0], offset: 0 }];
    expect(run(b, program, transposed).out).toEqual(run(b, fresh(program), transposed).out);
    // and back to the first layout: still right
    const again: In[] = [{ data: data(R * N, 10), strides: [N, 1], offset: 0 }, { data: data(N, 11), strides: [0, 1], offset: 0 }];
    expect(run(b, program, again).out).toEqual(run(b, fresh(program), again).out);
  });

  it('a view of another dtype or rank does not match the kept run', () => {
    const program = flat(8, 16);
    const first: In[] = [{ data: data(128, 1), strides: [16, 1], offset: 0 }, { data: data(16, 2), strides: [0, 1], offset: 0 }];
    run(b, program, first);
    run(b, program, first);
    const x = b.upload(data(128, 3), f);
    const a = b.upload(data(16, 4), f);
    const same: StridedView[] = [{ data: x, dtype: f, shape: [8, 16], strides: [16, 1], offset: 0 }, { data: a, dtype: f, shape: [8, 16], strides: [0, 1], offset: 0 }];
    expect(preparedRun(program, rt, same)).toBeDefined();
    expect(preparedRun(program, rt, [same[0], { ...same[1], dtype: 'int32' }])).toBeUndefined();
    expect(preparedRun(program, rt, [same[0], { ...same[1], shape: [128], strides: [1] }])).toBeUndefined();
    expect(preparedRun(program, rt, [same[0]])).toBeUndefined();
    b.free(x);
    b.free(a);
  });
});
