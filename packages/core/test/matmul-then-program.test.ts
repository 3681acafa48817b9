// SPDX-License-Identifier: MIT
// runMatmulThenProgram (lazy/program.ts), the meaning of `matmulElementwise` every backend can
// fall back to: the program reads the product in its null slot; an output that is the product
// itself is the product buffer; and the program handed to `elementwise` is the same object on
// every call with the same program (so a backend can keep per-program prepared work, as the
// CPU backend does), with the product outputs dropped.
import { describe, expect, it } from 'vitest';
import { runMatmulThenProgram, type DataId, type ElementwiseExpr, type ElementwiseProgram, type EpilogueKernels, type StridedView } from '@heed/core';

const f = 'float32' as const;
const input = (i: number): ElementwiseExpr => ({ op: 'input', input: i, dtype: f });

/** Fake kernels: data ids are strings; records what elementwise was given. */
function kernels(): EpilogueKernels & { programs: ElementwiseProgram[]; freed: DataId[] } {
  let next = 0;
  const programs: ElementwiseProgram[] = [];
  const freed: DataId[] = [];
  return {
    programs, freed,
    matmul: () => `product${next++}` as unknown as DataId,
    elementwise: (p) => { programs.push(p); return p.outputs.map((o) => `out${o}` as unknown as DataId); },
    copy: () => 'copy' as unknown as DataId,
    free: (d) => { freed.push(d); },
  };
}

const view = (data: string): StridedView => ({ data: data as unknown as DataId, dtype: f, shape: [2, 3], strides: [0, 1], offset: 0 });
const a = view('a');
const b = view('b');

describe('runMatmulThenProgram', () => {
  // product + bias (output 2), and the product itself (output 0)
  const program: ElementwiseProgram = { shape: [2, 3], exprs: [input(0), input(1), { op: 'binary', fn: 'add', a: 0, b: 1, dtype: f }], outputs: [2, 0] };

  it('hands elementwise the same program object on every call, without the product outputs', () => {
    const k = kernels();
    const first = runMatmulThenProgram(k, a, b, program, [null, view('bias')]);
    const second = runMatmulThenProgram(k, a, b, program, [null, view('bias2')]);
    expect(first).toEqual(['out2', 'product0']);
    expect(second).toEqual(['out2', 'product1']);
    expect(k.programs).toHaveLength(2);
    expect(k.programs[0]).toBe(k.programs[1]);
    expect(k.programs[0].outputs).toEqual([2]);
    expect(k.freed).toEqual([]); // the product is an output
  });

  it('passes a program with no product output as it is, and frees the product after it', () => {
    const k = kernels();
    const p: ElementwiseProgram = { ...program, outputs: [2] };
    expect(runMatmulThenProgram(k, a, b, p, [null, view('bias')])).toEqual(['out2']);
    expect(k.programs[0]).toBe(p);
    expect(k.freed).toEqual(['product0']);
  });

  it('a different product slot for the same program object gets its own program', () => {
    const k = kernels();
    const p: ElementwiseProgram = { ...program, outputs: [2, 1] };
    runMatmulThenProgram(k, a, b, p, [null, view('x')]); // slot 0: output 1 is not the product
    runMatmulThenProgram(k, a, b, p, [view('x'), null]); // slot 1: output 1 is the product
    expect(k.programs[0].outputs).toEqual([2, 1]);
    expect(k.programs[1].outputs).toEqual([2]);
  });
});
