// SPDX-License-Identifier: MIT
// Reductions over any axis sets, on strided views, with NaN, int32 wraparound and empty axes;
// references are computed by brute force over multi-indices.
import { describe, it, expect } from 'vitest';
import { HeedError, type ReduceOp } from '@heed/core';
import { at, cpu, indices, randomArray, read, size, view } from './util.js';

/** Brute-force reduction of `raw` viewed through (shape, strides, offset) over `axes`. */
function reference(op: 'sum' | 'prod' | 'max' | 'min', raw: ArrayLike<number>, shape: number[], strides: number[], offset: number, axes: number[]): number[] {
  const kept = shape.filter((_, d) => !axes.includes(d));
  const init = { sum: 0, prod: 1, max: -Infinity, min: Infinity }[op];
  const out = new Array<number>(size(kept)).fill(init);
  for (const idx of indices(shape)) {
    let o = 0;
    for (let d = 0, k = 0; d < shape.length; d++) {
      if (axes.includes(d)) continue;
      o = o * kept[k++] + idx[d];
    }
    const v = at(raw, { strides, offset }, idx);
    if (op === 'sum') out[o] += v;
    else if (op === 'prod') out[o] *= v;
    else if (op === 'max') out[o] = Math.max(out[o], v);
    else out[o] = Math.min(out[o], v);
  }
  return out;
}

function close(got: number[], want: number[], tol = 1e-5): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]))));
}

describe('reduce sum/prod/max/min', () => {
  const shape = [3, 4, 5, 2];
  const raw = randomArray(200, 7); // a larger buffer; the view starts at offset 7
  // a permuted, non-contiguous view: strides of a contiguous [5, 2, 3, 4] buffer, reordered
  const strides = [4, 1, 24, 12];
  const axisSets = [[0], [1], [2], [3], [1, 2], [0, 2], [0, 3], [1, 2, 3], [0, 1, 2, 3]];
  for (const op of ['sum', 'prod', 'max', 'min'] as const) {
    for (const axes of axisSets) {
      it(`${op} over [${axes.join(', ')}] of a permuted view`, () => {
        const v = view(raw, 'float32', shape, strides, 7);
        const kept = shape.filter((_, d) => !axes.includes(d));
        const got = read(cpu.reduce(op, v, axes, 'float32'), 'float32', size(kept));
        close(got, reference(op, raw, shape, strides, 7, axes), 1e-5);
      });
    }
  }

  it('reduces a middle axis of a contiguous tensor', () => {
    const v = view(Array.from({ length: 24 }, (_, i) => i), 'float32', [2, 3, 4]);
    expect(read(cpu.reduce('sum', v, [1], 'float32'), 'float32', 8)).toEqual([12, 15, 18, 21, 48, 51, 54, 57]);
  });

  it('sums broadcast (stride 0) views', () => {
    const v = view([1, 2, 3], 'float32', [4, 3], [0, 1]);
    expect(read(cpu.reduce('sum', v, [0], 'float32'), 'float32', 3)).toEqual([4, 8, 12]);
    expect(read(cpu.reduce('sum', v, [0, 1], 'float32'), 'float32', 1)).toEqual([24]);
  });

  it('accumulates float32 sums in float64', () => {
    const n = 1_000_000;
    const v = view(new Float32Array(n).fill(0.1), 'float32', [n]);
    const got = read(cpu.reduce('sum', v, [0], 'float32'), 'float32', 1)[0];
    expect(Math.abs(got - n * Math.fround(0.1))).toBeLessThan(0.01); // naive float32 would be off by ~1000
  });

  it('propagates NaN in max/min', () => {
    const v = view([1, NaN, 3, 4, 5, 6], 'float32', [2, 3]);
    const mx = read(cpu.reduce('max', v, [1], 'float32'), 'float32', 2);
    const mn = read(cpu.reduce('min', v, [0], 'float32'), 'float32', 3);
    expect(Number.isNaN(mx[0])).toBe(true);
    expect(mx[1]).toBe(6);
    expect(Number.isNaN(mn[1])).toBe(true);
    expect([mn[0], mn[2]]).toEqual([1, 3]);
  });

  it('wraps int32 sums and products; sums bools into int32', () => {
    const v = view([2147483647, 1, 65536, 65536], 'int32', [2, 2]);
    expect(read(cpu.reduce('sum', v, [1], 'int32'), 'int32', 2)).toEqual([-2147483648, 131072]);
    expect(read(cpu.reduce('prod', v, [1], 'int32'), 'int32', 2)).toEqual([2147483647, 0]);
    expect(read(cpu.reduce('sum', v, [0], 'int32'), 'int32', 2)).toEqual([-2147418113, 65537]);
    expect(read(cpu.reduce('max', v, [0, 1], 'int32'), 'int32', 1)).toEqual([2147483647]);
    const b = view([1, 0, 1, 1, 1, 0], 'bool', [2, 3]);
    expect(read(cpu.reduce('sum', b, [1], 'int32'), 'int32', 2)).toEqual([2, 2]);
    expect(read(cpu.reduce('max', b, [0], 'bool'), 'bool', 3)).toEqual([1, 1, 1]);
    expect(read(cpu.reduce('min', b, [0], 'bool'), 'bool', 3)).toEqual([1, 0, 0]);
  });

  it('gives sum 0 and prod 1 over an empty axis, and empty output for empty kept dims', () => {
    const v = view([], 'float32', [2, 0, 3]);
    expect(read(cpu.reduce('sum', v, [1], 'float32'), 'float32', 6)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(read(cpu.reduce('prod', v, [1], 'float32'), 'float32', 6)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(cpu.readSync(cpu.reduce('sum', v, [2], 'float32'), 'float32', 0).length).toBe(0);
    expect(read(cpu.reduce('sum', view([], 'int32', [0]), [0], 'int32'), 'int32', 1)).toEqual([0]);
  });

  it('reduces a scalar-shaped result from a rank-1 view', () => {
    expect(read(cpu.reduce('prod', view([2, 3, 4], 'float32', [3]), [0], 'float32'), 'float32', 1)).toEqual([24]);
  });

  it('rejects unsorted or out-of-range axes', () => {
    const v = view([1, 2, 3, 4], 'float32', [2, 2]);
    expect(() => cpu.reduce('sum', v, [1, 0], 'float32')).toThrow(HeedError);
    expect(() => cpu.reduce('sum', v, [2], 'float32')).toThrow(/axes/);
  });
});

describe('argmax/argmin', () => {
  it('returns the first extreme along one axis of a transposed view', () => {
    // logical [3, 4] = transpose of contiguous [4, 3]
    const raw = [5, 1, 9, 7, 1, 9, 5, 3, 2, 7, 0, 9];
    const v = view(raw, 'float32', [3, 4], [1, 3]);
    // rows: [5,7,5,7], [1,1,3,0], [9,9,2,9]
    expect(read(cpu.reduce('argmax', v, [1], 'int32'), 'int32', 3)).toEqual([1, 2, 0]);
    expect(read(cpu.reduce('argmin', v, [1], 'int32'), 'int32', 3)).toEqual([0, 3, 2]);
    expect(read(cpu.reduce('argmax', v, [0], 'int32'), 'int32', 4)).toEqual([2, 2, 0, 2]);
    expect(read(cpu.reduce('argmin', v, [0], 'int32'), 'int32', 4)).toEqual([1, 1, 2, 1]);
  });

  it('treats NaN as the extreme (first NaN wins) and handles ints and scalars', () => {
    const v = view([1, NaN, 5, NaN], 'float32', [4]);
    expect(read(cpu.reduce('argmax', v, [0], 'int32'), 'int32', 1)).toEqual([1]);
    expect(read(cpu.reduce('argmin', v, [0], 'int32'), 'int32', 1)).toEqual([1]);
    const iv = view([3, -2, 8, 8, -2], 'int32', [5]);
    expect(read(cpu.reduce('argmax', iv, [0], 'int32'), 'int32', 1)).toEqual([2]);
    expect(read(cpu.reduce('argmin', iv, [0], 'int32'), 'int32', 1)).toEqual([1]);
  });

  it('rejects several axes and empty axes', () => {
    const v = view([1, 2, 3, 4], 'float32', [2, 2]);
    expect(() => cpu.reduce('argmax' as ReduceOp, v, [0, 1], 'int32')).toThrow(/exactly one axis/);
    expect(() => cpu.reduce('argmax', view([], 'float32', [2, 0]), [1], 'int32')).toThrow(HeedError);
  });
});
