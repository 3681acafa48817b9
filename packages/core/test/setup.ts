// SPDX-License-Identifier: MIT
// Test helper: registers the CPU backend once and offers value assertions.
import { expect } from 'vitest';
import { registerBackend, setBackend, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';

registerBackend(cpuBackend);
await setBackend('cpu');

/**
 * Asserts that `t`'s values (flat, row-major) match `want`: NaN where NaN is wanted, infinities
 * exactly, finite values within `atol + rtol * |want|`.
 */
export function expectValues(t: Tensor, want: number[], { atol = 1e-5, rtol = 1e-5 }: { atol?: number; rtol?: number } = {}): void {
  const got = Array.from(t.dataSync());
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i];
    const label = `element ${i}: got ${g}, want ${w}`;
    if (Number.isNaN(w)) expect(Number.isNaN(g), label).toBe(true);
    else if (!Number.isFinite(w)) expect(g, label).toBe(w);
    else expect(Math.abs(g - w), label).toBeLessThanOrEqual(atol + rtol * Math.abs(w));
  });
}

/** Asserts that `t` has `shape` and values close to `expected` (flat, row-major; tolerance `tol * (1 + |e|)`). */
export function expectClose(t: Tensor, expected: number[], shape?: number[], tol = 1e-5): void {
  if (shape) expect([...t.shape]).toEqual(shape);
  expectValues(t, expected, { atol: tol, rtol: tol });
}
