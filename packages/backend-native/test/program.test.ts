// SPDX-License-Identifier: MIT
// The native program interpreter (native/program.c) behind the CPU backend's `elementwise`
// kernel: random fused programs over every op it runs, with special values (NaN, +-0, +-Inf,
// huge and tiny numbers) and both input layouts (contiguous runs, one element broadcast over a
// row, rows at a stride), must give bitwise the WASM programs' values on a backend of the same
// SIMD flavor (relaxed: fused multiply-adds in exp/tanh/sigmoid, simd: unfused) — and must
// really run natively. Malformed bytecode is refused; addresses outside the heap are errors; an
// output that is also an input (a buffer updated in place) gets the same values as a fresh one.
import { describe, expect, it, vi } from 'vitest';
import type { ElementwiseExpr, ElementwiseProgram, StridedView } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { createNativeCpuBackend, loadAddon } from '@heed/backend-native';
import { encodeProgram, nativeProgramPays } from '../../backend-cpu/src/fast/native-program.js';

const UNARY = ['neg', 'abs', 'sqrt', 'square', 'relu', 'exp', 'tanh', 'sigmoid'] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'minimum', 'maximum'] as const;
const SPECIAL = [NaN, 0, -0, Infinity, -Infinity, 1e30, -1e30, 1e-40, -1e-40, 88.8, -104, 9.5, -9.5, 3e-4, -3e-4];

/** A small deterministic generator (LCG). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Values: mostly in [-6, 6], some special. */
function data(n: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => (r() < 0.15 ? SPECIAL[Math.floor(r() * SPECIAL.length)] : (r() * 2 - 1) * 6));
}

/** A random program over `inputs` inputs of `shape`, with `depth` ops, 1-2 outputs. */
function randomProgram(shape: number[], inputs: number, depth: number, r: () => number): ElementwiseProgram {
  const exprs: ElementwiseExpr[] = [];
  for (let i = 0; i < inputs; i++) exprs.push({ op: 'input', input: i, dtype: 'float32' });
  exprs.push({ op: 'const', value: r() * 4 - 2, dtype: 'float32' });
  for (let d = 0; d < depth; d++) {
    const pick = () => Math.floor(r() * exprs.length);
    const k = d === 0 && r() < 0.7 ? 0.4 : r(); // most programs start with a unary op (often exp/tanh/sigmoid: they run natively)
    if (k < 0.45) exprs.push({ op: 'unary', fn: UNARY[Math.floor(r() * UNARY.length)], x: pick(), dtype: 'float32' });
    else if (k < 0.95) exprs.push({ op: 'binary', fn: BINARY[Math.floor(r() * BINARY.length)], a: pick(), b: pick(), dtype: 'float32' });
    else exprs.push({ op: 'cast', x: pick(), dtype: 'float32' });
  }
  const last = exprs.length - 1;
  const outputs = r() < 0.5 ? [last] : [last, inputs + 1 + Math.floor(r() * depth)];
  return { shape, exprs, outputs };
}

/** Input views of `shape` [rows, n]: contiguous, a column broadcast over each row, a row broadcast over rows, or rows at a stride. */
function views(be: CpuBackend, shape: number[], count: number, r: () => number): StridedView[] {
  const [rows, n] = shape;
  return Array.from({ length: count }, (_, i) => {
    const kind = i === 0 ? 0 : Math.floor(r() * 4);
    if (kind === 1) return { data: be.upload(data(rows, r), 'float32'), dtype: 'float32', shape, strides: [1, 0], offset: 0 };
    if (kind === 2) return { data: be.upload(data(n, r), 'float32'), dtype: 'float32', shape, strides: [0, 1], offset: 0 };
    if (kind === 3) return { data: be.upload(data(rows * (n + 5) + 3, r), 'float32'), dtype: 'float32', shape, strides: [n + 5, 1], offset: 3 };
    return { data: be.upload(data(rows * n, r), 'float32'), dtype: 'float32', shape, strides: [n, 1], offset: 0 };
  });
}

/** The same views' values uploaded to another backend. */
function copyTo(from: CpuBackend, to: CpuBackend, vs: readonly StridedView[]): StridedView[] {
  return vs.map((v) => {
    const len = v.offset + v.shape.reduce((last, d, k) => last + (d - 1) * v.strides[k], 0) + 1;
    return { ...v, data: to.upload(from.readSync(v.data, 'float32', len) as Float32Array, 'float32') };
  });
}

const bits = (a: ArrayLike<number>): number[] => Array.from(new Int32Array(Float32Array.from(a).buffer)).map((b, i) => (Number.isNaN(a[i]) ? 0x7fc00000 : b));

describe.each(['relaxed', 'simd'] as const)('native program interpreter (%s flavor)', (simd) => {
  it('runs random fused programs natively, bitwise equal to the WASM programs (both layouts, special values, 1 and 2 threads)', () => {
    const { addon } = loadAddon();
    const calls = vi.spyOn(addon, 'program');
    let ranNatively = 0;
    try {
      for (const threads of [1, 2]) {
        const native = createNativeCpuBackend({ simd, threads });
        const wasm = new CpuBackend({ fast: true, simd, threads });
        if (native.fastInfo()?.flavor !== simd || wasm.fastInfo()?.flavor !== simd) continue; // flavor not available on this CPU
        const r = rng(simd === 'relaxed' ? 11 + threads : 23 + threads);
        for (let t = 0; t < 24; t++) {
          // every fourth program has rows of whole 512-element blocks plus a remainder, and more ops (scratch rows reused)
          const long = t % 4 === 0;
          const shape = long ? [1 + Math.floor(r() * 6), 512 + Math.floor(r() * 1200)] : [1 + Math.floor(r() * 40), 1 + Math.floor(r() * 700)];
          const nIn = 1 + Math.floor(r() * 3);
          const program = randomProgram(shape, nIn, long ? 12 + Math.floor(r() * 24) : 2 + Math.floor(r() * 10), r);
          const ins = views(native, shape, nIn, r);
          const before = calls.mock.calls.length;
          const got = native.elementwise(program, ins);
          const natively = nativeProgramPays(program);
          if (natively) ranNatively++;
          expect(calls.mock.calls.length).toBe(before + (natively ? 1 : 0)); // the interpreter ran exactly the programs that pay
          const want = wasm.elementwise(program, copyTo(native, wasm, ins));
          expect(got).not.toBeNull();
          expect(want).not.toBeNull();
          const size = shape[0] * shape[1];
          (got as number[]).forEach((id, o) => {
            const g = native.readSync(id, 'float32', size) as Float32Array;
            const w = wasm.readSync((want as number[])[o], 'float32', size) as Float32Array;
            expect(bits(g)).toEqual(bits(w));
          });
        }
      }
      expect(ranNatively).toBeGreaterThanOrEqual(10);
    } finally {
      calls.mockRestore();
    }
  });
});

describe('native program interpreter: scratch rows', () => {
  it('keeps a value alive across later exprs until its last use (rows are reused only after it)', () => {
    // t = tanh(x) is read, two more values are computed, then t is read again
    const exprs: ElementwiseExpr[] = [
      { op: 'input', input: 0, dtype: 'float32' }, { op: 'input', input: 1, dtype: 'float32' },
      { op: 'unary', fn: 'tanh', x: 0, dtype: 'float32' }, { op: 'binary', fn: 'mul', a: 2, b: 1, dtype: 'float32' },
      { op: 'unary', fn: 'exp', x: 1, dtype: 'float32' }, { op: 'binary', fn: 'add', a: 3, b: 4, dtype: 'float32' },
      { op: 'binary', fn: 'mul', a: 5, b: 2, dtype: 'float32' }, { op: 'unary', fn: 'sigmoid', x: 6, dtype: 'float32' },
    ];
    const shape = [2, 1500];
    const program: ElementwiseProgram = { shape, exprs, outputs: [7, 3] };
    expect(nativeProgramPays(program)).toBe(true);
    const native = createNativeCpuBackend({ threads: 2 });
    const wasm = new CpuBackend({ fast: true, simd: native.fastInfo()?.flavor, threads: 2 });
    const r = rng(9);
    const ins: StridedView[] = [0, 1].map(() => ({ data: native.upload(data(3000, r), 'float32'), dtype: 'float32', shape, strides: [1500, 1], offset: 0 }));
    const got = native.elementwise(program, ins) as number[];
    const want = wasm.elementwise(program, copyTo(native, wasm, ins)) as number[];
    got.forEach((id, o) => expect(bits(native.readSync(id, 'float32', 3000) as Float32Array)).toEqual(bits(wasm.readSync(want[o], 'float32', 3000) as Float32Array)));
    const x = native.readSync(ins[0].data, 'float32', 3000) as Float32Array, y = native.readSync(ins[1].data, 'float32', 3000) as Float32Array;
    const out = native.readSync(got[0], 'float32', 3000) as Float32Array;
    for (let i = 0; i < 3000; i += 101) {
      if (!Number.isFinite(x[i]) || !Number.isFinite(y[i]) || Math.abs(y[i]) > 20) continue;
      const t = Math.tanh(x[i]), v = (t * y[i] + Math.exp(y[i])) * t;
      expect(out[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 5);
    }
  });
});

describe('native program interpreter: refusals', () => {
  it('refuses malformed bytecode and throws for addresses outside the heap', () => {
    const { addon } = loadAddon();
    const be = createNativeCpuBackend({ threads: 1 });
    expect(be.fastInfo()).not.toBeNull();
    // [nExprs, nOut, nIn, nConst, flags, outputs..., exprs...]: out = neg(input 0)
    const good = Int32Array.from([2, 1, 1, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0]);
    const args = Float64Array.from([4, 1, 64, 0, 0]);
    const heap = new Float32Array(1024);
    addon.bind(heap); // the addon now points at this array: the file's last tests bind their own heaps (files run in their own process)
    heap.set([1, -2, 3, -4], 0);
    expect(addon.program(good, args)).toBe(true);
    expect(Array.from(heap.subarray(16, 20))).toEqual([-1, 2, -3, 4]);
    const forward = Int32Array.from(good); forward[12] = 1; // unary reads itself (not an earlier expr)
    const badKind = Int32Array.from(good); badKind[10] = 9;
    const badFlags = Int32Array.from(good); badFlags[4] = 2;
    const short = good.subarray(0, 12);
    for (const code of [forward, badKind, badFlags, short]) expect(addon.program(code, args)).toBe(false);
    expect(addon.program(good, Float64Array.from([4, 1, 64, 0]))).toBe(false); // wrong argument count
    expect(() => addon.program(good, Float64Array.from([4, 1, 4096, 0, 0]))).toThrow(RangeError); // output past the heap
    expect(() => addon.program(good, Float64Array.from([4, 1, 64, 4090, 0]))).toThrow(RangeError); // input past the heap
    expect(() => addon.program(new Float32Array(14) as unknown as Int32Array, args)).toThrow(TypeError);
  });
});

describe('native program interpreter: outputs over inputs', () => {
  it('gives the same values when the outputs are written over the inputs (exprs after an output still read the old inputs)', () => {
    const { addon } = loadAddon();
    const be = createNativeCpuBackend({ threads: 2 });
    expect(be.fastInfo()).not.toBeNull();
    // out0 = tanh(x * 0.75); out1 = out0 + x * y + 1: out0's expr is done before x is read again
    const exprs: ElementwiseExpr[] = [
      { op: 'input', input: 0, dtype: 'float32' }, { op: 'input', input: 1, dtype: 'float32' },
      { op: 'const', value: 0.75, dtype: 'float32' }, { op: 'const', value: 1, dtype: 'float32' },
      { op: 'binary', fn: 'mul', a: 0, b: 2, dtype: 'float32' }, { op: 'unary', fn: 'tanh', x: 4, dtype: 'float32' },
      { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: 'float32' }, { op: 'binary', fn: 'add', a: 5, b: 6, dtype: 'float32' },
      { op: 'binary', fn: 'add', a: 7, b: 3, dtype: 'float32' },
    ];
    const code = encodeProgram({ shape: [3, 1300], exprs, outputs: [5, 8] }, ['contiguous', 'contiguous'], false);
    expect(code).not.toBeNull();
    const n = 1300, mid = 3, size = n * mid;
    const heap = new Float32Array(4 * size);
    addon.bind(heap); // this addon now points at this array: these direct calls are the file's last tests
    const r = rng(5);
    const x = Float32Array.from({ length: size }, () => r() * 4 - 2), y = Float32Array.from({ length: size }, () => r() * 4 - 2);
    const [X, Y, O0, O1] = [0, size, 2 * size, 3 * size];
    heap.set(x, X); heap.set(y, Y);
    const args = (out0: number, out1: number) => Float64Array.from([n, mid, out0 * 4, out1 * 4, X * 4, n * 4, Y * 4, n * 4, 0.75, 1]);
    expect(addon.program(code as Int32Array, args(O0, O1))).toBe(true);
    const want0 = heap.slice(O0, O0 + size), want1 = heap.slice(O1, O1 + size);
    for (let i = 0; i < size; i += 997) expect(want1[i]).toBeCloseTo(Math.tanh(x[i] * 0.75) + x[i] * y[i] + 1, 5);
    expect(addon.program(code as Int32Array, args(X, Y))).toBe(true); // out0 over x, out1 over y
    expect(bits(heap.subarray(X, X + size))).toEqual(bits(want0));
    expect(bits(heap.subarray(Y, Y + size))).toEqual(bits(want1));
  });
});
