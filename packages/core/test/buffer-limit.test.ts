// SPDX-License-Identifier: MIT
// capabilities.maxBufferBytes: core checks the result of every op that can grow against the
// backend's limit before dispatch and throws a HeedError naming the op, the shape, the bytes
// and the limit; the backend never sees the request (its kernels are spied), memory stays where
// it was, and the backend keeps working. The backend is the CPU reference backend declaring a
// 256-byte limit (64 float32 elements, 256 bools).
import { describe, expect, it } from 'vitest';
import {
  HeedError, PRIMITIVE_NAMES, cast, checkBufferLimit, concat, gather, matmul, memory, oneHot, rand, registerBackend,
  removeBackend, tensor, tidy, where, zeros, type Backend, type Tensor,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import './setup.js';

const NAME = 'small-buffers';
const LIMIT = 256;

/** The CPU reference backend under NAME with a 256-byte buffer limit; counts primitive calls. */
function limited(): { backend: Backend; calls: () => number } {
  const be = new CpuBackend({ fast: false });
  const source = be as unknown as Record<string, unknown>;
  const wrapper = Object.create(be) as Record<string, unknown>;
  let calls = 0;
  for (const key of [...PRIMITIVE_NAMES, 'readSync', 'dispose']) {
    wrapper[key] = (...a: unknown[]) => { calls++; return (source[key] as (...x: unknown[]) => unknown).apply(be, a); };
  }
  Object.defineProperty(wrapper, 'name', { value: NAME });
  Object.defineProperty(wrapper, 'capabilities', { value: { ...be.capabilities, maxBufferBytes: LIMIT } });
  return { backend: wrapper as unknown as Backend, calls: () => calls };
}

describe('capabilities.maxBufferBytes', () => {
  it('checkBufferLimit counts bytes per dtype and ignores backends without a limit', () => {
    const { backend } = limited();
    expect(() => checkBufferLimit(backend, 'zeros', [64], 'float32')).not.toThrow();
    expect(() => checkBufferLimit(backend, 'zeros', [256], 'bool')).not.toThrow();
    expect(() => checkBufferLimit(backend, 'zeros', [65], 'float32')).toThrow(/zeros: the result \[65\] float32 needs 260 bytes.*'small-buffers' holds at most 256/);
    expect(() => checkBufferLimit(backend, 'zeros', [257], 'bool')).toThrow(/needs 257 bytes/);
    expect(() => checkBufferLimit(new CpuBackend({ fast: false }), 'zeros', [2 ** 20, 2 ** 10], 'float32')).not.toThrow();
  });

  it('ops whose result would exceed the limit throw before dispatch, naming op, shape, bytes and limit', () => {
    const { backend, calls } = limited();
    registerBackend({ name: NAME, priority: -1, create: () => backend });
    const o = { backend: NAME };
    const small = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [9, 1], ...o });
    const row = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [1, 9], ...o });
    const long = zeros([40], o);
    const flags = tensor(Array.from({ length: 100 }, (_, i) => i % 2), { dtype: 'bool', ...o }); // 100 bytes: fits
    const idx = tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 0], { dtype: 'int32', ...o });
    const cases: [string, () => Tensor, RegExp][] = [
      ['zeros', () => zeros([65], o), /\[65\] float32 needs 260 bytes/],
      ['tensor', () => tensor(new Array(65).fill(1), o), /\[65\] float32 needs 260 bytes/],
      ['rand', () => rand([9, 9], o), /\[9, 9\] float32 needs 324 bytes/],
      ['add', () => small.add(row), /\[9, 9\] float32 needs 324 bytes/],
      ['where', () => where(small.gt(4), small, row), /\[9, 9\] float32 needs 324 bytes/],
      ['matmul', () => matmul(small, row), /\[9, 9\] float32 needs 324 bytes/],
      ['concat', () => concat([long, long]), /\[80\] float32 needs 320 bytes/],
      ['contiguous', () => row.expand([9, 9]).contiguous(), /\[9, 9\] float32 needs 324 bytes/],
      ['cast', () => cast(flags, 'float32'), /\[100\] float32 needs 400 bytes/],
      ['gather', () => gather(small.expand([9, 9]), 0, idx.reshape([10, 1]).expand([10, 9])), /\[10, 9\] float32 needs 360 bytes/],
      ['oneHot', () => oneHot(idx, 9), /\[10, 9\] float32 needs 360 bytes/],
    ];
    const before = memory();
    for (const [op, f, re] of cases) {
      const n = calls();
      let err: unknown = null;
      try { tidy(() => { f(); }); } catch (e) { err = e; } // tidy frees the case's own intermediates
      expect(err, op).toBeInstanceOf(HeedError);
      expect(String(err), op).toMatch(re);
      expect(String(err), op).toMatch(/at most 256 \(capabilities\.maxBufferBytes\)/);
      expect((err as HeedError).op, op).toBe(op);
      if (op !== 'where') expect(calls(), `${op}: the backend was called`).toBe(n);
    }
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    // the backend still works, and results within the limit are fine
    expect(Array.from(small.add(1).dataSync())).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(Array.from(cast(flags, 'bool').dataSync()).slice(0, 4)).toEqual([0, 1, 0, 1]); // 100 bytes fit
    for (const t of [small, row, long, flags, idx]) t.dispose();
    removeBackend(NAME);
  });
});
