// SPDX-License-Identifier: MIT
// Deterministic per-rank inputs for the threads tests, shared by the workers and the test's
// plain-JS oracle: mulberry32 values in [-4, 4) with fractional parts that round in float32.
/** Values of tensor `index` on rank `rank` (length `n`), as plain numbers. */
export function values(rank, index, n) {
  let s = (rank * 7919 + index * 104729 + 1) >>> 0;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = Math.fround((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 8 - 4 + 1e-3 * rank);
  }
  return out;
}

/** Integer values of tensor `index` on rank `rank`, large enough that int32 sums wrap. */
export function ints(rank, index, n) {
  return values(rank, index, n).map((v) => Math.trunc(v * 5e8) | 0);
}
