// SPDX-License-Identifier: MIT
// Types of random-data.mjs (seeded float32 test data shared by the native tests and benches).

/**
 * `n` seeded pseudo-random float32 values in [-scale, scale).
 *
 * @example
 * ```ts
 * const x = randomFloats(1024, 7, 4);
 * ```
 */
export function randomFloats(n: number, seed: number, scale?: number): Float32Array;
