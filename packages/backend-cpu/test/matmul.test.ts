// SPDX-License-Identifier: MIT
// Batched matmul against a naive float64 triple loop, on transposed, broadcast (stride-0
// batch), offset and block-crossing shapes.
import { describe, it, expect } from 'vitest';
import type { StridedView } from '@heed/core';
import { at, cpu, randomArray, read } from './util.js';

interface Layout { transposed: boolean; broadcast: boolean; offset: number }

/** A [B, R, C] view over fresh random data with the requested layout. */
function operand(batch: number, rows: number, cols: number, layout: Layout, seed: number): { view: StridedView; raw: Float32Array } {
  const stored = layout.broadcast ? 1 : batch;
  const raw = randomArray(layout.offset + stored * rows * cols, seed);
  const bs = layout.broadcast ? 0 : rows * cols;
  // transposed: each batch stored as [cols, rows] contiguous, viewed as [rows, cols]
  const strides = layout.transposed ? [bs, 1, rows] : [bs, cols, 1];
  return { view: { data: cpu.upload(raw, 'float32'), dtype: 'float32', shape: [batch, rows, cols], strides, offset: layout.offset }, raw };
}

function naive(a: { view: StridedView; raw: Float32Array }, b: { view: StridedView; raw: Float32Array }): number[] {
  const [batch, m, k] = a.view.shape;
  const n = b.view.shape[2];
  const out = new Array<number>(batch * m * n).fill(0);
  for (let bi = 0; bi < batch; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += at(a.raw, a.view, [bi, i, p]) * at(b.raw, b.view, [bi, p, j]);
        out[(bi * m + i) * n + j] = s;
      }
    }
  }
  return out;
}

function expectClose(got: number[], want: number[]): void {
  expect(got.length).toBe(want.length);
  let scale = 1e-6;
  for (const w of want) scale = Math.max(scale, Math.abs(w));
  got.forEach((g, i) => {
    const err = Math.abs(g - want[i]);
    if (err > 1e-4 * Math.max(Math.abs(want[i]), 1e-2 * scale)) expect.fail(`element ${i}: got ${g}, want ${want[i]}`);
  });
}

describe('matmul', () => {
  const shapes: [number, number, number, number][] = [
    [1, 1, 1, 1], [1, 2, 3, 4], [3, 5, 7, 6], [2, 17, 9, 33], [1, 33, 1, 5], [2, 1, 64, 1], [1, 7, 300, 270], [1, 3, 513, 2],
  ];
  let seed = 1;
  for (const [batch, m, k, n] of shapes) {
    for (const ta of [false, true]) {
      for (const tb of [false, true]) {
        it(`[${batch},${m},${k}] @ [${batch},${k},${n}] a${ta ? 'ᵀ' : ''} b${tb ? 'ᵀ' : ''}`, () => {
          const a = operand(batch, m, k, { transposed: ta, broadcast: false, offset: 3 }, seed++);
          const b = operand(batch, k, n, { transposed: tb, broadcast: batch > 1, offset: 5 }, seed++);
          expectClose(read(cpu.matmul(a.view, b.view), 'float32', batch * m * n), naive(a, b));
        });
      }
    }
  }

  it('broadcasts the left operand over the batch', () => {
    const a = operand(4, 6, 5, { transposed: true, broadcast: true, offset: 0 }, 99);
    const b = operand(4, 5, 3, { transposed: false, broadcast: false, offset: 2 }, 100);
    expectClose(read(cpu.matmul(a.view, b.view), 'float32', 4 * 6 * 3), naive(a, b));
  });

  it('computes exact small products', () => {
    const a = operand(1, 2, 3, { transposed: false, broadcast: false, offset: 0 }, 1);
    const b = operand(1, 3, 2, { transposed: false, broadcast: false, offset: 0 }, 2);
    a.raw.set([1, 2, 3, 4, 5, 6]);
    b.raw.set([7, 8, 9, 10, 11, 12]);
    const av = { ...a.view, data: cpu.upload(a.raw, 'float32') };
    const bv = { ...b.view, data: cpu.upload(b.raw, 'float32') };
    expect(read(cpu.matmul(av, bv), 'float32', 4)).toEqual([58, 64, 139, 154]);
  });

  it('handles K = 0 (zeros) and empty outputs', () => {
    const a = operand(2, 3, 0, { transposed: false, broadcast: false, offset: 0 }, 1);
    const b = operand(2, 0, 4, { transposed: false, broadcast: false, offset: 0 }, 2);
    expect(read(cpu.matmul(a.view, b.view), 'float32', 24)).toEqual(new Array(24).fill(0));
    const e = operand(2, 0, 3, { transposed: false, broadcast: false, offset: 0 }, 3);
    const f = operand(2, 3, 4, { transposed: false, broadcast: false, offset: 0 }, 4);
    expect(cpu.readSync(cpu.matmul(e.view, f.view), 'float32', 0).length).toBe(0);
  });

  it('rejects mismatched shapes', () => {
    const a = operand(1, 2, 3, { transposed: false, broadcast: false, offset: 0 }, 1);
    const b = operand(1, 4, 2, { transposed: false, broadcast: false, offset: 0 }, 2);
    expect(() => cpu.matmul(a.view, b.view)).toThrow(/matmul/);
  });
});
