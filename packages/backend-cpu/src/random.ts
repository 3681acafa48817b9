// SPDX-License-Identifier: MIT
// The `random` primitive: float32 draws from core's counter-based generator (random-bits.ts).
// Invariant: element i is exactly uniformAt(seed, offset + i) or normalAt(seed, offset + i)
// rounded to float32, so the CPU backend draws the same values as every other backend and a
// draw can be split into pieces (by offset) without changing any value.
import { HeedError, normalAt, uniformAt, type DataId, type RandomKind } from '@heed/core';
import { checkSize, wrap } from './storage.js';

/**
 * `size` float32 random values: uniform in [0, 1) or standard normal, element i from counter
 * `offset + i` under `seed`.
 *
 * @example
 * ```ts
 * const id = randomKernel('normal', 1000, 42, 0);
 * // the second half of that draw, on its own:
 * const tail = randomKernel('normal', 500, 42, 500);
 * ```
 */
export function randomKernel(kind: RandomKind, size: number, seed: number, offset: number): DataId {
  checkSize('random', size);
  if (!Number.isInteger(offset) || offset < 0) {
    throw new HeedError('random', `offset must be a non-negative integer, got ${offset}.`);
  }
  const out = new Float32Array(size);
  if (kind === 'uniform') {
    for (let i = 0; i < size; i++) out[i] = uniformAt(seed, offset + i);
  } else if (kind === 'normal') {
    for (let i = 0; i < size; i++) out[i] = normalAt(seed, offset + i);
  } else {
    throw new HeedError('random', `unknown distribution '${String(kind)}'; use 'uniform' or 'normal'.`);
  }
  return wrap(out, 'float32');
}
