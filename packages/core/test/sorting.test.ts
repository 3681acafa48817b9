// SPDX-License-Identifier: MIT
// sort/argsort/topk against an independent oracle (JS's stable Array.prototype.sort with
// PyTorch's order: NaN largest, ties by index), on core's fallbacks (rank sort and topk's
// tournament, on a backend without the fused kernels) and on the CPU backend's fused kernels;
// gradients scatter back to the picked positions; cumsum/cumprod accuracy and the cumprod
// gradient with zeros.
import { describe, expect, it } from 'vitest';
import {
  PRIMITIVE_NAMES, argsort, cumprod, cumsum, grad, memory, registerBackend, sort, tensor, topk, type Backend, type Tensor,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import './setup.js';

/** The CPU reference backend under another name, with the primitives only (core's fallbacks run). */
function primitivesOnly(name: string): Backend {
  const be = new CpuBackend({ fast: false });
  const source = be as unknown as Record<string, (...a: unknown[]) => unknown>;
  const wrapper: Record<string, unknown> = { name, apiVersion: be.apiVersion, capabilities: be.capabilities };
  for (const key of [...PRIMITIVE_NAMES, 'readSync']) wrapper[key] = (...a: unknown[]) => source[key].apply(be, a);
  return wrapper as unknown as Backend;
}
registerBackend({ name: 'cpu-nofused', priority: -1, create: () => primitivesOnly('cpu-nofused') });

/** PyTorch's order of one row: stable, NaN as the largest value. */
function oracle(row: number[], descending: boolean): number[] {
  const key = (v: number) => (Number.isNaN(v) ? Infinity : v);
  const rank = (v: number) => (Number.isNaN(v) ? 1 : 0); // NaN after +Infinity ascending
  return row.map((_, i) => i).sort((a, b) => {
    const va = row[a];
    const vb = row[b];
    let c = key(va) - key(vb);
    if (Number.isNaN(c) || c === 0) c = rank(va) - rank(vb);
    if (descending) c = -c;
    return c !== 0 ? c : a - b;
  });
}

function rows(n: number, m: number, seed: number, ties: boolean): number[][] {
  let s = seed;
  const next = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  return Array.from({ length: n }, () => Array.from({ length: m }, () => {
    const u = next();
    if (u < 0.05) return NaN;
    if (u < 0.08) return Infinity;
    if (u < 0.11) return -Infinity;
    return ties ? Math.floor(next() * 5) : Math.fround(next() * 10 - 5);
  }));
}

const data = (t: Tensor) => Array.from(t.dataSync());

describe.each(['cpu', 'cpu-nofused'])('sort on %s', (backend) => {
  it.each([false, true])('argsort matches the stable oracle (descending %s)', (descending) => {
    for (const [n, m, ties] of [[3, 7, true], [2, 33, false], [4, 130, true]] as const) {
      const r = rows(n, m, n * m, ties);
      const x = tensor(r, { backend });
      const idx = argsort(x, { descending });
      expect(idx.dtype).toBe('int32');
      expect(data(idx)).toEqual(r.flatMap((row) => oracle(row, descending)));
      const { values } = sort(x, { descending });
      const want = r.flatMap((row) => oracle(row, descending).map((i) => row[i]));
      expect(data(values).map(String)).toEqual(want.map((v) => String(Math.fround(v))));
      x.dispose(); idx.dispose(); values.dispose();
    }
  });

  it('topk picks the largest/smallest in stable order, along any axis', () => {
    const r = rows(5, 40, 7, true);
    const x = tensor(r, { backend });
    for (const largest of [true, false]) {
      const { values, indices } = topk(x, 6, { largest });
      expect([...indices.shape]).toEqual([5, 6]);
      expect(data(indices)).toEqual(r.flatMap((row) => oracle(row, largest).slice(0, 6)));
      values.dispose(); indices.dispose();
    }
    const t = x.transpose();
    const { indices } = topk(t, 3, { axis: 0 });
    expect([...indices.shape]).toEqual([3, 5]);
    const cols = r.map((row) => oracle(row, true).slice(0, 3));
    expect(data(indices)).toEqual([0, 1, 2].flatMap((k) => cols.map((c) => c[k])));
    for (const u of [x, t, indices]) u.dispose();
  });

  it('gradients of sort values go back to the source positions', () => {
    const x = tensor([[3, 1, 2], [0, -1, 5]], { backend });
    const g = grad((v: Tensor) => sort(v, { descending: true }).values.mul(tensor([1, 10, 100], { backend })).sum())(x);
    expect(data(g)).toEqual([1, 100, 10, 10, 100, 1]);
    const gk = grad((v: Tensor) => topk(v, 1).values.sum())(x);
    expect(data(gk)).toEqual([1, 0, 0, 0, 0, 1]);
    x.dispose(); g.dispose(); gk.dispose();
  });

  it('cumsum and cumprod: values, accuracy on long rows, cumprod gradient with zeros', () => {
    const n = 3000;
    const vals = Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i) * 0.1 + 0.3));
    const x = tensor(vals, { backend });
    const c = cumsum(x, 0);
    const got = data(c);
    let acc = 0;
    let worst = 0;
    vals.forEach((v, i) => { acc += v; worst = Math.max(worst, Math.abs(got[i] - acc) / acc); });
    expect(worst).toBeLessThan(2e-6); // a serial float32 sum drifts ~1e-5 here
    const z = tensor([2, 0, 3, 0.5], { backend });
    expect(data(cumprod(z, 0))).toEqual([2, 0, 0, 0]);
    // d/dx sum(cumprod(x)) = sum_{k>=i} prod_{j<=k, j!=i} x_j: exact with zeros (no division)
    const gz = grad((v: Tensor) => cumprod(v, 0).sum())(z);
    expect(data(gz)).toEqual([1, 2 + 2 * 3 + 2 * 3 * 0.5, 0, 0]);
    for (const t of [x, c, z, gz]) t.dispose();
  });

  it('long rows (the fallback compares in several blocks of positions) match the oracle', () => {
    const r = rows(1, 2600, 5, true); // 2600^2 comparisons > the fallback's 2^22 block: two blocks
    const x = tensor(r, { backend });
    const { values, indices } = topk(x, 2600, { largest: false });
    expect(data(indices)).toEqual(oracle(r[0], false));
    for (const t of [x, values, indices]) t.dispose();
  });

  it.each([[1, true], [50, false], [70, true]] as const)('topk k=%i (largest %s) of long rows (several tournament levels on the fallback)', (k, largest) => {
    const r = rows(2, 5000, 9 + k, true);
    const x = tensor(r, { backend });
    const { values, indices } = topk(x, k, { largest });
    expect(data(indices)).toEqual(r.flatMap((row) => oracle(row, largest).slice(0, k)));
    expect(data(values).map(String)).toEqual(r.flatMap((row) => oracle(row, largest).slice(0, k).map((i) => String(Math.fround(row[i])))));
    for (const t of [x, values, indices]) t.dispose();
  });

  it('frees its temporaries', () => {
    const before = memory().numTensors;
    const x = tensor(rows(3, 50, 3, true), { backend });
    const { values, indices } = topk(x, 4);
    const s = argsort(x);
    for (const t of [x, values, indices, s]) t.dispose();
    expect(memory().numTensors).toBe(before);
  });
});
