// SPDX-License-Identifier: MIT
// nonzero, maskedSelect, indexPut and scatter: values against PyTorch 1.13 (quoted), duplicate
// writes (last in row-major order wins) against a host loop on many random duplicates, the
// gradients (only the winning entry gets one), and argument errors.
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import {
  Generator, arange, einsum, indexPut, logaddexp, maskedSelect, nonzero, randint, randn, registerBackend, removeBackend, scatter, tensor,
  valueAndGrad, zeros, type Tensor,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';

const int = (v: number[] | number[][]) => tensor(v, { dtype: 'int32' });
const x34 = () => arange(12, undefined, 1, { dtype: 'float32' }).reshape([3, 4]);

describe('nonzero and maskedSelect', () => {
  it('nonzero gives row-major coordinates, NaN counts as nonzero', async () => {
    const nz = await nonzero(tensor([[0, 1.5, 0], [NaN, 0, -2]]));
    expect(nz.dtype).toBe('int32');
    expectClose(nz, [0, 1, 1, 0, 1, 2], [3, 2]);
    expect([...(await nonzero(tensor(3))).shape]).toEqual([1, 0]);
    expect([...(await zeros([2, 3]).nonzero()).shape]).toEqual([0, 2]);
    expectClose(await nonzero(tensor([true, false, true])), [0, 2], [2, 1]);
  });

  it('nonzero asTuple gives one index tensor per dim, usable by indexPut', async () => {
    const mask = tensor([[true, false, true], [false, true, false]]);
    const [rows, cols] = await nonzero(mask, { asTuple: true });
    expectClose(rows, [0, 0, 1], [3]);
    expectClose(cols, [0, 2, 1], [3]);
    expectClose(indexPut(x34().narrow(1, 0, 3), [rows, cols], 0), [0, 1, 0, 4, 0, 6, 8, 9, 10]);
    expect((await tensor(3).nonzero({ asTuple: true })).length).toBe(0);
    await expect(nonzero(mask, { asTuple: 1 } as never)).rejects.toThrow(/nonzero: asTuple must be a boolean/);
    await expect(nonzero(mask, { tuple: true } as never)).rejects.toThrow(/nonzero/);
  });

  it('maskedSelect broadcasts the mask and is differentiable', async () => {
    const mask = tensor([true, false, true, false]);
    expectClose(await maskedSelect(x34(), mask), [0, 2, 4, 6, 8, 10], [6]);
    expectClose(await x34().maskedSelect(tensor([[true], [false], [true]])), [0, 1, 2, 3, 8, 9, 10, 11], [8]);
    const x = randn([3, 4], { generator: new Generator(1) }).requiresGrad_();
    const picked = await maskedSelect(x, mask);
    picked.mul(tensor([1, 2, 3, 4, 5, 6])).sum().backward();
    expectClose(x.grad!, [1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0]);
    await expect(maskedSelect(x, tensor([1, 0, 1, 0]))).rejects.toThrow(/maskedSelect: mask must be bool, got float32/);
  });
});

describe('indexPut', () => {
  it('matches torch.index_put (broadcast indices, negative entries, row values, accumulate)', () => {
    expectClose(indexPut(x34(), [int([0, -1, 1]), int([[1], [3]])], tensor(100)),
      [0, 100, 2, 100, 4, 100, 6, 100, 8, 100, 10, 100]);
    expectClose(indexPut(x34(), [int([2, 0])], tensor([[-1, -2, -3, -4], [5, 6, 7, 8]])), [5, 6, 7, 8, 4, 5, 6, 7, -1, -2, -3, -4]);
    expectClose(x34().indexPut([int([1, 1, 0]), int([2, 2, 0])], tensor([1, 2, 3]), { accumulate: true }), [3, 1, 2, 3, 4, 5, 9, 7, 8, 9, 10, 11]);
    expectClose(indexPut(zeros([4], { dtype: 'int32' }), [int([3, 1])], 7), [0, 7, 0, 7]);
  });

  it('duplicates without accumulate: the last entry wins, also with many random duplicates', () => {
    expectClose(indexPut(zeros([3]), [int([1, 2, 1, 1])], tensor([10, 20, 30, 40])), [0, 40, 20]);
    const idx = randint(0, 37, [1000], { generator: new Generator(3) });
    const vals = randn([1000], { generator: new Generator(4) });
    const want = new Array<number>(37).fill(-1);
    const iv = Array.from(idx.dataSync());
    const vv = Array.from(vals.dataSync());
    iv.forEach((i, p) => { want[i] = vv[p]; });
    expectClose(indexPut(tensor(new Array<number>(37).fill(-1)), [idx], vals), want);
  });

  it('gradients: x where not written, values only at the winning entry', () => {
    const x = randn([4, 2], { generator: new Generator(5) });
    const v = randn([3, 2], { generator: new Generator(6) });
    const u = tensor([[1, 2], [3, 4], [5, 6], [7, 8]]);
    const [gx, gv] = valueAndGrad((a: Tensor, b: Tensor) => indexPut(a, [int([2, 0, 2])], b).mul(u).sum())(x, v).grads;
    expectClose(gx, [0, 0, 3, 4, 0, 0, 7, 8]);
    expectClose(gv, [0, 0, 1, 2, 5, 6]);
    const [, ga] = valueAndGrad((a: Tensor, b: Tensor) => indexPut(a, [int([2, 0, 2])], b, { accumulate: true }).mul(u).sum())(x, v).grads;
    expectClose(ga, [5, 6, 1, 2, 5, 6]);
  });

  it('errors name the op and shapes', () => {
    const x = x34();
    expect(() => indexPut(x, [tensor([0, 1])], 1)).toThrow(/indexPut: indices\[0\] must be int32, got float32/);
    expect(() => indexPut(x, [tensor([true, false, true])], 1)).toThrow(/await nonzero\(mask\)/);
    expect(() => indexPut(x, [], 1)).toThrow(/indices must be a list of 1 to 2 int32 tensors/);
    expect(() => indexPut(x, [int([0, 1])], tensor([1, 2, 3]))).toThrow(/values \[3\] must broadcast to the indexed shape \[2, 4\]/);
    expect(() => indexPut(x, [int([0, 1]), int([0, 1, 2])], 1)).toThrow(/indexPut/);
    expect(() => indexPut(x, [int([0, 3])], 1)).toThrow(/indexPut: an index lies outside the dimension it indexes/);
    expect(() => indexPut(x, [int([0]), int([4])], 1)).toThrow(/indexPut: an index lies outside/);
    expect(() => indexPut(x, [int([0])], tensor([1], { dtype: 'int32' }))).toThrow(/values dtype int32 must equal x dtype float32/);
    expect(() => indexPut(x, [int([0])], 1, { accumulate: 1 } as never)).toThrow(/accumulate must be a boolean/);
  });
});

describe('scatter', () => {
  it('matches torch.scatter (tensor src larger than index, scalar src, reduce add)', () => {
    const src = tensor([[10, 20, 30], [40, 50, 60], [70, 80, 90]]);
    expectClose(scatter(x34(), 1, int([[3, 0], [1, 2], [0, 0]]), src), [20, 1, 2, 10, 4, 40, 50, 7, 80, 9, 10, 11]);
    expectClose(x34().scatter(0, int([[2, 0, 1, 1]]), -5), [0, -5, 2, 3, 4, 5, -5, -5, -5, 9, 10, 11]);
    expectClose(scatter(x34(), 0, int([[2, 0, 1, 1], [0, 0, 0, 0]]), tensor([[1, 1, 1, 1], [1, 1, 1, 1]]), { reduce: 'add' }),
      [1, 3, 3, 4, 4, 5, 7, 8, 9, 9, 10, 11]);
  });

  it('many duplicates along an axis: the last in row-major order wins', () => {
    const index = randint(0, 5, [40, 3], { generator: new Generator(7) });
    const src = randn([40, 3], { generator: new Generator(8) });
    const want = new Array<number>(15).fill(0);
    const iv = Array.from(index.dataSync());
    const sv = Array.from(src.dataSync());
    iv.forEach((i, p) => { want[i * 3 + (p % 3)] = sv[p]; });
    expectClose(scatter(zeros([5, 3]), 0, index, src), want);
  });

  it('gradients: x where not written, src at the winners', () => {
    const x = randn([2, 3], { generator: new Generator(9) });
    const s = randn([2, 2], { generator: new Generator(10) });
    const u = tensor([[1, 2, 3], [4, 5, 6]]);
    const [gx, gs] = valueAndGrad((a: Tensor, b: Tensor) => scatter(a, 1, int([[2, 2], [0, 1]]), b).mul(u).sum())(x, s).grads;
    expectClose(gx, [1, 2, 0, 0, 0, 6]);
    expectClose(gs, [0, 3, 4, 5]);
  });

  it('errors name the op and shapes', () => {
    const x = x34();
    expect(() => scatter(x, 1, int([[0, 1, 2]]), tensor([[1, 2]]))).toThrow(/scatter: index \[1, 3\] must have the rank of x \[3, 4\] and src \[1, 2\]/);
    expect(() => scatter(x, 2, int([[0]]), 1)).toThrow(/scatter/);
    expect(() => scatter(x, 1, int([[4]]), 1)).toThrow(/scatter: an index lies outside the dimension it indexes/);
    expect(() => scatter(x, 1, int([[0]]), 1, { reduce: 'multiply' } as never)).toThrow(/reduce must be 'add' or omitted/);
    expect(() => scatter(x, 1, tensor([[0]]), 1)).toThrow(/scatter: index must be int32, got float32/);
  });
});

describe('operands on two backends', () => {
  it('are rejected by name before any work', async () => {
    registerBackend({ name: 'cpu2', priority: 0, create: () => Object.assign(new CpuBackend(), { name: 'cpu2' }) });
    try {
      const x = zeros([3, 2]);
      const other = zeros([2, 2], { backend: 'cpu2' });
      const i = int([0, 1]);
      expect(() => indexPut(x, [i], other)).toThrow(/indexPut.*'cpu2'/);
      expect(() => scatter(x, 0, int([[0, 1]]), other.narrow(0, 0, 1))).toThrow(/scatter.*'cpu2'/);
      expect(() => einsum('ij,jk', x, other)).toThrow(/einsum.*'cpu2'/);
      expect(() => logaddexp(x.narrow(0, 0, 2), other)).toThrow(/logaddexp.*'cpu2'/);
      await expect(maskedSelect(x, other.gt(0))).rejects.toThrow(/maskedSelect.*'cpu2'/);
    } finally {
      removeBackend('cpu2');
    }
  });
});
