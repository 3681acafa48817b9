// SPDX-License-Identifier: MIT
// Vector (f32x4) transcendental functions for the fast kernels: exp, tanh, erf, sigmoid and
// the two GELU forms. Accuracy targets float32 use (relative error a few ulp, erf absolute
// error <= 1.5e-7); NaN inputs give NaN. The reference backend computes in float64, so tests
// compare with float32 tolerances.
import { madd } from './simd';

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_HI: f32 = 88.7228;
const EXP_LO: f32 = -103.972; // below this e^x rounds to 0 even as a float32 subnormal

/** e^x (Cephes expf: range reduction by ln 2, degree-5 polynomial, exponent by bit shift). */
@inline export function vexp(x0: v128): v128 {
  // pmax/pmin keep NaN lanes as NaN (they select the first operand when the compare fails)
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const fx = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  let r = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(fx, f32x4.splat(LN2_LO)));
  let y = f32x4.splat(1.9875691500e-4);
  y = madd(y, r, f32x4.splat(1.3981999507e-3));
  y = madd(y, r, f32x4.splat(8.3334519073e-3));
  y = madd(y, r, f32x4.splat(4.1665795894e-2));
  y = madd(y, r, f32x4.splat(1.6666665459e-1));
  y = madd(y, r, f32x4.splat(5.0000001201e-1));
  y = madd(y, f32x4.mul(r, r), f32x4.add(r, f32x4.splat(1)));
  const n = i32x4.trunc_sat_f32x4_s(fx);
  // 2^n split in two factors so n = 128 (x near EXP_HI) does not overflow the exponent field
  // and n down to -150 yields correctly rounded subnormals (only the last product rounds)
  const h = i32x4.shr_s(n, 1);
  const p1 = i32x4.shl(i32x4.add(h, i32x4.splat(127)), 23);
  const p2 = i32x4.shl(i32x4.add(i32x4.sub(n, h), i32x4.splat(127)), 23);
  y = f32x4.mul(f32x4.mul(y, p1), p2);
  // true under/overflow beyond the clamp range
  y = v128.bitselect(f32x4.splat(0), y, f32x4.lt(x0, f32x4.splat(EXP_LO)));
  return v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x0, f32x4.splat(EXP_HI)));
}

/**
 * tanh(x) (Eigen's rational approximation on [-7.9053, 7.9053], exact sign at the ends), and
 * exactly +-1 beyond 9.0109, where float32 tanh rounds to 1: the rational form at its clamp is
 * 1 - 2.4e-7, so without this gelu(-inf) would be -inf * 2.4e-7 = -inf instead of -inf * 0 = NaN
 * and gelu(-1e30) -1e23 instead of -0.
 */
@inline export function vtanh(x0: v128): v128 {
  const lim = f32x4.splat(7.90531110763549805);
  const x = f32x4.pmin(f32x4.pmax(x0, f32x4.neg(lim)), lim);
  const x2 = f32x4.mul(x, x);
  let p = f32x4.splat(-2.76076847742355e-16);
  p = madd(p, x2, f32x4.splat(2.00018790482477e-13));
  p = madd(p, x2, f32x4.splat(-8.60467152213735e-11));
  p = madd(p, x2, f32x4.splat(5.12229709037114e-08));
  p = madd(p, x2, f32x4.splat(1.48572235717979e-05));
  p = madd(p, x2, f32x4.splat(6.37261928875436e-04));
  p = madd(p, x2, f32x4.splat(4.89352455891786e-03));
  p = f32x4.mul(p, x);
  let q = f32x4.splat(1.19825839466702e-06);
  q = madd(q, x2, f32x4.splat(1.18534705686654e-04));
  q = madd(q, x2, f32x4.splat(2.26843463243900e-03));
  q = madd(q, x2, f32x4.splat(4.89352518554385e-03));
  const y = f32x4.div(p, q);
  // tiny |x|: tanh(x) = x to float precision (avoids the rational form's rounding there)
  const r = v128.bitselect(x, y, f32x4.lt(f32x4.abs(x), f32x4.splat(0.0004)));
  // |x| > 9.0109 (incl. +-inf; NaN compares false): +-1 with the sign of x
  const one = v128.or(f32x4.splat(1), v128.and(x0, i32x4.splat(0x80000000)));
  return v128.bitselect(one, r, f32x4.gt(f32x4.abs(x0), f32x4.splat(9.0109)));
}

/** erf(x) (Abramowitz-Stegun 7.1.26, |error| <= 1.5e-7, odd symmetry). */
@inline export function verf(x: v128): v128 {
  const ax = f32x4.abs(x);
  const t = f32x4.div(f32x4.splat(1), madd(ax, f32x4.splat(0.3275911), f32x4.splat(1)));
  let p = f32x4.splat(1.061405429);
  p = madd(p, t, f32x4.splat(-1.453152027));
  p = madd(p, t, f32x4.splat(1.421413741));
  p = madd(p, t, f32x4.splat(-0.284496736));
  p = madd(p, t, f32x4.splat(0.254829592));
  p = f32x4.mul(p, t);
  const e = vexp(f32x4.neg(f32x4.mul(ax, ax)));
  const y = f32x4.sub(f32x4.splat(1), f32x4.mul(p, e));
  // copy the sign of x (NaN stays NaN through the arithmetic above)
  const sign = v128.and(x, i32x4.splat(0x80000000));
  return v128.or(y, sign);
}

/** 1 / (1 + e^-x), overflow-free: with e = e^-|x|, 1/(1+e) for x >= 0 and e/(1+e) below. */
@inline export function vsigmoid(x: v128): v128 {
  const e = vexp(f32x4.neg(f32x4.abs(x)));
  const inv = f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), e));
  return v128.bitselect(inv, f32x4.mul(e, inv), f32x4.ge(x, f32x4.splat(0)));
}

/** GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
@inline export function vgeluTanh(x: v128): v128 {
  const x3 = f32x4.mul(f32x4.mul(x, x), x);
  const inner = f32x4.mul(madd(x3, f32x4.splat(0.044715), x), f32x4.splat(0.7978845608028654));
  return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(vtanh(inner), f32x4.splat(1)));
}

/** GELU, exact form: 0.5 x (1 + erf(x / sqrt 2)). */
@inline export function vgeluErf(x: v128): v128 {
  const e = verf(f32x4.mul(x, f32x4.splat(0.7071067811865476)));
  return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(e, f32x4.splat(1)));
}
