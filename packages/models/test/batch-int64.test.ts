// SPDX-License-Identifier: MIT
// padBatch with int64 token ids: arrays of bigint, BigInt64Array and Int32Array sequences (and
// a bigint padId) give the same int32 batch as number ids; bigints outside 0..2^31-1 are a
// HeedError naming the sequence, the position and the exact value.
import { describe, expect, it } from 'vitest';
import { HeedError, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { padBatch } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

describe('padBatch with int64 ids', () => {
  it('bigint arrays, BigInt64Array and Int32Array pad like numbers', async () => {
    const t = padBatch([new BigInt64Array([5n, 6n, 7n]), [8n], new Int32Array([9, 10])], 0n);
    expect(t.dtype).toBe('int32');
    expect(await t.array()).toEqual([[5, 6, 7], [8, 0, 0], [9, 10, 0]]);
    expect(await padBatch([[1n, 2n]], 3, 4).array()).toEqual([[1, 2, 3, 3]]);
    expect(await padBatch([new BigInt64Array([2n ** 31n - 1n])], 0).array()).toEqual([[2147483647]]);
  });

  it('bigints outside int32 or negative are rejected with the position and value', () => {
    const cases: [() => unknown, string[]][] = [
      [() => padBatch([[1n], [2n, 2n ** 31n]], 0), ['token 1 of sequence 1', '2147483648']],
      [() => padBatch([new BigInt64Array([3n, -1n])], 0), ['token 1 of sequence 0', '-1']],
      [() => padBatch([[1n]], 2n ** 40n), ['padId', '1099511627776']],
    ];
    for (const [call, mentions] of cases) {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HeedError);
      for (const m of mentions) expect((error as Error).message).toContain(m);
    }
  });
});
