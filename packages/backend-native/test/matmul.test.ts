// SPDX-License-Identifier: MIT
// Native batched matmul (OpenBLAS sgemm, or small_gemm.c's kernel for products of at most 64^3
// multiply-adds, on the heap in place) against a float64 triple loop, on the layouts BLAS takes
// directly (row- and column-major operands, stride-0 batch broadcast, offsets, degenerate dims;
// shapes on both sides of the small kernel's limit and off its 6 x 16 tiles and 8 x 8 transposes)
// and on ones it must decline (then the WASM kernel runs); a counting
// provider proves which path ran. Also the epilogue codes (bias, matrix, activations) called on
// the kernel directly, and out-of-range addresses rejected before any write.
import { describe, expect, it, vi } from 'vitest';
import type { DataId, StridedView } from '@heed/core';
import { CpuBackend, MATMUL_ACTIVATION, MATMUL_EPILOGUE, type NativeKernels } from '@heed/backend-cpu';
import { loadAddon } from '@heed/backend-native';
import { randomFloats as random } from './random-data.mjs';

const { addon } = loadAddon();
addon.setThreads(2);
let calls = 0;
let ran = 0;
const counted: NativeKernels = {
  bind: (h) => addon.bind(h),
  matmul: (...args) => { calls++; const ok = addon.matmul(...args); if (ok) ran++; return ok; },
};
const cpu = new CpuBackend({ threads: 2, native: { name: 'counted OpenBLAS', kernels: counted } });

interface Operand { view: StridedView; raw: Float32Array }
type Layout = 'rows' | 'cols' | 'strided';

function operand(batch: number, rows: number, cols: number, layout: Layout, broadcast: boolean, offset: number, seed: number): Operand {
  const stored = broadcast ? 1 : batch;
  const pad = layout === 'strided' ? 2 : 1; // 'strided': every element 2 apart, neither dim unit-stride
  const raw = random(offset + stored * rows * cols * pad, seed);
  const bs = broadcast ? 0 : rows * cols * pad;
  const strides = layout === 'rows' ? [bs, cols, 1] : layout === 'cols' ? [bs, 1, rows] : [bs, cols * 2, 2];
  return { view: { data: cpu.upload(raw, 'float32'), dtype: 'float32', shape: [batch, rows, cols], strides, offset }, raw };
}

const at = (o: Operand, i: number, j: number, b: number) => o.raw[o.view.offset + b * o.view.strides[0] + i * o.view.strides[1] + j * o.view.strides[2]];

function naive(a: Operand, b: Operand): Float64Array {
  const [batch, m, k] = a.view.shape;
  const n = b.view.shape[2];
  const out = new Float64Array(batch * m * n);
  for (let bi = 0; bi < batch; bi++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += at(a, i, p, bi) * at(b, p, j, bi);
    out[(bi * m + i) * n + j] = s;
  }
  return out;
}

function expectClose(id: DataId, want: Float64Array, tol = 2e-5): void {
  const got = cpu.readSync(id, 'float32', want.length);
  let scale = 1;
  for (const w of want) scale = Math.max(scale, Math.abs(w));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst / scale).toBeLessThan(tol);
}

describe('native matmul', () => {
  // [batch, m, n, k]: the small kernel takes all but [1, 130, 70, 257] and [2, 65, 64, 64] (just over its limit)
  const cases: [number, number, number, number][] = [
    [1, 1, 1, 1], [1, 7, 5, 3], [3, 17, 33, 9], [2, 64, 48, 80], [1, 130, 70, 257], [12, 9, 16, 8],
    [5, 13, 23, 19], [3, 6, 16, 8], [4, 64, 64, 64], [2, 65, 64, 64], [2, 1, 40, 24], [3, 64, 64, 32],
  ];
  for (const [batch, m, n, k] of cases) {
    for (const la of ['rows', 'cols'] as const) {
      for (const lb of ['rows', 'cols'] as const) {
        it(`[${batch},${m},${k}] (${la}) @ [${batch},${k},${n}] (${lb}) runs natively`, () => {
          const a = operand(batch, m, k, la, false, 3, 11 + m);
          const b = operand(batch, k, n, lb, batch > 1, 5, 17 + n);
          const before = ran;
          const out = cpu.matmul(a.view, b.view);
          expect(ran).toBe(before + 1);
          expectClose(out, naive(a, b));
          for (const v of [a.view.data, b.view.data, out]) cpu.free(v);
        });
      }
    }
  }

  it('declines a layout BLAS cannot express, and the WASM kernel computes it', () => {
    const a = operand(2, 6, 5, 'strided', false, 0, 3);
    const b = operand(2, 5, 4, 'rows', false, 0, 4);
    const before = { calls, ran };
    const out = cpu.matmul(a.view, b.view);
    expect(calls).toBe(before.calls + 1);
    expect(ran).toBe(before.ran);
    expectClose(out, naive(a, b));
  });

  it('reads attention heads permuted out of [B, T, H, D] (two batch dims) in place: one native call, bitwise the copied rank-3 product', () => {
    const [B, T, H, D] = [3, 10, 4, 6];
    const q = cpu.upload(random(B * T * H * D, 21), 'float32'), kk = cpu.upload(random(B * T * H * D, 22), 'float32');
    // q as [B, H, T, D] and k^T as [B, H, D, T], both views of [B, T, H, D] buffers
    const qv: StridedView = { data: q, dtype: 'float32', shape: [B, H, T, D], strides: [T * H * D, D, H * D, 1], offset: 0 };
    const kv: StridedView = { data: kk, dtype: 'float32', shape: [B, H, D, T], strides: [T * H * D, D, 1, H * D], offset: 0 };
    const before = { calls, ran };
    const copies = vi.spyOn(cpu, 'copy');
    const out = cpu.matmul(qv, kv);
    expect(copies).not.toHaveBeenCalled();
    copies.mockRestore();
    expect({ calls: calls - before.calls, ran: ran - before.ran }).toEqual({ calls: 1, ran: 1 });
    const q3 = cpu.copy(qv), k3 = cpu.copy(kv);
    const want = cpu.matmul({ data: q3, dtype: 'float32', shape: [B * H, T, D], strides: [T * D, D, 1], offset: 0 }, { data: k3, dtype: 'float32', shape: [B * H, D, T], strides: [T * D, T, 1], offset: 0 });
    expect(Array.from(cpu.readSync(out, 'float32', B * H * T * T))).toEqual(Array.from(cpu.readSync(want, 'float32', B * H * T * T)));
    for (const id of [q, kk, out, q3, k3, want]) cpu.free(id);
  });

  it('a rank-4 layout BLAS cannot express (no unit stride) is copied to rank 3 first, then runs natively', () => {
    const [B1, B2, M, K, N] = [2, 3, 4, 5, 3];
    const raw = random(B1 * B2 * M * K * 2, 23), rawB = random(B1 * B2 * K * N, 24);
    // a: heads permuted out of [B1, M, B2, K] with every element two floats apart (no unit stride, batch dims that do not merge); b: contiguous
    const at = (p1: number, p2: number, i: number, q: number) => p1 * M * B2 * K * 2 + i * B2 * K * 2 + p2 * K * 2 + q * 2;
    const a: StridedView = { data: cpu.upload(raw, 'float32'), dtype: 'float32', shape: [B1, B2, M, K], strides: [M * B2 * K * 2, K * 2, B2 * K * 2, 2], offset: 0 };
    const b: StridedView = { data: cpu.upload(rawB, 'float32'), dtype: 'float32', shape: [B1, B2, K, N], strides: [B2 * K * N, K * N, N, 1], offset: 0 };
    const before = { calls, ran };
    const out = cpu.matmul(a, b);
    expect({ calls: calls - before.calls, ran: ran - before.ran }).toEqual({ calls: 2, ran: 1 });
    const got = cpu.readSync(out, 'float32', B1 * B2 * M * N);
    for (let p = 0; p < B1 * B2; p++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let s = 0;
      for (let q = 0; q < K; q++) s += raw[at(Math.floor(p / B2), p % B2, i, q)] * rawB[p * K * N + q * N + j];
      expect(got[(p * M + i) * N + j]).toBeCloseTo(s, 5);
    }
    for (const id of [a.data, b.data, out]) cpu.free(id);
  });

  it('k = 0 gives zeros', () => {
    const a = operand(1, 3, 0, 'rows', false, 0, 1);
    const b = operand(1, 0, 4, 'rows', false, 0, 2);
    expect(Array.from(cpu.readSync(cpu.matmul(a.view, b.view), 'float32', 12))).toEqual(new Array(12).fill(0));
  });

  it('reads operands that live outside the heap (reference-kernel buffers)', () => {
    const ref = new CpuBackend({ fast: false });
    const raw = random(12, 9);
    const a: StridedView = { data: ref.upload(raw, 'float32'), dtype: 'float32', shape: [1, 3, 4], strides: [12, 4, 1], offset: 0 };
    const b: StridedView = { data: ref.upload(raw, 'float32'), dtype: 'float32', shape: [1, 4, 3], strides: [12, 1, 4], offset: 0 };
    const want = naive({ view: a, raw }, { view: b, raw });
    const before = ran;
    expectClose(cpu.matmul(a, b), want);
    expect(ran).toBe(before + 1);
  });
});

describe('native matmul epilogues (kernel level)', () => {
  // Addresses come from heap buffers the backend allocated; the kernel writes into `c`.
  const addr = (id: DataId) => (id as unknown as { ptr: number }).ptr;
  // two batch dims: outer 2 x batch 2 products; A has its own [m, k] per product, B one [k, n] per outer index.
  // n = 7 ends in a partial tile of the small kernel, n = 32 has only whole 16-wide tiles.
  const batch = 2, outer = 2, total = outer * batch;
  const acts: [keyof typeof MATMUL_ACTIVATION, (x: number) => number][] = [
    ['none', (x) => x], ['relu', (x) => Math.max(0, x)],
    ['gelu', (x) => 0.5 * x * (1 + erf(x / Math.SQRT2))],
    ['geluTanh', (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))],
  ];
  for (const [m, n, k] of [[5, 7, 6], [7, 32, 9]]) {
    const A = random(total * m * k, 1), B = random(outer * k * n, 2), bias = random(n, 3), res = random(total * m * n, 4);
    for (const epi of ['none', 'bias', 'matrix'] as const) {
      for (const [act, f] of acts) {
        it(`[${m}, ${k}] @ [${k}, ${n}], epilogue ${epi}, activation ${act}`, () => {
          const ids = [A, B, bias, res].map((v) => cpu.upload(v, 'float32'));
          const c = cpu.fill(total * m * n, 0, 'float32');
          cpu.matmul({ data: ids[0], dtype: 'float32', shape: [1, 1, 1], strides: [1, 1, 1], offset: 0 }, { data: ids[1], dtype: 'float32', shape: [1, 1, 1], strides: [1, 1, 1], offset: 0 }); // binds the heap
          const e = epi === 'bias' ? addr(ids[2]) : epi === 'matrix' ? addr(ids[3]) : 0;
          expect(addon.matmul(batch, m, n, k, addr(ids[0]), m * k, k, 1, addr(ids[1]), 0, n, 1, addr(c), MATMUL_EPILOGUE[epi], e, MATMUL_ACTIVATION[act], outer, batch * m * k, k * n)).toBe(true);
          const got = cpu.readSync(c, 'float32', total * m * n);
          for (let bi = 0; bi < total; bi++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
            let s = 0;
            const bo = Math.floor(bi / batch) * k * n;
            for (let p = 0; p < k; p++) s += A[bi * m * k + i * k + p] * B[bo + p * n + j];
            if (epi === 'bias') s += bias[j];
            if (epi === 'matrix') s += res[(bi * m + i) * n + j];
            expect(got[(bi * m + i) * n + j]).toBeCloseTo(f(s), 5);
          }
        });
      }
    }
  }

  it('rejects an output address outside the heap before writing', () => {
    expect(() => addon.matmul(1, 2, 2, 2, 0, 0, 2, 1, 0, 0, 2, 1, 2 ** 40, 0, 0, 0, 1, 0, 0)).toThrow(/outside the bound memory/);
  });

  it('rejects an outer stride that reaches outside the heap before writing', () => {
    expect(() => addon.matmul(1, 2, 2, 2, 0, 0, 2, 1, 0, 0, 2, 1, 0, 0, 0, 0, 2, 2 ** 40, 0)).toThrow(/outside the bound memory/);
  });
});

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 5 digits; integrate the series instead.
  let sum = 0, term = x;
  for (let i = 0; i < 60; i++) {
    sum += term / (2 * i + 1);
    term *= (-x * x) / (i + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
