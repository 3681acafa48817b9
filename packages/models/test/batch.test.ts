// SPDX-License-Identifier: MIT
// padBatch: right-pads token ids into int32 [N, L]; ids from JS or JSON that an int32 tensor
// would silently change (fractions truncated, negatives passed on to an embedding, values
// beyond int32 wrapped) are rejected with a HeedError naming the sequence and position.
import { describe, expect, it } from 'vitest';
import { HeedError, memory, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { padBatch } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const js = <T>(v: unknown): T => v as T;

function rejects(call: () => unknown, ...mentions: string[]): void {
  const before = memory();
  let caught: unknown = null;
  try { call(); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(HeedError);
  expect((caught as HeedError).op).toBe('padBatch');
  for (const m of mentions) expect((caught as HeedError).message).toContain(m);
  expect(memory().numTensors).toBe(before.numTensors);
}

describe('padBatch', () => {
  it('pads to the longest sequence or to the given length', async () => {
    const t = padBatch([[5, 6, 7], [8]], 0);
    expect(t.dtype).toBe('int32');
    expect(await t.array()).toEqual([[5, 6, 7], [8, 0, 0]]);
    const u = padBatch([[1], [2, 3]], 9, 4);
    expect(await u.array()).toEqual([[1, 9, 9, 9], [2, 3, 9, 9]]);
    t.dispose();
    u.dispose();
  });

  it('rejects fractional, negative, non-numeric and too-large ids', () => {
    rejects(() => padBatch([[1, 2.5]], 0), 'token 1 of sequence 0', '2.5');
    rejects(() => padBatch([[1], [3, -1]], 0), 'token 1 of sequence 1', '-1');
    rejects(() => padBatch([[1, js('2')]], 0), "'2'");
    rejects(() => padBatch([[2 ** 31]], 0), '2147483648');
    rejects(() => padBatch([[NaN]], 0), 'NaN');
  });

  it('rejects a bad padId, length or sequence list', () => {
    rejects(() => padBatch([[1]], -1), 'padId', '-1');
    rejects(() => padBatch([[1]], 0.5), 'padId', '0.5');
    rejects(() => padBatch([[1, 2]], 0, 1), 'more than the length 1');
    rejects(() => padBatch([[1]], 0, 1.5), 'length', '1.5');
    rejects(() => padBatch([[1]], 0, 0), 'length', '0');
    rejects(() => padBatch(js([1, 2]), 0), 'sequence 0');
    rejects(() => padBatch(js('12'), 0), 'sequences');
    rejects(() => padBatch([], 0), 'at least one');
  });
});
