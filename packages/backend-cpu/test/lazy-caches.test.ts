// SPDX-License-Identifier: MIT
// The lazy layer's per-step caches, without strings: CSE finds a twin among the pending readers
// of a node's first operand (same op, function, dtype, shape, operand views; a different
// offset, stride, function or dtype is another node, and a computed node is no twin); core's
// programId names a program's structure exactly when programKey would (constants and shape
// aside); codegen-wasm.ts's cachedWasmProgram serves both generators: one function per
// structure, layouts and memory (a hit returns the same function), none for a program the
// generator does not emit, and the values stay those of the op-by-op kernels.
import { describe, expect, it } from 'vitest';
import { LazyBackend, programId, programKey, type DataId, type ElementwiseExpr, type ElementwiseProgram, type StridedView } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { acquireFastRuntime } from '../src/fast/index.js';
import { MAX_PAGES } from '../src/fast/heap.js';
import { wasmProgram, wasmProgramRuns } from '../src/fast/codegen-wasm.js';
import { wasmRowProgram, wasmRowProgramRuns } from '../src/fast/codegen-wasm-rows.js';

const view = (data: DataId, shape: readonly number[], strides: readonly number[], offset = 0): StridedView => ({ data, dtype: 'float32', shape, strides, offset });

describe('lazy CSE: twins among the pending readers of the first operand', () => {
  it('aliases an identical node, and only that: another offset, stride, function or dtype is a new node', async () => {
    const lazy = new LazyBackend(new CpuBackend({ fast: false }));
    const x = lazy.upload(Float32Array.from([1, -2, 3, -4, 5, -6]), 'float32');
    const y = lazy.upload(Float32Array.from([0.5, 0.25, 2, 4, 8, 16]), 'float32');
    lazy.resetStats();
    const a1 = lazy.binary('mul', view(x, [2, 3], [3, 1]), view(y, [2, 3], [3, 1]), 'float32');
    const a2 = lazy.binary('mul', view(x, [2, 3], [3, 1]), view(y, [2, 3], [3, 1]), 'float32'); // twin
    expect(lazy.stats().shared).toBe(1);
    const others = [
      lazy.binary('mul', view(x, [2, 3], [3, 1]), view(y, [2, 3], [1, 2]), 'float32'), // other strides (a transpose of y)
      lazy.binary('mul', view(x, [2, 2], [3, 1], 1), view(y, [2, 2], [3, 1]), 'float32'), // other offset and shape
      lazy.binary('add', view(x, [2, 3], [3, 1]), view(y, [2, 3], [3, 1]), 'float32'), // other function
      lazy.binary('lt', view(x, [2, 3], [3, 1]), view(y, [2, 3], [3, 1]), 'bool'), // other dtype
      lazy.binary('mul', view(y, [2, 3], [3, 1]), view(x, [2, 3], [3, 1]), 'float32'), // operands swapped: another first operand
    ];
    expect(lazy.stats().shared).toBe(1);
    expect(lazy.stats().recorded).toBe(7); // 6 nodes and one alias
    const want = [0.5, -0.5, 6, -16, 40, -96];
    expect(Array.from(await lazy.read(a1, 'float32', 6))).toEqual(want);
    expect(Array.from(await lazy.read(a2, 'float32', 6))).toEqual(want);
    expect(Array.from(await lazy.read(others[0], 'float32', 6))).toEqual([0.5, -4, 24, -1, 20, -96]);
    expect(Array.from(await lazy.read(others[1], 'float32', 4))).toEqual([-1, 0.75, 20, -48]);
    expect(Array.from(await lazy.read(others[3], 'bool', 6))).toEqual([0, 1, 0, 1, 1, 1]);
    // a1 is computed now: recording it again makes a new node, not an alias of a settled one
    const a3 = lazy.binary('mul', view(x, [2, 3], [3, 1]), view(y, [2, 3], [3, 1]), 'float32');
    expect(lazy.stats().shared).toBe(1);
    expect(Array.from(await lazy.read(a3, 'float32', 6))).toEqual(want);
    // a freed pending node leaves the table: the next identical record is a node of its own
    const b1 = lazy.unary('exp', view(x, [6], [1]), 'float32');
    lazy.free(b1);
    const b2 = lazy.unary('exp', view(x, [6], [1]), 'float32');
    expect(lazy.stats().shared).toBe(1);
    expect((await lazy.read(b2, 'float32', 6))[0]).toBe(Math.fround(Math.E));
  });
});

const input = (i: number): ElementwiseExpr => ({ op: 'input', input: i, dtype: 'float32' });

describe('programId: the structure of a program as a number', () => {
  const base: ElementwiseProgram = {
    shape: [4, 8],
    exprs: [input(0), { op: 'const', value: 0.5, dtype: 'float32' }, { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: 'float32' }, { op: 'unary', fn: 'exp', x: 2, dtype: 'float32' }],
    outputs: [3],
  };
  const variants: ElementwiseProgram[] = [
    base,
    { ...base, shape: [1024] }, // same structure
    { ...base, exprs: base.exprs.map((e) => (e.op === 'const' ? { ...e, value: -3 } : e)) }, // same structure
    { ...base, exprs: base.exprs.map((e) => (e.op === 'unary' ? { ...e, fn: 'tanh' } : e)) },
    { ...base, exprs: base.exprs.map((e) => (e.op === 'binary' ? { ...e, fn: 'add' } : e)) },
    { ...base, exprs: base.exprs.map((e) => (e.op === 'binary' ? { ...e, a: 1, b: 0 } : e)) },
    { ...base, exprs: base.exprs.map((e) => (e.op === 'const' ? { ...e, dtype: 'int32' } : e)) },
    { ...base, outputs: [2, 3] },
    { ...base, outputs: [2] },
    { ...base, reduceAxes: 1 },
    { ...base, exprs: [...base.exprs, { op: 'reduce', fn: 'sum', x: 3, dtype: 'float32' }], outputs: [4], reduceAxes: 1 },
    { ...base, exprs: [...base.exprs, { op: 'reduce', fn: 'max', x: 3, dtype: 'float32' }], outputs: [4], reduceAxes: 1 },
    { ...base, exprs: [{ op: 'rowInput', input: 0, dtype: 'float32' }, ...base.exprs.slice(1)] },
    { ...base, exprs: [...base.exprs, input(1), { op: 'where', cond: 4, a: 3, b: 0, dtype: 'float32' }], outputs: [5] },
    { ...base, exprs: [...base.exprs, input(1), { op: 'where', cond: 4, a: 0, b: 3, dtype: 'float32' }], outputs: [5] },
    { ...base, exprs: [...base.exprs, { op: 'cast', x: 3, dtype: 'int32' }], outputs: [4] },
  ];

  it('gives two programs the same id exactly when their programKeys are equal', () => {
    for (const p of variants) {
      for (const q of variants) expect(programId(p) === programId(q), `${programKey(p)} vs ${programKey(q)}`).toBe(programKey(p) === programKey(q));
    }
    expect(programId(variants[1])).toBe(programId(base));
    expect(programId(variants[2])).toBe(programId(base));
  });

  it('is stable: a fresh copy of a known structure gets its id again', () => {
    const id = programId(variants[7]);
    const copy = JSON.parse(JSON.stringify(variants[7])) as ElementwiseProgram;
    expect(programId(copy)).toBe(id);
  });
});

describe('cachedWasmProgram: one cache for the elementwise and the row generators', () => {
  const maybe = acquireFastRuntime({ threads: 1 });
  if (maybe === null) throw new Error('the fast path (WebAssembly SIMD) is not available here');
  const rt = maybe;
  const heap = rt.heap;
  const relu: ElementwiseProgram = {
    shape: [64],
    exprs: [input(0), input(1), { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: 'float32' }, { op: 'unary', fn: 'relu', x: 2, dtype: 'float32' }],
    outputs: [3],
  };

  it('returns the same function for a structure, layouts and memory, another for other layouts, and none for an op it does not emit', () => {
    const id = programId(relu);
    const before = wasmProgramRuns();
    const f = wasmProgram(relu, id, ['contiguous', 'scalar'], heap.memory, heap.shared, MAX_PAGES, rt.kernels);
    expect(f).not.toBeNull();
    const copy: ElementwiseProgram = { ...relu, shape: [4, 16] };
    expect(wasmProgram(copy, programId(copy), ['contiguous', 'scalar'], heap.memory, heap.shared, MAX_PAGES, rt.kernels)).toBe(f);
    const g = wasmProgram(relu, id, ['contiguous', 'contiguous'], heap.memory, heap.shared, MAX_PAGES, rt.kernels);
    expect(g).not.toBeNull();
    expect(g).not.toBe(f);
    expect(wasmProgramRuns() - before).toBe(3);
    const sin: ElementwiseProgram = { shape: [8], exprs: [input(0), { op: 'unary', fn: 'sin', x: 0, dtype: 'float32' }], outputs: [1] };
    expect(wasmProgram(sin, programId(sin), ['contiguous'], heap.memory, heap.shared, MAX_PAGES, rt.kernels)).toBeNull();
    expect(wasmProgram(sin, programId(sin), ['contiguous'], heap.memory, heap.shared, MAX_PAGES, rt.kernels)).toBeNull();
    expect(wasmProgramRuns() - before).toBe(3);
  });

  it('keeps the two generators apart under one structure id, and their functions compute the right values', () => {
    const sum: ElementwiseProgram = { shape: [2, 4], exprs: [input(0), { op: 'reduce', fn: 'sum', x: 0, dtype: 'float32' }], outputs: [1], reduceAxes: 1 };
    const id = programId(sum);
    const before = wasmRowProgramRuns();
    const rows = wasmRowProgram(sum, id, ['contiguous'], heap.memory, heap.shared, MAX_PAGES, rt.kernels);
    expect(rows).not.toBeNull();
    expect(wasmRowProgram(sum, id, ['contiguous'], heap.memory, heap.shared, MAX_PAGES, rt.kernels)).toBe(rows);
    expect(wasmRowProgramRuns() - before).toBe(2);
    // the elementwise generator does not emit reduce: the same id there is its own (null) entry
    expect(wasmProgram(sum, id, ['contiguous'], heap.memory, heap.shared, MAX_PAGES, rt.kernels)).toBeNull();
    const x = heap.alloc(8 * 4), out = heap.alloc(2 * 4);
    try {
      new Float32Array(heap.buffer, x, 8).set([1, 2, 3, 4, 0.5, 0.25, -1, 8]);
      // run(rows, n, outPtr, inPtr, inRowStrideBytes, runs, inRunStrideBytes)
      (rows as (...a: number[]) => void)(2, 4, out, x, 16, 1, 0);
      expect(Array.from(new Float32Array(heap.buffer, out, 2))).toEqual([10, 7.75]);
    } finally {
      heap.free(x, 8 * 4);
      heap.free(out, 2 * 4);
    }
  });
});
