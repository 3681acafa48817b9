// SPDX-License-Identifier: MIT
// Bad input: each error is a HeedError naming the op, the shapes/dtypes and the fix, and
// leaves every input and the memory counters untouched.
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import {
  HeedError, concat, gather, matmul, memory, registerBackend, removeBackend, reshape, tensor, zeros, type Tensor,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';

function expectHeedError(fn: () => unknown, op: string, ...fragments: RegExp[]): void {
  const before = memory();
  let caught: unknown = null;
  try { fn(); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(HeedError);
  const err = caught as HeedError;
  expect(err.op).toBe(op);
  for (const f of fragments) expect(err.message).toMatch(f);
  expect(memory().numBuffers).toBe(before.numBuffers);
  expect(memory().numTensors).toBe(before.numTensors);
}

describe('errors', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([[1, 2], [3, 4]]);

  it('broadcast mismatch names shapes and the fix', () => {
    expectHeedError(() => a.add(b), 'add', /\[2, 3\]/, /\[2, 2\]/, /equal or 1/);
    expectClose(a, [1, 2, 3, 4, 5, 6], [2, 3]);
  });

  it('matmul inner dimension mismatch', () => {
    expectHeedError(() => matmul(a, a), 'matmul', /\[2, 3\] @ \[2, 3\]/, /must equal/);
  });

  it('bad axes, reshapes and concat shapes', () => {
    expectHeedError(() => a.sum({ axis: 2 }), 'sum', /axis 2 is out of range/);
    expectHeedError(() => reshape(a, [4, 2]), 'reshape', /6 elements/);
    expectHeedError(() => concat([a, b], 0), 'concat', /differ outside axis 0/);
  });

  it('out-of-range gather index', () => {
    const idx = tensor([[0, 7, 0]], { dtype: 'int32' });
    expectHeedError(() => gather(a, 0, idx), 'gather', /7/);
    const floatIdx = tensor([[0.5, 0, 0]]);
    expectHeedError(() => gather(a, 0, floatIdx), 'gather', /int32/);
    idx.dispose();
    floatIdx.dispose();
  });

  it('dtype rules: logical ops need bool; matmul needs float', () => {
    expectHeedError(() => a.logicalAnd(a), 'logicalAnd', /bool/);
    const i = zeros([2, 2], { dtype: 'int32' });
    expectHeedError(() => matmul(i, i), 'matmul', /float32/);
    i.dispose();
  });

  it('mixing backends names both and the fix', () => {
    registerBackend({ name: 'cpu2', priority: 0, create: () => Object.assign(new CpuBackend(), { name: 'cpu2' }) });
    const other: Tensor = zeros([2, 3], { backend: 'cpu2' });
    expectHeedError(() => a.add(other), 'add', /'cpu'/, /'cpu2'/, /\.to\(/);
    other.dispose();
    removeBackend('cpu2');
  });

  it('use after dispose', () => {
    const t = zeros([3]);
    t.dispose();
    expectHeedError(() => t.exp(), 'exp', /disposed/);
  });
});
