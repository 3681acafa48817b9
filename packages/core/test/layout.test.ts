// SPDX-License-Identifier: MIT
// Core's layout helpers for backend authors: contiguous strides, isContiguous, broadcast
// strides, unravelIndex, coalesceDims and StridedWalker (dimension collapsing, run order over
// permuted/broadcast views, scalars and zero-size shapes). Every visited element is checked
// against plain index arithmetic (sum of index * stride), independent of the helpers.
import { describe, expect, it } from 'vitest';
import {
  StridedWalker, broadcastStrides, coalesceDims, contiguousStrides, isContiguous, sizeOf, unravelIndex,
} from '@heed/core';

/** Offset of multi-index `idx` under `strides` + `offset` (the oracle). */
function at(idx: readonly number[], strides: readonly number[], offset: number): number {
  return idx.reduce((p, i, d) => p + i * (strides[d] ?? 0), offset);
}

/** Every multi-index of `shape` in row-major order, by counting (not by unravelIndex). */
function allIndices(shape: readonly number[]): number[][] {
  const out: number[][] = [];
  const idx = shape.map(() => 0);
  if (shape.some((d) => d === 0)) return out;
  for (;;) {
    out.push([...idx]);
    let d = shape.length - 1;
    while (d >= 0 && ++idx[d] === shape[d]) idx[d--] = 0;
    if (d < 0) return out;
  }
}

/** Every (p0, p1, p2) the walker visits, in order. */
function visit(w: StridedWalker): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let r = 0; r < w.rows; r++, w.next()) {
    for (let j = 0; j < w.n; j++) out.push([w.p0 + j * w.s0, w.p1 + j * w.s1, w.p2 + j * w.s2]);
  }
  return out;
}

describe('shape arithmetic', () => {
  it('sizeOf, contiguousStrides and isContiguous', () => {
    expect(sizeOf([2, 3, 4])).toBe(24);
    expect(sizeOf([])).toBe(1);
    expect(sizeOf([3, 0])).toBe(0);
    expect(contiguousStrides([2, 3, 4])).toEqual([12, 4, 1]);
    expect(contiguousStrides([])).toEqual([]);
    expect(isContiguous([2, 3], [3, 1])).toBe(true);
    expect(isContiguous([3, 2], [1, 3])).toBe(false);
    expect(isContiguous([2, 1, 3], [3, 99, 1])).toBe(true);
    expect(isContiguous([4, 3], [0, 1])).toBe(false); // broadcast rows
  });

  it('broadcastStrides puts 0 on new and stretched dims', () => {
    expect(broadcastStrides([3], [1], [2, 3])).toEqual([0, 1]);
    expect(broadcastStrides([2, 1], [5, 7], [2, 4])).toEqual([5, 0]);
  });

  it('unravelIndex inverts row-major flattening', () => {
    const shape = [2, 3, 4];
    allIndices(shape).forEach((idx, flat) => expect(unravelIndex(flat, shape)).toEqual(idx));
    expect(unravelIndex(0, [])).toEqual([]);
    expect(unravelIndex(0, [0, 3])).toEqual([0, 0]);
  });
});

describe('coalesceDims', () => {
  it('merges dims every operand walks as one run and drops size-1 dims', () => {
    expect(coalesceDims([2, 3, 4], [[12, 4, 1], [0, 4, 1]])).toEqual({ shape: [2, 12], strides: [[12, 1], [0, 1]] });
    expect(coalesceDims([4, 1, 5], [[5, 77, 1]])).toEqual({ shape: [20], strides: [[1]] });
    expect(coalesceDims([3, 2], [[1, 3]])).toEqual({ shape: [3, 2], strides: [[1, 3]] });
    expect(coalesceDims([], [[], []])).toEqual({ shape: [], strides: [[], []] });
    expect(coalesceDims([2, 3], [[3, 1], []])).toEqual({ shape: [6], strides: [[1], [0]] }); // [] = broadcast scalar
  });

  it('keeps every element where it was, for random layouts', () => {
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
    for (let trial = 0; trial < 200; trial++) {
      const rank = rand(5);
      const shape = Array.from({ length: rank }, () => rand(4) + 1);
      const ops = Array.from({ length: 1 + rand(3) }, () => {
        const kind = rand(3);
        if (kind === 0) return contiguousStrides(shape);
        if (kind === 1) return shape.map(() => rand(3) === 0 ? 0 : rand(7) + 1); // arbitrary strides, some broadcast
        const perm = contiguousStrides([...shape].reverse()).reverse(); // column-major
        return perm;
      });
      const c = coalesceDims(shape, ops);
      expect(sizeOf(c.shape)).toBe(sizeOf(shape));
      expect(c.shape.includes(1)).toBe(false);
      const merged = allIndices(c.shape);
      allIndices(shape).forEach((idx, flat) => {
        for (let k = 0; k < ops.length; k++) expect(at(merged[flat], c.strides[k], 0)).toBe(at(idx, ops[k], 0));
      });
    }
  });
});

describe('StridedWalker', () => {
  it('collapses same-layout contiguous views into one run', () => {
    const w = new StridedWalker([2, 3, 4], [12, 4, 1], 5, [12, 4, 1], 0);
    expect([w.rows, w.n, w.s0, w.s1, w.p0]).toEqual([1, 24, 1, 1, 5]);
  });

  it('drops size-1 dims and merges only where every operand is contiguous', () => {
    const w = new StridedWalker([2, 1, 3, 4], [12, 99, 4, 1], 0, [0, 7, 0, 1], 0); // b broadcasts rows
    expect([w.rows, w.n]).toEqual([6, 4]);
    const seen = visit(w);
    expect(seen.length).toBe(24);
    seen.forEach(([pa, pb], flat) => {
      const [i, , j, k] = unravelIndex(flat, [2, 1, 3, 4]);
      expect(pa).toBe(i * 12 + j * 4 + k);
      expect(pb).toBe(k);
    });
  });

  it('walks a transposed view in logical row-major order and wraps back to the start', () => {
    const w = new StridedWalker([3, 2], [1, 3], 0);
    expect(visit(w).map((p) => p[0])).toEqual([0, 3, 1, 4, 2, 5]);
    expect(w.p0).toBe(0);
  });

  it('visits three permuted, broadcast and offset operands exactly like index arithmetic', () => {
    const shape = [2, 3, 4, 2];
    const a = { strides: [1, 2, 6, 24], offset: 3 }; // fully reversed
    const b = { strides: [0, 8, 2, 1], offset: 1 }; // broadcast over dim 0
    const c = contiguousStrides(shape);
    const w = new StridedWalker(shape, a.strides, a.offset, b.strides, b.offset, c, 10);
    const seen = visit(w);
    const want = allIndices(shape).map((idx) => [at(idx, a.strides, a.offset), at(idx, b.strides, b.offset), at(idx, c, 10)]);
    expect(seen).toEqual(want);
    expect([w.p0, w.p1, w.p2]).toEqual([3, 1, 10]); // back at the start
  });

  it('handles scalars and zero-size shapes', () => {
    const s = new StridedWalker([], [], 4);
    expect([s.rows, s.n, s.p0]).toEqual([1, 1, 4]);
    const z = new StridedWalker([3, 0, 2], [0, 2, 1], 0);
    expect(z.rows).toBe(0);
  });
});
