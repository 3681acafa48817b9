// SPDX-License-Identifier: MIT
// WGSL building blocks: dtype storage types, the strided-offset helper every kernel uses,
// and the scalar expressions of each unary/binary op per compute domain. Storage: float32 as
// f32, int32 as i32, bool as u32 (0/1). Invariant: expressions match the CPU backend's rules
// (Python remainder, round half to even, NaN propagation in maximum/minimum, C pow).
import type { BinaryOp, DType, UnaryOp } from '@heed/core';

/** WGSL element type of each dtype. */
export const WGSL_TYPE: { readonly [D in DType]: 'f32' | 'i32' | 'u32' } = { float32: 'f32', int32: 'i32', bool: 'u32' };

/** Arithmetic domain a dtype computes in (bool computes as i32). */
export function domainOf(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}

/** Converts an expression of domain `from` (f32/i32/u32) to storage type of `to`. */
export function convert(expr: string, from: 'f32' | 'i32' | 'u32', to: DType): string {
  const target = WGSL_TYPE[to];
  if (to === 'bool') {
    if (from === 'u32') return `select(0u, 1u, ${expr} != 0u)`;
    return from === 'f32' ? `select(0u, 1u, ${expr} != 0.0 || isNan(${expr}))` : `select(0u, 1u, ${expr} != 0)`;
  }
  if (from === target) return expr;
  if (target === 'i32' && from === 'f32') return `f2i(${expr})`;
  return `${target}(${expr})`;
}

/**
 * Helpers shared by all kernels: `md` layout is [n, rank, shape[rank], then per operand
 * k: offset, strides[rank]]; `offsetOf(i, k)` maps output index i to operand k's element.
 */
export const PRELUDE = /* wgsl */ `
@group(0) @binding(0) var<storage, read> md: array<u32>;
fn offsetOf(i: u32, k: u32) -> u32 {
  let rank = md[1];
  let base = 2u + rank + k * (rank + 1u);
  var rem = i;
  var off = md[base];
  for (var d = i32(rank) - 1; d >= 0; d = d - 1) {
    let dim = md[2u + u32(d)];
    off = off + (rem % dim) * md[base + 1u + u32(d)];
    rem = rem / dim;
  }
  return off;
}
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn f2i(x: f32) -> i32 { if (isNan(x)) { return 0; } return i32(clamp(x, -2147483648.0, 2147483520.0)); }
fn erf32(x: f32) -> f32 {
  let s = sign(x); let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}
fn nanF() -> f32 { return bitcast<f32>(NAN_BITS); }
fn infF() -> f32 { return bitcast<f32>(INF_BITS); }
fn exp32(x: f32) -> f32 { if (isNan(x)) { return x; } if (x > 88.72) { return infF(); } return exp(x); }
fn log32(x: f32) -> f32 {
  if (isNan(x) || x < 0.0) { return nanF(); }
  if (x == 0.0) { return -infF(); }
  if (x == infF()) { return x; }
  return log(x);
}
fn reduceAngle(x: f32) -> f32 { return x - 6.283185307179586 * round(x * 0.15915494309189535); }
fn sin32(x: f32) -> f32 {
  if (isNan(x) || abs(x) == infF()) { return nanF(); }
  let r = reduceAngle(x); let r2 = r * r;
  // Taylor series to r^15 on [-pi, pi]: error below 1e-7 after range reduction.
  return r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0 + r2 * (-1.0 / 39916800.0
    + r2 * (1.0 / 6227020800.0 + r2 * (-1.0 / 1307674368000.0))))))));
}
fn cos32(x: f32) -> f32 {
  if (isNan(x) || abs(x) == infF()) { return nanF(); }
  let r = reduceAngle(x); let r2 = r * r;
  return 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0
    + r2 * (1.0 / 479001600.0 + r2 * (-1.0 / 87178291200.0 + r2 * (1.0 / 20922789888000.0))))))));
}
fn tanh32(x: f32) -> f32 { if (isNan(x)) { return x; } let e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e); }
fn sigmoid32(x: f32) -> f32 { if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); } let e = exp(x); return e / (1.0 + e); }
fn cpow(a: f32, b: f32) -> f32 {
  if (b == 0.0 || a == 1.0 || (a == -1.0 && abs(b) == infF())) { return 1.0; }
  if (isNan(a) || isNan(b)) { return a + b; }
  if (a < 0.0) {
    if (floor(b) != b) { return bitcast<f32>(NAN_BITS); }
    let m = pow(-a, b);
    if (floor(b * 0.5) * 2.0 == b) { return m; }
    return -m;
  }
  if (a == 0.0) { if (b < 0.0) { return bitcast<f32>(INF_BITS); } return 0.0; }
  return pow(a, b);
}
fn ipow(a: i32, e: i32) -> i32 {
  if (e < 0) { if (a == 1) { return 1; } if (a == -1) { return select(-1, 1, (e & 1) == 0); } return 0; }
  var r = 1; var b = a; var k = e;
  loop { if (k == 0) { break; } if ((k & 1) != 0) { r = r * b; } b = b * b; k = k >> 1u; }
  return r;
}
fn fmod(a: f32, b: f32) -> f32 {
  if (isNan(a) || isNan(b)) { return a + b; }
  if (abs(b) == bitcast<f32>(INF_BITS) && abs(a) != bitcast<f32>(INF_BITS)) { if (a == 0.0 || (a > 0.0) == (b > 0.0)) { return a; } return b; }
  return a - b * floor(a / b);
}
fn imod(a: i32, b: i32) -> i32 { if (b == 0) { return 0; } let r = a % b; if (r != 0 && ((r < 0) != (b < 0))) { return r + b; } return r; }
`;

/** Float expressions of unary ops (x: f32). */
const UNARY_F32: { readonly [K in UnaryOp]: string } = {
  neg: '-x', abs: 'abs(x)', sign: 'select(sign(x), x, isNan(x))', exp: 'exp32(x)',
  expm1: 'select(exp32(x) - 1.0, x + 0.5 * x * x, abs(x) < 1e-4)', log: 'log32(x)',
  log1p: 'select(log32(1.0 + x), x - 0.5 * x * x, abs(x) < 1e-4)', sqrt: 'select(sqrt(x), nanF(), x < 0.0 || isNan(x))',
  rsqrt: 'select(inverseSqrt(x), nanF(), x < 0.0 || isNan(x))',
  square: 'x * x', reciprocal: '1.0 / x', sin: 'sin32(x)', cos: 'cos32(x)', tanh: 'tanh32(x)', sigmoid: 'select(sigmoid32(x), x, isNan(x))',
  relu: 'select(max(x, 0.0), x, isNan(x))', erf: 'erf32(x)', floor: 'floor(x)', ceil: 'ceil(x)', round: 'round(x)',
  not: 'select(0.0, 1.0, x == 0.0)', isnan: 'select(0.0, 1.0, isNan(x))',
};

/** Integer expressions of the unary ops that keep an integer dtype (x: i32). */
const UNARY_I32: Partial<{ readonly [K in UnaryOp]: string }> = {
  neg: '-x', abs: 'abs(x)', sign: 'sign(x)', square: 'x * x', relu: 'max(x, 0)', floor: 'x', ceil: 'x', round: 'x',
  not: 'select(0, 1, x == 0)', isnan: '0',
};

/** The WGSL expression of unary `op` for input domain `dom`, or null if it needs float. */
export function unaryExpr(op: UnaryOp, dom: 'f32' | 'i32'): string | null {
  return dom === 'f32' ? UNARY_F32[op] : UNARY_I32[op] ?? null;
}

/** Float expressions of binary ops (a, b: f32); comparison results are bool-valued f32. */
const BINARY_F32: { readonly [K in BinaryOp]: string } = {
  add: 'a + b', sub: 'a - b', mul: 'a * b', div: 'a / b', pow: 'cpow(a, b)',
  maximum: 'select(max(a, b), a + b, isNan(a) || isNan(b))', minimum: 'select(min(a, b), a + b, isNan(a) || isNan(b))',
  mod: 'fmod(a, b)', atan2: 'atan2(a, b)',
  eq: 'select(0.0, 1.0, a == b)', ne: 'select(0.0, 1.0, a != b || isNan(a) || isNan(b))', lt: 'select(0.0, 1.0, a < b)',
  le: 'select(0.0, 1.0, a <= b)', gt: 'select(0.0, 1.0, a > b)', ge: 'select(0.0, 1.0, a >= b)',
  and: 'select(0.0, 1.0, a != 0.0 && b != 0.0)', or: 'select(0.0, 1.0, a != 0.0 || b != 0.0)', xor: 'select(0.0, 1.0, (a != 0.0) != (b != 0.0))',
};

/** Integer expressions of binary ops (a, b: i32). */
const BINARY_I32: { readonly [K in BinaryOp]: string } = {
  add: 'a + b', sub: 'a - b', mul: 'a * b', div: 'a / b', pow: 'ipow(a, b)', maximum: 'max(a, b)', minimum: 'min(a, b)',
  mod: 'imod(a, b)', atan2: 'i32(atan2(f32(a), f32(b)))',
  eq: 'select(0, 1, a == b)', ne: 'select(0, 1, a != b)', lt: 'select(0, 1, a < b)', le: 'select(0, 1, a <= b)',
  gt: 'select(0, 1, a > b)', ge: 'select(0, 1, a >= b)', and: 'select(0, 1, a != 0 && b != 0)',
  or: 'select(0, 1, a != 0 || b != 0)', xor: 'select(0, 1, (a != 0) != (b != 0))',
};

/** The WGSL expression of binary `op` in domain `dom`. */
export function binaryExpr(op: BinaryOp, dom: 'f32' | 'i32'): string {
  return dom === 'f32' ? BINARY_F32[op] : BINARY_I32[op];
}

/** The counter-based RNG of core's random-bits.ts, ported bit-exactly (u32 arithmetic). */
export const RANDOM_WGSL = /* wgsl */ `
fn hash32(x: u32) -> u32 {
  let h = x * 747796405u + 2891336453u;
  let word = ((h >> ((h >> 28u) + 4u)) ^ h) * 277803737u;
  return (word >> 22u) ^ word;
}
fn uniformAt(seed: u32, counter: u32) -> f32 {
  let bits = hash32(hash32(seed) ^ counter);
  let mixed = hash32(bits + counter * 0x9e3779b9u);
  return f32(mixed >> 8u) / 16777216.0;
}
fn normalAt(seed: u32, counter: u32) -> f32 {
  let stream = seed ^ 0x68e31da4u;
  let u1 = uniformAt(stream, counter * 2u) + 1.0 / 33554432.0;
  let u2 = uniformAt(stream, counter * 2u + 1u);
  return sqrt(-2.0 * log(u1)) * cos32(6.283185307179586 * u2);
}
`;
