// SPDX-License-Identifier: MIT
// The one reduction kernel of every transport: combines rank k's values into an accumulator
// (the caller visits ranks 0..N-1 in order, so results are bitwise identical on every rank),
// and finishes `mean` with one division by the world size. Typed-array stores round each step
// to the array's precision (float32 sums round after every rank, like a float32 accumulator).
import type { HostArray, ReduceOp } from './group.js';

/**
 * `acc[accStart + i] = combine(acc[accStart + i], src[srcStart + i])` for i < len; `acc` holds
 * the ranks before, `src` the next rank's values.
 *
 * @example
 * ```ts
 * const acc = new Float32Array([1, 2]);
 * combineInto('sum', acc, 0, new Float32Array([3, 4]), 0, 2); // acc = [4, 6]
 * ```
 */
export function combineInto(op: ReduceOp, acc: HostArray, accStart: number, src: HostArray, srcStart: number, len: number): void {
  switch (op) {
    case 'sum':
    case 'mean':
      for (let i = 0; i < len; i++) acc[accStart + i] += src[srcStart + i];
      return;
    case 'max':
      for (let i = 0; i < len; i++) {
        const a = acc[accStart + i], b = src[srcStart + i];
        if (b > a || b !== b) acc[accStart + i] = b;
      }
      return;
    case 'min':
      for (let i = 0; i < len; i++) {
        const a = acc[accStart + i], b = src[srcStart + i];
        if (b < a || b !== b) acc[accStart + i] = b;
      }
      return;
  }
}

/**
 * Finishes a reduction after the last rank: divides by `worldSize` for `mean`, nothing otherwise.
 *
 * @example
 * ```ts
 * finishReduce('mean', acc, 0, acc.length, 4);
 * ```
 */
export function finishReduce(op: ReduceOp, acc: HostArray, start: number, len: number, worldSize: number): void {
  if (op !== 'mean') return;
  for (let i = start; i < start + len; i++) acc[i] /= worldSize;
}
