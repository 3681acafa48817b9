// SPDX-License-Identifier: MIT
// The fused argsort and topk kernels on WebGPU against an independent oracle (JS's sort with
// PyTorch's order: NaN largest, ties by index): rows with many ties, NaN and infinities,
// int32 rows, long rows (the bitonic path of argsort), several tournament levels for topk (long rows, small and large k), and topk's
// decline above k = 1024 (core then keeps the first k of the fused argsort).
import { describe, expect, it } from 'vitest';
import { argsort, registerBackend, tensor, topk } from '@heed/core';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, skipReason } from './gpu.js';

function oracle(row: ArrayLike<number>, descending: boolean): number[] {
  const nan = (v: number) => (Number.isNaN(v) ? 1 : 0);
  return Array.from(row, (_, i) => i).sort((a, b) => {
    const va = row[a];
    const vb = row[b];
    let c = nan(va) - nan(vb) || (va < vb ? -1 : va > vb ? 1 : 0);
    if (descending) c = -c;
    return c || a - b;
  });
}

function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    out[i] = u < 0.02 ? NaN : u < 0.03 ? Infinity : u < 0.04 ? -Infinity : u < 0.05 ? -0 : Math.round(u * 300) / 10 - 15;
  }
  return out;
}

const rowsOf = (flat: ArrayLike<number>, n: number) => Array.from({ length: flat.length / n }, (_, r) => Array.from(flat).slice(r * n, (r + 1) * n));

describe.skipIf(!device)(`webgpu argsort/topk${skipReason ? ` (${skipReason})` : ''}`, () => {
  const backend = device ? new WebGPUBackend(device, {}, 'webgpu-sorting') : null;
  if (backend) registerBackend({ name: 'webgpu-sorting', priority: -1, create: () => backend });

  it.each([false, true])('argsort of rows with ties, NaN, infinities and -0 (descending %s)', async (descending) => {
    const data = values(3 * 300, 7);
    const x = tensor(data, { shape: [3, 300], backend: 'webgpu-sorting' });
    const idx = argsort(x, { descending });
    const got = rowsOf(await idx.data(), 300);
    rowsOf(data, 300).forEach((row, r) => expect(got[r]).toEqual(oracle(row, descending)));
    x.dispose(); idx.dispose();
  });

  it.each([[false, 3000], [true, 5000], [true, 1025]] as const)('argsort of long rows: the bitonic sort (descending %s, n = %i)', async (descending, n) => {
    const data = values(2 * n, n);
    const x = tensor(data, { shape: [2, n], backend: 'webgpu-sorting' });
    const idx = argsort(x, { descending });
    const got = rowsOf(await idx.data(), n);
    rowsOf(data, n).forEach((row, r) => expect(got[r]).toEqual(oracle(row, descending)));
    x.dispose(); idx.dispose();
  });

  it.each([[1, true], [10, false], [50, true], [300, true], [1100, false]] as const)('topk k=%i (largest %s) over rows of 4000', async (k, largest) => {
    const data = values(2 * 4000, 11 + k);
    const x = tensor(data, { shape: [2, 4000], backend: 'webgpu-sorting' });
    const { values: v, indices } = topk(x, k, { largest });
    const got = rowsOf(await indices.data(), k);
    rowsOf(data, 4000).forEach((row, r) => expect(got[r]).toEqual(oracle(row, largest).slice(0, k)));
    x.dispose(); v.dispose(); indices.dispose();
  });

  it('topk and argsort of int32 rows', async () => {
    const data = Int32Array.from({ length: 2 * 700 }, (_, i) => ((i * 7919) % 23) - 11 + (i % 3 === 0 ? 2147483000 : 0) - (i % 5 === 0 ? 2147483000 : 0));
    const x = tensor(data, { shape: [2, 700], dtype: 'int32', backend: 'webgpu-sorting' });
    const { values: v, indices } = topk(x, 20);
    expect(rowsOf(await indices.data(), 20)).toEqual(rowsOf(data, 700).map((row) => oracle(row, true).slice(0, 20)));
    const s = argsort(x);
    expect(rowsOf(await s.data(), 700)).toEqual(rowsOf(data, 700).map((row) => oracle(row, false)));
    const long = Int32Array.from({ length: 1500 }, (_, i) => ((i * 7919) % 23) - 11 + (i % 4 === 0 ? -2147483000 : 0));
    const y = tensor(long, { shape: [1, 1500], dtype: 'int32', backend: 'webgpu-sorting' });
    const ys = argsort(y, { descending: true });
    expect(Array.from(await ys.data())).toEqual(oracle(long, true));
    for (const t of [x, v, indices, s, y, ys]) t.dispose();
  });

  it('topk declines k above 1024 (core then narrows the fused argsort)', () => {
    const view = { data: backend!.upload(new Float32Array(2000), 'float32'), dtype: 'float32' as const, shape: [2000], strides: [1], offset: 0 };
    expect(backend!.topk(view, 1025, true)).toBeNull();
    backend!.free(view.data);
  });
});
