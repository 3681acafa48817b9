// SPDX-License-Identifier: MIT
// Batched matmul against a naive float64 triple loop, on transposed, broadcast (stride-0
// batch), offset and block-crossing shapes.
import { describe, it, expect } from 'vitest';
import * as heed from '@heed/core';
import type { StridedView } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
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

describe('core matmul on a backend with two batch dims (capabilities.matmulBatchDims = 2)', () => {
  it('passes attention heads permuted out of [B, T, H, D] as [B, H, T, D] views, with no copy, and the same values', async () => {
    const inner = new CpuBackend({ fast: false });
    const seen: number[][] = [];
    let copies = 0;
    // the reference kernels take rank 3: this backend runs a rank-4 product one leading batch at a time
    const twoBatch = new Proxy(inner, {
      get(target, key) {
        if (key === 'name') return 'two-batch';
        if (key === 'capabilities') return { ...target.capabilities, matmulBatchDims: 2 };
        if (key === 'copy') return (v: StridedView) => { copies++; return target.copy(v); };
        if (key === 'matmul') {
          return (a: StridedView, b: StridedView) => {
            seen.push([...a.shape]);
            if (a.shape.length === 3) return target.matmul(a, b);
            const [B1, B2, M] = a.shape, N = b.shape[3];
            const out = new Float32Array(B1 * B2 * M * N);
            for (let i = 0; i < B1; i++) {
              const part = (v: StridedView): StridedView => ({ ...v, shape: v.shape.slice(1), strides: v.strides.slice(1), offset: v.offset + i * v.strides[0] });
              out.set(target.readSync(target.matmul(part(a), part(b)), 'float32', B2 * M * N) as Float32Array, i * B2 * M * N);
            }
            return target.upload(out, 'float32');
          };
        }
        const v: unknown = Reflect.get(target, key);
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    heed.registerBackend({ name: 'two-batch', priority: -10, create: () => twoBatch });
    const oneBatch = new CpuBackend({ fast: false });
    heed.registerBackend({ name: 'one-batch', priority: -10, create: () => new Proxy(oneBatch, {
      get(target, key) {
        if (key === 'name') return 'one-batch';
        const v: unknown = Reflect.get(target, key);
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    }) });
    try {
      const scores = async (backend: string) => {
        const q = heed.tensor(randomArray(2 * 9 * 3 * 5, 11), { shape: [2, 9, 3, 5], backend });
        const k = heed.tensor(randomArray(2 * 9 * 3 * 5, 12), { shape: [2, 9, 3, 5], backend });
        const s = heed.matmul(q.permute([0, 2, 1, 3]), k.permute([0, 2, 3, 1])); // [2, 3, 9, 9]
        const out = Array.from(await s.data());
        for (const t of [q, k, s]) t.dispose();
        return out;
      };
      const want = await scores('one-batch');
      copies = 0;
      expect(await scores('two-batch')).toEqual(want);
      expect(seen).toEqual([[2, 3, 9, 5]]);
      expect(copies).toBe(0);
    } finally {
      heed.removeBackend('two-batch');
      heed.removeBackend('one-batch');
    }
  });
});
