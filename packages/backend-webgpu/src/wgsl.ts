// SPDX-License-Identifier: MIT
// WGSL building blocks: dtype storage types, the scalar math prelude every kernel includes, the
// expressions of each unary/binary op per compute domain, and the counter-based RNG.
// Storage: float32 as f32, int32 as i32, bool as u32 (0/1).
// Invariant: results match the CPU backend's rules (Python remainder, round half to even,
// NaN propagation in maximum/minimum, C pow, wrapping int pow, float->int like Int32Array) and the
// RNG is bit-exact with core's random-bits.ts for uniform draws.
import type { BinaryOp, DType, UnaryOp } from '@heed/core';

/**
 * WGSL element type that stores each dtype in GPU buffers.
 *
 * @example
 * ```ts
 * WGSL_TYPE.bool; // 'u32'
 * ```
 */
export const WGSL_TYPE: { readonly [D in DType]: 'f32' | 'i32' | 'u32' } = { float32: 'f32', int32: 'i32', bool: 'u32' };

/**
 * Arithmetic domain a dtype computes in (bool computes as i32).
 *
 * @example
 * ```ts
 * domainOf('bool'); // 'i32'
 * ```
 */
export function domainOf(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}

/**
 * Converts a WGSL expression of type `from` to the storage type of dtype `to`
 * (float -> int truncates toward zero and wraps like an Int32Array store, NaN -> 0;
 * anything -> bool is `!= 0`).
 *
 * @example
 * ```ts
 * convert('x', 'f32', 'int32'); // 'f2i(x)'
 * ```
 */
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
 * Scalar math shared by all kernels (no bindings). NaN and infinities come from bit patterns
 * held in private variables, because WGSL constant expressions must not produce them.
 *
 * @example
 * ```ts
 * const code = `${MATH_WGSL}\n@compute @workgroup_size(64) fn main() {}`;
 * ```
 */
export const MATH_WGSL = /* wgsl */ `
fn isNan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
var<private> SIGN_BITS: u32 = 0x80000000u;
fn nanF() -> f32 { return bitcast<f32>(NAN_BITS); }
fn infF() -> f32 { return bitcast<f32>(INF_BITS); }
fn signBit(x: f32) -> bool { return (bitcast<u32>(x) & SIGN_BITS) != 0u; }
// |m| with the sign of s (also for zeros and infinities).
fn copySign(m: f32, s: f32) -> f32 { return bitcast<f32>((bitcast<u32>(m) & 0x7fffffffu) | (bitcast<u32>(s) & SIGN_BITS)); }
// float -> int32 like a JS Int32Array store (ToInt32): truncate, NaN/inf -> 0, wrap mod 2^32.
fn f2i(x: f32) -> i32 {
  if (abs(x) < 2147483648.0) { return i32(x); }
  let b = bitcast<u32>(x);
  let e = i32((b >> 23u) & 0xffu) - 150;
  if (e >= 32 || e < 0) { return 0; }
  let m = ((b & 0x7fffffu) | 0x800000u) << u32(e);
  return bitcast<i32>(select(m, 0u - m, x < 0.0));
}
// erf: minimax polynomials (about 1 ulp in float32): odd series below 0.9277, 1 - exp(p(t)) above.
fn erf32(a: f32) -> f32 {
  if (isNan(a)) { return a; }
  let t = abs(a); let s = a * a;
  if (t > 0.927734375) {
    var r = fma(-1.72853470e-5, t, 3.83197126e-4);
    let u = fma(-3.88396438e-3, t, 2.42546219e-2);
    r = fma(r, s, u);
    r = fma(r, t, -1.06777877e-1);
    r = fma(r, t, -6.34846687e-1);
    r = fma(r, t, -1.28717512e-1);
    r = fma(r, t, -t);
    r = 1.0 - exp(max(r, -104.0));
    return select(r, -r, a < 0.0);
  }
  var r = -5.96761703e-4;
  r = fma(r, s, 4.99119423e-3);
  r = fma(r, s, -2.67681349e-2);
  r = fma(r, s, 1.12819925e-1);
  r = fma(r, s, -3.76125336e-1);
  r = fma(r, s, 1.28379166e-1);
  return fma(r, a, a);
}
fn exp32(x: f32) -> f32 { if (isNan(x)) { return x; } if (x > 88.72) { return infF(); } if (x < -104.0) { return 0.0; } return exp(x); }
fn log32(x: f32) -> f32 {
  if (isNan(x) || x < 0.0) { return nanF(); }
  if (x == 0.0) { return -infF(); }
  if (x == infF()) { return x; }
  return log(x);
}
// Kahan's expm1 / log1p: exact-ratio corrections keep relative accuracy near 0.
fn expm1_32(x: f32) -> f32 {
  if (isNan(x)) { return x; }
  if (x > 88.72) { return infF(); }
  let u = exp32(x);
  if (u == 1.0) { return x; }
  let um = u - 1.0;
  if (um == -1.0) { return -1.0; }
  if (abs(x) > 0.5) { return um; }
  return um * x / log(u);
}
fn log1p32(x: f32) -> f32 {
  if (isNan(x) || x < -1.0) { return nanF(); }
  if (x == -1.0) { return -infF(); }
  if (x == infF()) { return x; }
  let u = 1.0 + x;
  if (u == 1.0) { return x; }
  return log(u) * x / (u - 1.0);
}
// The 32 x 32 -> 64-bit product of a and b as (high word, low word), from 16-bit halves.
fn mulWide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>(a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u), (p00 & 0xffffu) | (mid << 16u));
}
// x - k*2pi in [-pi, pi] for |x| >= 65536 (Payne-Hanek). With x = m 2^e (m the 24-bit
// mantissa), the bits of 1/(2pi) of weight above 2^-e only add integers to x/(2pi), so the
// fraction of x/(2pi) is m times the 96 bits that follow, computed exactly in integers.
// c[1..8] = floor(2^256 / (2pi)) (big-endian words); c[0] = 0 covers e < 0.
fn reduceHuge(x: f32) -> f32 {
  var c = array<u32, 9>(0u, 0x28be60dbu, 0x9391054au, 0x7f09d5f4u, 0x7d4d3770u, 0x36d8a566u, 0x4f10e410u, 0x7f9458eau, 0xf7aef158u);
  let bits = bitcast<u32>(x);
  let m = (bits & 0x7fffffu) | 0x800000u;
  let t0 = ((bits >> 23u) & 0xffu) - 118u; // bit of c[] (from the top of c[0]) with weight 2^-(e+1); e = exponent - 150 >= -7
  let q = t0 >> 5u; let sh = t0 & 31u;
  var w: array<u32, 3>;
  for (var i = 0u; i < 3u; i = i + 1u) { w[i] = select((c[q + i] << sh) | (c[q + i + 1u] >> (32u - sh)), c[q + i], sh == 0u); }
  let r2 = mulWide(m, w[2]); let r1 = mulWide(m, w[1]); let r0 = mulWide(m, w[0]);
  // fraction 0.p2 p1 p0 of m * 0.w0 w1 w2 (the integer part, above p2, is dropped)
  var p0 = r2.y;
  var p1 = r1.y + r2.x;
  var p2 = r0.y + r1.x + select(0u, 1u, p1 < r1.y);
  // centre into [-1/2, 1/2): take 1 - fraction (two's complement) and flip the sign
  let neg = p2 >= 0x80000000u;
  if (neg) {
    p0 = ~p0 + 1u; let c0 = select(0u, 1u, p0 == 0u);
    p1 = ~p1 + c0; let c1 = select(0u, 1u, c0 == 1u && p1 == 0u);
    p2 = ~p2 + c1;
  }
  let f = f32(p2) * 0x1p-32f + (f32(p1) * 0x1p-64f + f32(p0) * 0x1p-96f);
  return select(1.0, -1.0, neg != (x < 0.0)) * f * 6.2831855;
}
fn reduceAngle(x: f32) -> f32 {
  if (abs(x) >= 65536.0) { return reduceHuge(x); }
  // Cody-Waite: 2pi = 6.28125 + 1014 / 2^19 + 1.2556659e-6; for |k| < 2^14 the first two
  // products are exact and so are the subtractions where the result is small (Sterbenz).
  let k = round(x * 0.15915494309189535);
  if (k == 0.0) { return x; } // keeps -0
  return ((x - k * 6.28125) - k * 0.001934051513671875) - k * 1.2556659e-6;
}
fn sin32(x: f32) -> f32 {
  if (isNan(x) || abs(x) == infF()) { return nanF(); }
  let r = reduceAngle(x); let r2 = r * r;
  return r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0 + r2 * (-1.0 / 39916800.0
    + r2 * (1.0 / 6227020800.0 + r2 * (-1.0 / 1307674368000.0))))))));
}
fn cos32(x: f32) -> f32 {
  if (isNan(x) || abs(x) == infF()) { return nanF(); }
  let r = reduceAngle(x); let r2 = r * r;
  return 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0
    + r2 * (1.0 / 479001600.0 + r2 * (-1.0 / 87178291200.0 + r2 * (1.0 / 20922789888000.0))))))));
}
fn tanh32(x: f32) -> f32 {
  if (isNan(x) || x == 0.0) { return x; }
  let e = expm1_32(-2.0 * abs(x));
  return sign(x) * (-e / (2.0 + e));
}
fn sigmoid32(x: f32) -> f32 { if (isNan(x)) { return x; } if (x >= 0.0) { return 1.0 / (1.0 + exp32(-x)); } let e = exp32(x); return e / (1.0 + e); }
// |a|^b for a > 0: exact repeated squaring for small integer exponents, else the builtin.
fn powPos(a: f32, b: f32) -> f32 {
  if (a == infF()) { if (b < 0.0) { return 0.0; } return infF(); }
  if (floor(b) == b && abs(b) <= 64.0) {
    var r = 1.0; var base = a; var k = u32(abs(b));
    loop { if (k == 0u) { break; } if ((k & 1u) != 0u) { r = r * base; } base = base * base; k = k >> 1u; }
    if (b < 0.0) { return 1.0 / r; }
    return r;
  }
  return pow(a, b);
}
fn cpow(a: f32, b: f32) -> f32 {
  if (b == 0.0 || a == 1.0 || (a == -1.0 && abs(b) == infF())) { return 1.0; }
  if (isNan(a) || isNan(b)) { return nanF(); }
  if (abs(b) == infF()) {
    let m = abs(a);
    if ((m > 1.0) == (b > 0.0)) { return infF(); }
    return 0.0;
  }
  // 0 and -inf: the result is 0 or inf (by the sign of b) with the sign of a for odd integer b
  if (a == 0.0 || a == -infF()) {
    let odd = floor(b) == b && floor(b * 0.5) * 2.0 != b;
    let big = (b < 0.0) == (a == 0.0);
    return copySign(select(0.0, infF(), big), select(1.0, a, odd));
  }
  if (a < 0.0) {
    if (floor(b) != b) { return nanF(); }
    let m = powPos(-a, b);
    if (floor(b * 0.5) * 2.0 == b) { return m; }
    return -m;
  }
  return powPos(a, b);
}
fn ipow(a: i32, e: i32) -> i32 {
  if (e < 0) { if (a == 1) { return 1; } if (a == -1) { return select(-1, 1, (e & 1) == 0); } return 0; }
  var r = 1; var b = a; var k = e;
  loop { if (k == 0) { break; } if ((k & 1) != 0) { r = r * b; } b = b * b; k = k >> 1u; }
  return r;
}
// Python/PyTorch remainder: the exact truncated remainder moved into b's sign. The truncated one
// subtracts b scaled by powers of 2 (each step is exact: t <= r < 2t), so huge a / b loses no
// digit and a zero result keeps a's sign; an infinite b leaves a finite a alone when the signs
// agree and gives b otherwise.
fn fmod(a: f32, b: f32) -> f32 {
  if (isNan(a) || isNan(b) || b == 0.0 || abs(a) == infF()) { return nanF(); }
  if (abs(b) == infF()) { if (a == 0.0 || (a > 0.0) == (b > 0.0)) { return a; } return b; }
  let m = abs(b);
  let fm = frexp(m).fract;
  var r = abs(a);
  for (var i = 0; i < 300 && r >= m; i = i + 1) {
    var t = ldexp(fm, frexp(r).exp);
    if (t > r) { t = t * 0.5; }
    r = r - t;
  }
  r = copySign(r, a);
  if (r != 0.0 && (r < 0.0) != (b < 0.0)) { return r + b; }
  return r;
}
// atan2 with C's special cases (signed zeros, infinities, NaN), which WGSL's builtin leaves undefined.
fn atan2_32(y: f32, x: f32) -> f32 {
  if (isNan(y) || isNan(x)) { return nanF(); }
  let pi = 3.1415927;
  if (y == 0.0) { return select(y, copySign(pi, y), x < 0.0 || (x == 0.0 && signBit(x))); }
  if (abs(y) == infF()) {
    if (abs(x) == infF()) { return copySign(select(0.7853982, 2.3561945, x < 0.0), y); }
    return copySign(1.5707964, y);
  }
  if (abs(x) == infF()) { return copySign(select(0.0, pi, x < 0.0), y); }
  if (x == 0.0) { return copySign(1.5707964, y); }
  return atan2(y, x);
}
fn imod(a: i32, b: i32) -> i32 { if (b == 0) { return 0; } let r = a % b; if (r != 0 && ((r < 0) != (b < 0))) { return r + b; } return r; }
fn idiv(a: i32, b: i32) -> i32 { if (b == 0) { return 0; } return a / b; }
`;

/** Float expressions of unary ops (x: f32); `not`/`isnan` yield 0.0/1.0 converted to bool by the caller. */
const UNARY_F32: { readonly [K in UnaryOp]: string } = {
  neg: '-x', abs: 'abs(x)', sign: 'select(sign(x), x, isNan(x))', exp: 'exp32(x)', expm1: 'expm1_32(x)', log: 'log32(x)',
  log1p: 'log1p32(x)', sqrt: 'select(sqrt(x), nanF(), x < 0.0 || isNan(x))',
  rsqrt: 'select(select(inverseSqrt(x), 1.0 / x, x == 0.0), nanF(), x < 0.0 || isNan(x))',
  square: 'x * x', reciprocal: '1.0 / x', sin: 'sin32(x)', cos: 'cos32(x)', tanh: 'tanh32(x)', sigmoid: 'sigmoid32(x)',
  relu: 'select(max(x, 0.0), x, isNan(x))', erf: 'erf32(x)', floor: 'floor(x)', ceil: 'ceil(x)', round: 'round(x)',
  not: 'select(0.0, 1.0, x == 0.0)', isnan: 'select(0.0, 1.0, isNan(x))',
};

/** Integer expressions of the unary ops that keep an integer dtype (x: i32). */
const UNARY_I32: Partial<{ readonly [K in UnaryOp]: string }> = {
  neg: '-x', abs: 'abs(x)', sign: 'sign(x)', square: 'x * x', relu: 'max(x, 0)', floor: 'x', ceil: 'x', round: 'x',
  not: 'select(0, 1, x == 0)', isnan: '0',
};

/**
 * The WGSL expression (in `x`) of unary `op` for compute domain `dom`, or null when the op
 * needs float math (core promotes those inputs to float32 first).
 *
 * @example
 * ```ts
 * unaryExpr('relu', 'i32'); // 'max(x, 0)'
 * ```
 */
export function unaryExpr(op: UnaryOp, dom: 'f32' | 'i32'): string | null {
  return dom === 'f32' ? UNARY_F32[op] : UNARY_I32[op] ?? null;
}

/** Float expressions of binary ops (a, b: f32); comparison results are 0.0/1.0. */
const BINARY_F32: { readonly [K in BinaryOp]: string } = {
  add: 'a + b', sub: 'a - b', mul: 'a * b', div: 'a / b', pow: 'cpow(a, b)',
  maximum: 'select(max(a, b), a + b, isNan(a) || isNan(b))', minimum: 'select(min(a, b), a + b, isNan(a) || isNan(b))',
  mod: 'fmod(a, b)', atan2: 'atan2_32(a, b)',
  eq: 'select(0.0, 1.0, a == b)', ne: 'select(0.0, 1.0, a != b || isNan(a) || isNan(b))', lt: 'select(0.0, 1.0, a < b)',
  le: 'select(0.0, 1.0, a <= b)', gt: 'select(0.0, 1.0, a > b)', ge: 'select(0.0, 1.0, a >= b)',
  and: 'select(0.0, 1.0, a != 0.0 && b != 0.0)', or: 'select(0.0, 1.0, a != 0.0 || b != 0.0)', xor: 'select(0.0, 1.0, (a != 0.0) != (b != 0.0))',
};

/** Integer expressions of binary ops (a, b: i32), wrapping like int32 arithmetic. */
const BINARY_I32: { readonly [K in BinaryOp]: string } = {
  add: 'a + b', sub: 'a - b', mul: 'a * b', div: 'idiv(a, b)', pow: 'ipow(a, b)', maximum: 'max(a, b)', minimum: 'min(a, b)',
  mod: 'imod(a, b)', atan2: 'f2i(atan2(f32(a), f32(b)))',
  eq: 'select(0, 1, a == b)', ne: 'select(0, 1, a != b)', lt: 'select(0, 1, a < b)', le: 'select(0, 1, a <= b)',
  gt: 'select(0, 1, a > b)', ge: 'select(0, 1, a >= b)', and: 'select(0, 1, a != 0 && b != 0)',
  or: 'select(0, 1, a != 0 || b != 0)', xor: 'select(0, 1, (a != 0) != (b != 0))',
};

/**
 * The WGSL expression (in `a`, `b`) of binary `op` for compute domain `dom`.
 *
 * @example
 * ```ts
 * binaryExpr('mod', 'i32'); // 'imod(a, b)'
 * ```
 */
export function binaryExpr(op: BinaryOp, dom: 'f32' | 'i32'): string {
  return dom === 'f32' ? BINARY_F32[op] : BINARY_I32[op];
}

/**
 * The counter-based RNG of core's random-bits.ts, ported with u32 arithmetic (wrapping
 * multiply = Math.imul), so uniform draws are bit-identical to `uniformAt`.
 *
 * @example
 * ```ts
 * const code = `${MATH_WGSL}${RANDOM_WGSL}...`; // then call uniformAt(seed, counter)
 * ```
 */
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

const COMPARE = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor']);

/** A WGSL helper function (`decl`) computing one op on stored values, and how to call it. */
export interface OpWgsl<A extends unknown[]> {
  readonly decl: string;
  readonly call: (...operands: A) => string;
}

/**
 * Unary `op` as WGSL function `name` from an `xDtype` stored value to an `outDtype` stored
 * value (the single-op kernel and fused programs share it), or null when the op has no kernel
 * for that dtype.
 *
 * @example
 * ```ts
 * const u = unaryWgsl('exp', 'float32', 'float32', 'f0'); // u.call('v0') == 'f0(v0)'
 * ```
 */
export function unaryWgsl(op: UnaryOp, xDtype: DType, outDtype: DType, name: string): OpWgsl<[string]> | null {
  const outDom = outDtype === 'bool' ? domainOf(xDtype) : domainOf(outDtype);
  const dom = op === 'isnan' || op === 'not' ? domainOf(xDtype) : outDom;
  const expr = unaryExpr(op, dom);
  if (!expr) return null;
  const load = (v: string) => (dom === 'f32' ? (xDtype === 'float32' ? v : `f32(${xDtype === 'bool' ? `i32(${v})` : v})`)
    : xDtype === 'bool' ? `i32(${v})` : xDtype === 'int32' ? v : `f2i(${v})`);
  const target = op === 'isnan' || op === 'not' ? 'bool' : outDtype;
  return { decl: `fn ${name}(x: ${dom}) -> ${WGSL_TYPE[target]} { return ${convert(`(${expr})`, dom, target)}; }`, call: (v) => `${name}(${load(v)})` };
}

/**
 * Binary `op` as WGSL function `name` from stored `aDtype`/`bDtype` values to an `outDtype`
 * stored value.
 *
 * @example
 * ```ts
 * const f = binaryWgsl('add', 'float32', 'float32', 'float32', 'f1'); // f.call('v0', 'v1')
 * ```
 */
export function binaryWgsl(op: BinaryOp, aDtype: DType, bDtype: DType, outDtype: DType, name: string): OpWgsl<[string, string]> {
  const dom = COMPARE.has(op) ? (aDtype === 'float32' || bDtype === 'float32' ? 'f32' : 'i32') : outDtype === 'bool' ? 'i32' : domainOf(outDtype);
  const load = (v: string, d: DType) => (dom === 'f32' ? (d === 'float32' ? v : d === 'bool' ? `f32(i32(${v}))` : `f32(${v})`)
    : d === 'float32' ? `f2i(${v})` : d === 'bool' ? `i32(${v})` : v);
  return {
    decl: `fn ${name}(a: ${dom}, b: ${dom}) -> ${WGSL_TYPE[outDtype]} { return ${convert(`(${binaryExpr(op, dom)})`, dom, outDtype)}; }`,
    call: (a, b) => `${name}(${load(a, aDtype)}, ${load(b, bDtype)})`,
  };
}
