// SPDX-License-Identifier: MIT
// The counter-based random generator shared by all backends, so that seeded draws are
// identical on CPU and WebGPU. Element i of a draw hashes (seed, offset + i) with a
// 32-bit integer mix that ports directly to WGSL (u32 multiply, xor, shift only).

/**
 * 32-bit integer hash (a PCG-style output permutation) of `x`. Unsigned result.
 *
 * @example
 * ```ts
 * hash32(1) !== hash32(2); // true
 * ```
 */
export function hash32(x: number): number {
  const h = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((h >>> ((h >>> 28) + 4)) ^ h) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * The uniform random value in [0, 1) for counter `counter` under `seed`: 24 random bits.
 *
 * @example
 * ```ts
 * const u = uniformAt(42, 0); // 0 <= u < 1
 * ```
 */
export function uniformAt(seed: number, counter: number): number {
  const bits = hash32((hash32(seed) ^ (counter >>> 0)) >>> 0);
  const mixed = hash32((bits + Math.imul(counter >>> 0, 0x9e3779b9)) >>> 0);
  return (mixed >>> 8) / 16777216;
}

/**
 * Xor-ed into the seed for the uniforms behind normal draws.
 *
 * @example
 * ```ts
 * NORMAL_STREAM; // 0x68e31da4
 * ```
 */
export const NORMAL_STREAM = 0x68e31da4;

/**
 * The standard-normal value for counter `counter` under `seed`: Box-Muller on the two uniforms
 * at counters `2*counter` and `2*counter+1` of a separate stream (seed xor NORMAL_STREAM), so
 * normal and uniform draws of one generator never reuse the same bits.
 *
 * @example
 * ```ts
 * const z = normalAt(42, 0);
 * ```
 */
export function normalAt(seed: number, counter: number): number {
  const stream = (seed ^ NORMAL_STREAM) >>> 0;
  const u1 = uniformAt(stream, counter * 2) + 1 / 33554432; // (0, 1]: avoid log(0)
  const u2 = uniformAt(stream, counter * 2 + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
