// SPDX-License-Identifier: MIT
// Out-of-range indices on WebGPU: gather, indexSelect and scatterAdd kernels set an error flag
// (they cannot throw), and the next read (or a flush after the check came back) throws a
// HeedError naming the op, the bad value, the axis and the index position, like the CPU's
// synchronous error. Checked here: the primitives directly, nn.Embedding and crossEntropy
// through core, that each error is reported once, and that the backend and valid indices
// work afterwards (values against hand-computed references).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeedError, registerBackend, removeBackend, setBackend, tensor, tidy } from '@heed/core';
import { Embedding, crossEntropy } from '@heed/nn';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, expectClose, get, put, skipReason, view } from './gpu.js';

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<HeedError> {
  let err: unknown = null;
  try { await p; } catch (e) { err = e; }
  expect(err, 'expected the read to throw a HeedError').toBeInstanceOf(HeedError);
  return err as HeedError;
}

describe.skipIf(!device)(`WebGPU index errors${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('gather: an out-of-range index throws at the next read, once, naming op, value, axis and position', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [10, 11, 12, 20, 21, 22], 'float32', [2, 3]);
    const bad = be.gather(x, 1, put(be, [0, 7, 1, 2], 'int32', [2, 2]));
    const err = await rejection(be.read(bad, 'float32', 4));
    expect(err.op).toBe('gather');
    expect(err.message).toMatch(/^gather: index 7 at index position \[0, 1\] is out of range for axis 1 of size 3 \(valid indices are 0\.\.2; dispatch #\d+, index shape \[2, 2\], input shape \[2, 3\]\)/);
    // Reported once: the same (clamped, never garbage) result reads without a second error.
    expect(await get(be, bad, 'float32', 4)).toEqual([10, 12, 21, 22]);
    expect(await get(be, be.gather(x, 1, put(be, [2, 0, 1, 1], 'int32', [2, 2])), 'float32', 4)).toEqual([12, 10, 21, 21]);
    const neg = be.gather(x, 0, put(be, [0, -1, 1], 'int32', [1, 3]));
    expect((await rejection(be.read(neg, 'float32', 3))).message).toMatch(/^gather: index -1 at index position \[0, 1\] is out of range for axis 0 of size 2/);
    be.dispose();
  });

  it('the error of an earlier op surfaces at the read of an unrelated tensor, and only the first bad op is named', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3, 4], 'float32', [4, 1]);
    be.indexSelect(x, 0, put(be, [1, 4, 0], 'int32'));
    be.gather(x, 0, put(be, [9], 'int32', [1, 1]));
    const other = be.unary('neg', x, 'float32');
    const err = await rejection(be.read(other, 'float32', 4));
    expect(err.message).toMatch(/^indexSelect: index 4 at index position \[1\] is out of range for axis 0 of size 4/);
    expect(err.message).not.toMatch(/index 9/);
    expect(await get(be, other, 'float32', 4)).toEqual([-1, -2, -3, -4]);
    be.dispose();
  });

  it('reads in flight together: exactly one of them throws the error', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3], 'float32');
    const bad = be.indexSelect(x, 0, put(be, [5, 0], 'int32'));
    const first = be.read(bad, 'float32', 2);
    const other = be.unary('neg', x, 'float32');
    const second = be.read(other, 'float32', 3);
    const settled = await Promise.allSettled([first, second]);
    const rejected = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(String(rejected[0].reason)).toMatch(/^HeedError: indexSelect: index 5 at index position \[0\]/);
    const fulfilled = settled.find((r): r is PromiseFulfilledResult<Awaited<typeof first>> => r.status === 'fulfilled');
    expect(Array.from(fulfilled!.value)).toEqual(settled[0].status === 'fulfilled' ? [3, 1] : [-1, -2, -3]);
    be.dispose();
  });

  it('scatterAdd: out-of-range and negative indices throw at the read instead of being dropped', async () => {
    const be = new WebGPUBackend(device!);
    const src = put(be, [1, 2, 3, 4], 'float32', [2, 2]);
    const bad = be.scatterAdd([3, 2], 0, put(be, [0, 5, 1, 1], 'int32', [2, 2]), src);
    expect((await rejection(be.read(bad, 'float32', 6))).message)
      .toMatch(/^scatterAdd: index 5 at index position \[0, 1\] is out of range for axis 0 of size 3 \(valid indices are 0\.\.2; dispatch #\d+, index shape \[2, 2\], output shape \[3, 2\]\)/);
    const neg = be.scatterAdd([2, 3], 1, put(be, [0, 2, -2, 1], 'int32', [2, 2]), src);
    expect((await rejection(be.read(neg, 'float32', 6))).message).toMatch(/^scatterAdd: index -2 at index position \[1, 0\] is out of range for axis 1 of size 3/);
    // Valid indices afterwards: out[idx[i][j]][j] += src[i][j] with duplicates summed.
    const ok = be.scatterAdd([3, 2], 0, put(be, [0, 2, 0, 1], 'int32', [2, 2]), src);
    expect(await get(be, ok, 'float32', 6)).toEqual([4, 0, 0, 4, 0, 2]);
    be.dispose();
  });

  it('an error found by a flush is thrown by the next flush (then by nothing else)', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3], 'float32');
    be.indexSelect(x, 0, put(be, [3], 'int32'));
    be.flush(); // submits; the check comes back asynchronously
    for (let i = 0; i < 50 && !be.runtime.hasPendingError(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(() => be.flush()).toThrow(/^indexSelect: index 3 at index position \[0\] is out of range for axis 0 of size 3/);
    expect(() => be.flush()).not.toThrow();
    expectClose(await get(be, be.unary('exp', x, 'float32'), 'float32', 3), [1, 2, 3].map(Math.exp), 'exp after the error');
    be.dispose();
  });

  describe('through core and @heed/nn', () => {
    beforeAll(async () => {
      registerBackend({ name: 'webgpu-index', priority: 0, async: true, create: () => new WebGPUBackend(device!, {}, 'webgpu-index') });
      await setBackend('webgpu-index');
    });
    afterAll(() => { removeBackend('webgpu-index'); });

    it('nn.Embedding with id 4 of 4 rows throws at the read; valid ids afterwards give the weight rows', async () => {
      const emb = new Embedding(4, 3);
      const weight = Array.from(await emb.weight.data());
      const ids = tensor([[1, 4]], { dtype: 'int32' });
      const y = emb.forward(ids);
      const err = await rejection(y.data());
      expect(err.message).toMatch(/^indexSelect: index 4 at index position \[1\] is out of range for axis 0 of size 4/);
      y.dispose(); ids.dispose();
      const good = tensor([[3, 0]], { dtype: 'int32' });
      const z = emb.forward(good);
      expect(Array.from(await z.data())).toEqual([...weight.slice(9, 12), ...weight.slice(0, 3)]);
      z.dispose(); good.dispose();
    });

    it('crossEntropy with target 3 of 3 classes throws at the read (not 1.0986); a valid target gives log-sum-exp - logit', async () => {
      const logits = tensor([[0.5, -1, 2], [0, 0, 0]]);
      const bad = tensor([0, 3], { dtype: 'int32' });
      const loss = crossEntropy(logits, bad);
      const err = await rejection(loss.data());
      expect(err.op).toBe('gather');
      expect(err.message).toMatch(/index 3 at index position \[1, 0\] is out of range for axis 1 of size 3/);
      loss.dispose(); bad.dispose();
      const target = tensor([2, 1], { dtype: 'int32' });
      const ok = tidy(() => crossEntropy(logits, target, { reduction: 'none' }));
      const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
      const want = [lse([0.5, -1, 2]) - 2, lse([0, 0, 0]) - 0];
      const got = Array.from(await ok.data());
      got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThan(1e-6));
      ok.dispose(); target.dispose(); logits.dispose();
    });

    it('out-of-range indices inside a larger graph still point at the op', async () => {
      const x = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] });
      const y = tidy(() => x.mul(2).indexSelect(0, tensor([2, 3], { dtype: 'int32' })).sum());
      expect((await rejection(y.data())).message).toMatch(/^indexSelect: index 3 at index position \[1\] is out of range for axis 0 of size 3 .*input shape \[3, 2\]/);
      y.dispose();
      const z = tidy(() => x.mul(2).indexSelect(0, tensor([2, 0], { dtype: 'int32' })).sum());
      expect(Array.from(await z.data())).toEqual([2 * (5 + 6 + 1 + 2)]);
      z.dispose(); x.dispose();
    });
  });

  it('index checks do not slow valid work into extra submits, and strided index views are checked too', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [5, 6, 7], 'float32');
    const idx = put(be, [9, 2, 9, 0], 'int32');
    const submits = be.runtime.stats.submits;
    const y = be.indexSelect(x, 0, view(idx.data, 'int32', [2], [2], 1)); // [2, 0]
    expect(await get(be, y, 'float32', 2)).toEqual([7, 5]);
    expect(be.runtime.stats.submits).toBe(submits + 1);
    const z = be.indexSelect(x, 0, view(idx.data, 'int32', [2], [2], 0)); // [9, 9]
    expect((await rejection(be.read(z, 'float32', 2))).message).toMatch(/^indexSelect: index 9 at index position \[[01]\] is out of range/);
    be.dispose();
  });
});
