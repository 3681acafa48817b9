// SPDX-License-Identifier: MIT
// Test helper shared by the compile tests of core and nn (packages/core/test/compile.test.ts,
// packages/nn/test/compile.test.ts, optim-capturable-compile.test.ts): a backend installed for
// one describe block, the reference CPU kernels under their own name, the eager-vs-compiled
// step comparison (same batches, same random seed per step) and row-by-row closeness.
// Invariants: importing it registers nothing; `useBackendDuring` restores the previous backend
// and removes its own after the block; `compareSteps` disposes every batch and loss it makes.
import { afterAll, beforeAll, expect } from 'vitest';
import { getBackend, manualSeed, registerBackend, removeBackend, setBackend, type Backend, type Tensor } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';

/** `be` under another `name` (its methods bound to the real instance), so one kind of backend can be registered twice. */
export function namedBackend(be: CpuBackend, name: string): Backend {
  const w = Object.create(be) as Backend;
  const source = be as unknown as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(CpuBackend.prototype)) {
    const f = source[key];
    if (key !== 'constructor' && typeof f === 'function') Object.defineProperty(w, key, { value: f.bind(be) });
  }
  Object.defineProperty(w, 'name', { value: name });
  return w;
}

/** The CPU backend's reference kernels (no fast path) under `name`. */
export const referenceCpu = (name: string): Backend => namedBackend(new CpuBackend({ fast: false }), name);

/** Inside a describe block: registers `create()` as `name` and makes it the backend for the block's tests; restores the previous one after. */
export function useBackendDuring(name: string, create: () => Backend): void {
  let previous = '';
  beforeAll(async () => {
    previous = getBackend().name;
    registerBackend({ name, priority: 0, create });
    await setBackend(name);
  });
  afterAll(async () => {
    await setBackend(previous);
    removeBackend(name);
  });
}

/** The per-step loss values of both sides of {@link compareSteps}. */
export interface StepLosses { eager: number[]; compiled: number[] }

/**
 * Runs `steps` steps of an eager and a compiled step function on the same batches (`batch(i)`,
 * disposed after the step) and returns both loss sequences; with `seed`, `manualSeed(seed(i))`
 * before each side's step so both draw the same random stream.
 */
export function compareSteps<A extends Tensor[]>(
  steps: number, batch: (i: number) => A, eager: (...args: A) => Tensor, compiled: (...args: A) => Tensor, seed?: (i: number) => number,
): StepLosses {
  const losses: StepLosses = { eager: [], compiled: [] };
  for (let i = 0; i < steps; i++) {
    const args = batch(i);
    if (seed) manualSeed(seed(i));
    const le = eager(...args);
    if (seed) manualSeed(seed(i));
    const lc = compiled(...args);
    losses.eager.push(le.dataSync()[0]);
    losses.compiled.push(lc.dataSync()[0]);
    le.dispose(); lc.dispose();
    for (const t of args) t.dispose();
  }
  return losses;
}

/** Every `got[i][j]` toBeCloseTo `want[i][j]` to `digits` decimals (parameters, moments). */
export function expectRowsClose(got: number[][], want: number[][], digits: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((row, i) => row.forEach((v, j) => expect(v, `[${i}][${j}]`).toBeCloseTo(want[i][j], digits)));
}
