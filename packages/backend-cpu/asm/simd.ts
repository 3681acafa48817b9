// SPDX-License-Identifier: MIT
// Shared SIMD helpers for the WASM kernels (AssemblyScript, compiled by scripts/build-wasm.mjs).
// `madd` is the one place that differs between the two builds: with relaxed-simd enabled it is
// a fused multiply-add (f32x4.relaxed_madd, one rounding), otherwise mul then add. Everything
// here is @inline so the kernels compile to straight-line SIMD code.

/** a*b + c, lane-wise (fused when the relaxed-simd build is used). */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2)), 0);
}

/** Maximum of the four lanes (NaN-propagating like the reference: any NaN lane gives NaN). */
@inline export function hmax(v: v128): f32 {
  const s = f32x4.max(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.max(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2)), 0);
}

/** NaN-propagating scalar max (Math.max semantics on f32). */
@inline export function fmax(a: f32, b: f32): f32 {
  return a != a || b != b ? NaN : (a > b ? a : b);
}

/** Element i of a float32 array at byte address p. */
@inline export function ld(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2));
}

/** Stores v as element i of a float32 array at byte address p. */
@inline export function st(p: usize, i: i32, v: f32): void {
  store<f32>(p + (<usize>i << 2), v);
}

/** 4 consecutive floats from element i. */
@inline export function ldv(p: usize, i: i32): v128 {
  return v128.load(p + (<usize>i << 2));
}

/** Stores 4 consecutive floats at element i. */
@inline export function stv(p: usize, i: i32, v: v128): void {
  v128.store(p + (<usize>i << 2), v);
}
