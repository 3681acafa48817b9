// SPDX-License-Identifier: MIT
// The shared strided walker: dimension collapsing (the contiguous fast path), run order over
// permuted/broadcast views, scalars and zero-size shapes.
import { describe, it, expect } from 'vitest';
import { StridedWalker, unravel } from '../src/strided.js';

/** Every (p0, p1) visited, in order. */
function visit(w: StridedWalker): [number, number][] {
  const out: [number, number][] = [];
  for (let r = 0; r < w.rows; r++, w.next()) {
    for (let j = 0; j < w.n; j++) out.push([w.p0 + j * w.s0, w.p1 + j * w.s1]);
  }
  return out;
}

describe('StridedWalker', () => {
  it('collapses same-layout contiguous views into one run', () => {
    const w = new StridedWalker([2, 3, 4], [12, 4, 1], 5, [12, 4, 1], 0);
    expect([w.rows, w.n, w.s0, w.s1, w.p0]).toEqual([1, 24, 1, 1, 5]);
  });

  it('drops size-1 dims and merges only where every operand is contiguous', () => {
    const w = new StridedWalker([2, 1, 3, 4], [12, 99, 4, 1], 0, [0, 7, 0, 1], 0); // b broadcasts rows
    expect([w.rows, w.n]).toEqual([6, 4]);
    const pairs = visit(w);
    expect(pairs.length).toBe(24);
    pairs.forEach(([pa, pb], flat) => {
      const [i, , j, k] = unravel(flat, [2, 1, 3, 4]);
      expect(pa).toBe(i * 12 + j * 4 + k);
      expect(pb).toBe(k);
    });
  });

  it('walks a transposed view in logical row-major order and wraps back to the start', () => {
    const w = new StridedWalker([3, 2], [1, 3], 0);
    expect(visit(w).map((p) => p[0])).toEqual([0, 3, 1, 4, 2, 5]);
    expect(w.p0).toBe(0);
  });

  it('handles scalars and zero-size shapes', () => {
    const s = new StridedWalker([], [], 4);
    expect([s.rows, s.n, s.p0]).toEqual([1, 1, 4]);
    const z = new StridedWalker([3, 0, 2], [0, 2, 1], 0);
    expect(z.rows).toBe(0);
  });
});
