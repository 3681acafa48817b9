// SPDX-License-Identifier: MIT
// Seeded float32 test data for the native kernels' tests (test/*.test.ts) and benches
// (bench/native_rows.mjs, bench/native_train.mjs): one LCG, so a test and a bench given the
// same seed see the same numbers. Invariants: values lie in [-scale, scale); the sequence
// depends only on (n, seed, scale); no global state.

/**
 * `n` seeded pseudo-random float32 values in [-scale, scale) (an LCG: `s = s * 1664525 + 1013904223`).
 *
 * @example
 * ```ts
 * const x = randomFloats(1024, 7, 4); // the same 1024 values on every call with seed 7
 * ```
 * @param {number} n @param {number} seed @param {number} [scale]
 * @returns {Float32Array}
 */
export function randomFloats(n, seed, scale = 1) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 31 - 1) * scale;
  }
  return out;
}
