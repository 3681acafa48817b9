// SPDX-License-Identifier: MIT
// copy, concat, gather, indexSelect and scatterAdd on strided inputs, plus the out-of-range
// index errors (op name, bad value, valid range; inputs untouched).
import { describe, it, expect } from 'vitest';
import { HeedError } from '@heed/core';
import { cpu, read, view } from './util.js';

describe('copy and concat', () => {
  it('copies a transposed, offset view into row-major order', () => {
    const x = view([0, 1, 2, 3, 4, 5, 6], 'float32', [3, 2], [1, 3], 1); // transpose of [[1,2,3],[4,5,6]]
    expect(read(cpu.copy(x), 'float32', 6)).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('copies long contiguous runs, broadcasts, scalars and empty views', () => {
    const long = Array.from({ length: 100 }, (_, i) => i);
    expect(read(cpu.copy(view(long, 'int32', [2, 40], [50, 1], 5)), 'int32', 80)).toEqual([
      ...long.slice(5, 45), ...long.slice(55, 95),
    ]);
    expect(read(cpu.copy(view([7, 8], 'bool', [3, 2], [0, 1])), 'bool', 6)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(read(cpu.copy(view([4, 5, 6], 'float32', [], [], 2)), 'float32', 1)).toEqual([6]);
    expect(cpu.readSync(cpu.copy(view([], 'float32', [0, 4])), 'float32', 0).length).toBe(0);
  });

  it('concatenates strided inputs along the middle axis', () => {
    const a = view([1, 2, 3, 4], 'int32', [2, 1, 2]);
    const b = view([5, 6, 7, 8, 9, 10, 11, 12], 'int32', [2, 2, 2], [1, 2, 4]); // permuted
    const c = view([0], 'int32', [2, 0, 2]);
    // b[i, j, k] = 5 + i + 2j + 4k
    expect(read(cpu.concat([a, c, b], 1), 'int32', 12)).toEqual([1, 2, 5, 9, 7, 11, 3, 4, 6, 10, 8, 12]);
  });

  it('concatenates along the first and last axes', () => {
    const a = view([1, 2, 3, 4], 'float32', [2, 2]);
    const b = view([5, 6], 'float32', [1, 2]);
    expect(read(cpu.concat([a, b], 0), 'float32', 6)).toEqual([1, 2, 3, 4, 5, 6]);
    const c = view([5, 6], 'float32', [2, 1]);
    expect(read(cpu.concat([a, c], 1), 'float32', 6)).toEqual([1, 2, 5, 3, 4, 6]);
  });
});

describe('gather', () => {
  it('follows torch.gather along axis 1 and axis 0', () => {
    const x = view([1, 2, 3, 4], 'float32', [2, 2]);
    expect(read(cpu.gather(x, 1, view([0, 0, 1, 0], 'int32', [2, 2])), 'float32', 4)).toEqual([1, 1, 4, 3]);
    const y = view([1, 2, 3, 4, 5, 6], 'float32', [3, 2]);
    expect(read(cpu.gather(y, 0, view([2, 0, 1, 1], 'int32', [2, 2])), 'float32', 4)).toEqual([5, 2, 3, 4]);
  });

  it('accepts smaller index shapes and strided x/index', () => {
    // x: transpose of [[1,2,3],[4,5,6],[7,8,9]] -> [[1,4,7],[2,5,8],[3,6,9]]
    const x = view([1, 2, 3, 4, 5, 6, 7, 8, 9], 'int32', [3, 3], [1, 3]);
    const index = view([2, 0, 9, 1, 1, 9], 'int32', [2, 2], [3, 1]); // [[2,0],[1,1]]
    expect(read(cpu.gather(x, 1, index), 'int32', 4)).toEqual([7, 1, 5, 5]);
  });

  it('throws a HeedError naming the op, the value and the valid range', () => {
    const x = view([1, 2, 3, 4], 'float32', [2, 2]);
    const run = () => cpu.gather(x, 1, view([0, 1, 2, 0], 'int32', [2, 2]));
    expect(run).toThrow(HeedError);
    expect(run).toThrow(/^gather: index 2 at index position \[1, 0\] is out of range: valid indices are 0\.\.1/);
    expect(() => cpu.gather(x, 0, view([-1], 'int32', [1, 1]))).toThrow(/index -1 .*0\.\.1/);
    expect(read(x.data, 'float32', 4)).toEqual([1, 2, 3, 4]);
  });
});

describe('indexSelect', () => {
  it('picks rows and columns, with a strided index', () => {
    const x = view([1, 2, 3, 4, 5, 6], 'float32', [3, 2]);
    const idx = view([2, 7, 0, 7, 2], 'int32', [3], [2]); // [2, 0, 2]
    expect(read(cpu.indexSelect(x, 0, idx), 'float32', 6)).toEqual([5, 6, 1, 2, 5, 6]);
    const cols = view([1, 1, 0], 'int32', [3]);
    expect(read(cpu.indexSelect(x, 1, cols), 'float32', 9)).toEqual([2, 2, 1, 4, 4, 3, 6, 6, 5]);
  });

  it('selects along the middle axis of a 3-d view and handles an empty index', () => {
    const x = view(Array.from({ length: 24 }, (_, i) => i), 'int32', [2, 3, 4]);
    const got = read(cpu.indexSelect(x, 1, view([2, 0], 'int32', [2])), 'int32', 16);
    expect(got).toEqual([8, 9, 10, 11, 0, 1, 2, 3, 20, 21, 22, 23, 12, 13, 14, 15]);
    expect(cpu.readSync(cpu.indexSelect(x, 1, view([], 'int32', [0])), 'int32', 0).length).toBe(0);
  });

  it('rejects out-of-range indices with the position and the range', () => {
    const x = view([1, 2, 3, 4, 5, 6], 'float32', [3, 2]);
    expect(() => cpu.indexSelect(x, 0, view([0, 3], 'int32', [2]))).toThrow(
      /^indexSelect: index 3 at position 1 of the index is out of range: valid indices are 0\.\.2 \(axis 0 has size 3\)/,
    );
    expect(() => cpu.indexSelect(view([], 'float32', [0, 2]), 0, view([0], 'int32', [1]))).toThrow(/size 0/);
  });
});

describe('scatterAdd', () => {
  it('accumulates duplicates into zeros of the target shape', () => {
    const out = cpu.scatterAdd([3], 0, view([0, 0, 2], 'int32', [3]), view([1, 2, 3], 'float32', [3]));
    expect(read(out, 'float32', 3)).toEqual([3, 0, 3]);
  });

  it('is the adjoint of gather along axis 1 (strided src, int32)', () => {
    const index = view([0, 2, 2, 1], 'int32', [2, 2]);
    const src = view([10, 30, 20, 40], 'int32', [2, 2], [1, 2]); // [[10,20],[30,40]]
    expect(read(cpu.scatterAdd([2, 3], 1, index, src), 'int32', 6)).toEqual([10, 0, 20, 0, 40, 30]);
  });

  it('wraps int32 sums and ORs bools', () => {
    const int = cpu.scatterAdd([1], 0, view([0, 0], 'int32', [2]), view([2147483647, 1], 'int32', [2]));
    expect(read(int, 'int32', 1)).toEqual([-2147483648]);
    const b = cpu.scatterAdd([2], 0, view([1, 1, 1], 'int32', [3]), view([1, 1, 0], 'bool', [3]));
    expect(read(b, 'bool', 2)).toEqual([0, 1]);
  });

  it('rejects out-of-range indices without touching its inputs', () => {
    const index = view([0, 5], 'int32', [2]);
    const src = view([1, 2], 'float32', [2]);
    expect(() => cpu.scatterAdd([3], 0, index, src)).toThrow(
      /^scatterAdd: index 5 at index position \[1\] is out of range: valid indices are 0\.\.2/,
    );
    expect(read(src.data, 'float32', 2)).toEqual([1, 2]);
    expect(read(index.data, 'int32', 2)).toEqual([0, 5]);
  });
});
