// SPDX-License-Identifier: MIT
// The one reduction kernel of every transport: combines rank k's values into an accumulator
// (the caller visits ranks 0..N-1 in order, so results are bitwise identical on every rank),
// and finishes `mean` with one division by the world size. Typed-array stores round each step
// to the array's precision (float32 sums round after every rank, like a float32 accumulator).
import type { HostArray, ReduceOp } from './group.js';

/**
 * `acc[accStart + i] = combine(acc[accStart + i], src[srcStart + i])` for i < len; `acc` holds
 * the ranks before, `src` the next rank's values (same array type).
 *
 * @example
 * ```ts
 * const acc = new Float32Array([1, 2]);
 * combineInto('sum', acc, 0, new Float32Array([3, 4]), 0, 2); // acc = [4, 6]
 * ```
 */
export function combineInto(op: ReduceOp, acc: HostArray, accStart: number, src: HostArray, srcStart: number, len: number): void {
  // One monomorphic loop per array type: a loop that sees several typed-array kinds is ~20x slower in V8.
  if (acc instanceof Float32Array) combineF32(op, acc, accStart, src as Float32Array, srcStart, len);
  else if (acc instanceof Float64Array) combineF64(op, acc, accStart, src as Float64Array, srcStart, len);
  else combineI32(op, acc, accStart, src as Int32Array, srcStart, len);
}

function combineF32(op: ReduceOp, acc: Float32Array, a0: number, src: Float32Array, s0: number, len: number): void {
  if (op === 'sum' || op === 'mean') {
    for (let i = 0; i < len; i++) acc[a0 + i] += src[s0 + i];
  } else if (op === 'max') {
    for (let i = 0; i < len; i++) { const b = src[s0 + i]; if (b > acc[a0 + i] || b !== b) acc[a0 + i] = b; }
  } else {
    for (let i = 0; i < len; i++) { const b = src[s0 + i]; if (b < acc[a0 + i] || b !== b) acc[a0 + i] = b; }
  }
}

function combineF64(op: ReduceOp, acc: Float64Array, a0: number, src: Float64Array, s0: number, len: number): void {
  if (op === 'sum' || op === 'mean') {
    for (let i = 0; i < len; i++) acc[a0 + i] += src[s0 + i];
  } else if (op === 'max') {
    for (let i = 0; i < len; i++) { const b = src[s0 + i]; if (b > acc[a0 + i] || b !== b) acc[a0 + i] = b; }
  } else {
    for (let i = 0; i < len; i++) { const b = src[s0 + i]; if (b < acc[a0 + i] || b !== b) acc[a0 + i] = b; }
  }
}

function combineI32(op: ReduceOp, acc: Int32Array, a0: number, src: Int32Array, s0: number, len: number): void {
  if (op === 'sum' || op === 'mean') {
    for (let i = 0; i < len; i++) acc[a0 + i] = (acc[a0 + i] + src[s0 + i]) | 0;
  } else if (op === 'max') {
    for (let i = 0; i < len; i++) { const b = src[s0 + i]; if (b > acc[a0 + i]) acc[a0 + i] = b; }
  } else {
    for (let i = 0; i < len; i++) { const b = src[s0 + i]; if (b < acc[a0 + i]) acc[a0 + i] = b; }
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
  if (acc instanceof Float32Array) divideF32(acc, start, len, worldSize);
  else for (let i = start; i < start + len; i++) acc[i] /= worldSize;
}

function divideF32(acc: Float32Array, start: number, len: number, worldSize: number): void {
  for (let i = start; i < start + len; i++) acc[i] /= worldSize;
}
