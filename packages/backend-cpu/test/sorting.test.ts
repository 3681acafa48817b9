// SPDX-License-Identifier: MIT
// The CPU backend's fused argsort/topk kernels: PyTorch's order (stable, NaN largest) against
// an independent oracle (Array.prototype.sort with an explicit index tie-break), vocab-sized
// rows in milliseconds (top-k sampling), and declining (null) for layouts they do not handle.
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend, tensor, topk } from '@heed/core';
import { CpuBackend, cpuBackend } from '@heed/backend-cpu';
import { argsortKernel, topkKernel } from '../src/sorting.js';
import { cpu } from './util.js';

registerBackend(cpuBackend);
await setBackend('cpu');

function oracle(row: ArrayLike<number>, descending: boolean): number[] {
  const key = (v: number) => (Number.isNaN(v) ? 1 : 0);
  return Array.from(row, (_, i) => i).sort((a, b) => {
    const va = row[a];
    const vb = row[b];
    let c = key(va) - key(vb) || (va < vb ? -1 : va > vb ? 1 : 0);
    if (descending) c = -c;
    return c || a - b;
  });
}

function randomRow(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 4294967296;
    out[i] = u < 0.02 ? NaN : u < 0.03 ? Infinity : u < 0.04 ? -Infinity : Math.round(u * 200) / 10 - 10; // many ties
  }
  return out;
}

const view = (data: Float32Array, shape: number[], strides?: number[], offset = 0) => ({
  data: cpu.upload(data, 'float32'), dtype: 'float32' as const, shape, strides: strides ?? [shape[1], 1], offset,
});

describe('cpu fused argsort/topk', () => {
  it.each([false, true])('argsort rows match the stable oracle (descending %s), with an offset', (descending) => {
    const data = randomRow(3 * 257 + 5, 11);
    const v = view(data, [3, 257], [257, 1], 5);
    const out = cpu.readSync(argsortKernel(v, descending)!, 'int32', 3 * 257);
    for (let r = 0; r < 3; r++) {
      expect(Array.from(out.subarray(r * 257, (r + 1) * 257))).toEqual(oracle(data.subarray(5 + r * 257, 5 + (r + 1) * 257), descending));
    }
  });

  it.each([[1, true], [7, false], [40, true], [200, false]] as const)('topk k=%i (largest %s) is the first k of the stable sort', (k, largest) => {
    const data = randomRow(2 * 500, 5 + k);
    const v = view(data, [2, 500]);
    const out = cpu.readSync(topkKernel(v, k, largest)!, 'int32', 2 * k);
    for (let r = 0; r < 2; r++) {
      expect(Array.from(out.subarray(r * k, (r + 1) * k))).toEqual(oracle(data.subarray(r * 500, (r + 1) * 500), largest).slice(0, k));
    }
  });

  it('declines views that are not row-contiguous, and bool', () => {
    const data = randomRow(12, 3);
    expect(argsortKernel(view(data, [3, 4], [1, 3]), false)).toBeNull();
    expect(topkKernel(view(data, [3, 4], [1, 3]), 2, true)).toBeNull();
    expect(argsortKernel({ ...view(data, [3, 4]), dtype: 'bool' }, false)).toBeNull();
  });

  it('topk over vocab-sized rows takes milliseconds and matches the oracle', () => {
    const vocab = 50257;
    const data = randomRow(4 * vocab, 99);
    const x = tensor(data, { shape: [4, vocab] });
    topk(x, 50).values.dispose(); // warm-up
    const t0 = performance.now();
    const { values, indices } = topk(x, 50);
    const ms = performance.now() - t0;
    const got = Array.from(indices.dataSync());
    for (let r = 0; r < 4; r++) {
      expect(got.slice(r * 50, (r + 1) * 50)).toEqual(oracle(data.subarray(r * vocab, (r + 1) * vocab), true).slice(0, 50));
    }
    expect(ms).toBeLessThan(250); // the rank fallback would compare 4 x 50257^2 pairs
    for (const t of [x, values, indices]) t.dispose();
  });

  it('is not installed on the reference backend (fast: false)', () => {
    const ref = new CpuBackend({ fast: false });
    expect(ref.argsort).toBeUndefined();
    expect(ref.topk).toBeUndefined();
  });
});
