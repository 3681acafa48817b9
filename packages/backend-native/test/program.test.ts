// SPDX-License-Identifier: MIT
// The native program interpreter (native/program.c) behind the CPU backend's `elementwise`
// kernel: random fused programs over every op it runs, with special values (NaN, +-0, +-Inf,
// huge and tiny numbers) and both input layouts (contiguous runs, one element broadcast over a
// row, rows at a stride), must give bitwise the WASM programs' values on a backend of the same
// SIMD flavor (relaxed: fused multiply-adds in exp/tanh/sigmoid, simd: unfused) — and must
// really run natively. Malformed bytecode is refused; addresses outside the heap are errors.
import { describe, expect, it, vi } from 'vitest';
import type { ElementwiseExpr, ElementwiseProgram, StridedView } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { createNativeCpuBackend, loadAddon } from '@heed/backend-native';
import { nativeProgramPays } from '../../backend-cpu/src/fast/native-program.js';

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
          const shape = [1 + Math.floor(r() * 40), 1 + Math.floor(r() * 700)];
          const nIn = 1 + Math.floor(r() * 3);
          const program = randomProgram(shape, nIn, 2 + Math.floor(r() * 10), r);
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

describe('native program interpreter: refusals', () => {
  it('refuses malformed bytecode and throws for addresses outside the heap', () => {
    const { addon } = loadAddon();
    const be = createNativeCpuBackend({ threads: 1 });
    expect(be.fastInfo()).not.toBeNull();
    // [nExprs, nOut, nIn, nConst, flags, outputs..., exprs...]: out = neg(input 0)
    const good = Int32Array.from([2, 1, 1, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0]);
    const args = Float64Array.from([4, 1, 64, 0, 0]);
    const heap = new Float32Array(1024);
    addon.bind(heap); // the addon now points at this array: the last test of the file (files run in their own process)
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
