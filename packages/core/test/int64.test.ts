// SPDX-License-Identifier: MIT
// int64 at the boundary: BigInt64Array / BigUint64Array data, arrays of bigint and
// `dtype: 'int64'` are stored as int32 (dtype reports 'int32', data() gives an Int32Array);
// values outside int32 are a HeedError naming the op, the exact value and its position; the
// int32 boundary values and negative ids survive exactly; the results index like int32 tensors.
import { describe, expect, it } from 'vitest';
import './setup.js';
import {
  HeedError, arange, bigintToInt32, cast, full, gather, indexSelect, int64ToInt32, memory, oneHot, storageDType, tensor, zeros,
} from '@heed/core';

const MIN = -(2n ** 31n);
const MAX = 2n ** 31n - 1n;

function heedError(fn: () => unknown): HeedError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HeedError);
    return e as HeedError;
  }
  throw new Error('expected a HeedError');
}

describe('int64 inputs are stored as checked int32', () => {
  it('BigInt64Array within int32 (incl. negatives and both bounds) round-trips exactly', async () => {
    const t = tensor(new BigInt64Array([0n, 5n, -7n, MIN, MAX, 123456789n]));
    expect(t.dtype).toBe('int32');
    expect([...t.shape]).toEqual([6]);
    const d = await t.data();
    expect(d).toBeInstanceOf(Int32Array);
    expect(Array.from(d)).toEqual([0, 5, -7, -(2 ** 31), 2 ** 31 - 1, 123456789]);
  });

  it('BigInt64Array with a shape, nested arrays of bigint, BigUint64Array', async () => {
    expect(await tensor(new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n]), { shape: [2, 3] }).array()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const nested = tensor([[1n, -2n], [3n, 4n]]);
    expect(nested.dtype).toBe('int32');
    expect(await nested.array()).toEqual([[1, -2], [3, 4]]);
    expect(await tensor([new BigInt64Array([9n, 8n]), new BigInt64Array([7n, 6n])]).array()).toEqual([[9, 8], [7, 6]]);
    expect(Array.from(await tensor(new BigUint64Array([3n, 2n ** 31n - 1n])).data())).toEqual([3, 2 ** 31 - 1]);
    expect(await tensor([1n, 2n, 3n, 4n], { shape: [2, 2] }).array()).toEqual([[1, 2], [3, 4]]);
    expect(await tensor(5n).item()).toBe(5);
  });

  it("dtype: 'int64' is accepted by tensor() and the fill ops, and reports int32", async () => {
    const t = tensor([3, 1, 4], { dtype: 'int64' });
    expect(t.dtype).toBe('int32');
    expect(Array.from(await t.data())).toEqual([3, 1, 4]);
    expect(zeros([2], { dtype: 'int64' }).dtype).toBe('int32');
    expect(Array.from(await full([2], -3, { dtype: 'int64' }).data())).toEqual([-3, -3]);
    expect(Array.from(await arange(0, 3, 1, { dtype: 'int64' }).data())).toEqual([0, 1, 2]);
    expect(storageDType('x', 'int64')).toBe('int32');
    expect(storageDType('x', 'bool')).toBe('bool');
  });

  it('bigints into float32 and bool tensors convert like numbers', async () => {
    expect(Array.from(await tensor([1n, -2n], { dtype: 'float32' }).data())).toEqual([1, -2]);
    expect(Array.from(await tensor(new BigInt64Array([0n, 2n ** 40n]), { dtype: 'bool' }).data())).toEqual([0, 1]);
  });

  it('bool is value != 0 before the byte store (256, 0.5 and NaN are true, like torch.tensor(..., dtype=torch.bool))', async () => {
    expect(Array.from(await tensor([256, 0.5, NaN, 0, -1], { dtype: 'bool' }).data())).toEqual([1, 1, 1, 0, 1]);
    expect(Array.from(await tensor([[512, 0]], { dtype: 'bool' }).data())).toEqual([1, 0]);
    expect(Array.from(await tensor(new Float32Array([0.25, 0]), { dtype: 'bool' }).data())).toEqual([1, 0]);
    expect(Array.from(await tensor(new Int32Array([256, 0]), { dtype: 'bool' }).data())).toEqual([1, 0]);
  });

  it('values outside int32 are a HeedError naming the op, the exact value and the position', () => {
    const before = memory().numTensors;
    let e = heedError(() => tensor(new BigInt64Array([1n, 2n, MAX + 1n])));
    expect(e.message).toMatch(/^tensor: /);
    expect(e.message).toContain('2147483648');
    expect(e.message).toContain('[2]');
    expect(e.message).toContain('WGSL');
    e = heedError(() => tensor(new BigInt64Array([1n, 2n, 3n, MIN - 1n]), { shape: [2, 2] }));
    expect(e.message).toContain('-2147483649');
    expect(e.message).toContain('[1, 1]');
    e = heedError(() => tensor([[0n, 1n], [2n ** 62n, 3n]]));
    expect(e.message).toContain('4611686018427387904'); // exact, not the rounded float 4611686018427388000
    expect(e.message).toContain('[1, 0]');
    e = heedError(() => tensor(new BigUint64Array([2n ** 64n - 1n])));
    expect(e.message).toContain('18446744073709551615');
    e = heedError(() => tensor([1, 2, 2 ** 33], { dtype: 'int64' }));
    expect(e.message).toContain('8589934592');
    expect(e.message).toContain('[2]');
    expect(memory().numTensors).toBe(before); // nothing allocated by the rejected calls
  });

  it("where only storage dtypes make sense (cast), 'int64' gets a message that says where it is accepted", () => {
    const e = heedError(() => cast(tensor([1.5]), 'int64' as 'int32'));
    expect(e.message).toMatch(/^cast: dtype 'int64' is accepted where tensors are created/);
    expect(e.message).toContain("use 'int32'");
  });

  it('the helpers: bigintToInt32 and int64ToInt32', () => {
    expect(bigintToInt32('op', -5n, 0)).toBe(-5);
    expect(Array.from(int64ToInt32('op', [MIN, MAX]))).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    const e = heedError(() => int64ToInt32('loadIds', new BigInt64Array([0n, 0n, 0n, -(2n ** 63n)]), [2, 2]));
    expect(e.message).toMatch(/^loadIds: int64 value -9223372036854775808 at index \[1, 1\]/);
  });

  it('int64-made tensors index like int32 ones: gather, indexSelect, oneHot', async () => {
    const x = tensor([[10, 11, 12], [20, 21, 22]]);
    expect(await gather(x, 1, tensor(new BigInt64Array([2n, 0n, 1n, 1n]), { shape: [2, 2] })).array()).toEqual([[12, 10], [21, 21]]);
    expect(await indexSelect(x, 0, tensor(new BigInt64Array([1n, 0n, 1n]))).array()).toEqual([[20, 21, 22], [10, 11, 12], [20, 21, 22]]);
    expect(await oneHot(tensor([2n, 0n]), 3).array()).toEqual([[0, 0, 1], [1, 0, 0]]);
  });
});
