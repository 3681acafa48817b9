// SPDX-License-Identifier: MIT
// Test helper: registers the CPU backend once and offers value assertions.
import { expect } from 'vitest';
import { registerBackend, setBackend, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';

registerBackend(cpuBackend);
await setBackend('cpu');

/** Asserts that `t` has `shape` and values close to `expected` (flat, row-major). */
export function expectClose(t: Tensor, expected: number[], shape?: number[], tol = 1e-5): void {
  if (shape) expect([...t.shape]).toEqual(shape);
  const got = Array.from(t.dataSync());
  expect(got.length).toBe(expected.length);
  got.forEach((v, i) => {
    const e = expected[i];
    if (Number.isNaN(e)) expect(Number.isNaN(v)).toBe(true);
    else expect(Math.abs(v - e)).toBeLessThanOrEqual(tol * (1 + Math.abs(e)));
  });
}
