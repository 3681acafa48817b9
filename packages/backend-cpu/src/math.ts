// SPDX-License-Identifier: MIT
// Scalar math the elementwise kernels need beyond `Math`: a double-precision erf, round half
// to even, a numerically stable sigmoid, Python-style remainder and wrapping integer power.
// Invariants: every function takes and returns plain JS numbers (doubles), is pure, and
// propagates NaN; results are then stored into the output array type by the caller.

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2 / sqrt(pi)
const INV_SQRT_PI = 0.5641895835477563; // 1 / sqrt(pi)
/** Depth of the erfc continued fraction; 40 already reaches double precision for x >= 2.5. */
const ERFC_CF_DEPTH = 48;

/**
 * The error function, accurate to about 1e-15 (double precision) everywhere.
 *
 * For |x| < 2.5 it sums the series `erf(x) = 2/sqrt(pi) * exp(-x^2) * sum 2^n x^(2n+1) / (2n+1)!!`
 * (all terms positive, so no cancellation); for 2.5 <= |x| < 6 it evaluates Laplace's continued
 * fraction for erfc backwards; beyond 6, erf is +-1 to double precision.
 *
 * @example
 * ```ts
 * erf(0.5); // 0.5204998778130465
 * erf(-2); // -0.9953222650189527
 * ```
 */
export function erf(x: number): number {
  if (x === 0 || x !== x) return x; // keeps -0 and NaN
  const ax = x < 0 ? -x : x;
  let r: number;
  if (ax >= 6) {
    r = 1;
  } else {
    const x2 = ax * ax;
    if (ax < 2.5) {
      let term = ax;
      let sum = ax;
      for (let n = 1; n < 200; n++) {
        term *= (2 * x2) / (2 * n + 1);
        sum += term;
        if (term <= sum * 1e-17) break;
      }
      r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
    } else {
      // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
      let f = ax;
      for (let k = ERFC_CF_DEPTH; k >= 1; k--) f = ax + (k * 0.5) / f;
      r = 1 - (INV_SQRT_PI * Math.exp(-x2)) / f;
    }
  }
  return x < 0 ? -r : r;
}

/**
 * Rounds to the nearest integer, ties to the even one (like `torch.round` and IEEE
 * roundTiesToEven). Keeps the sign of zero and passes NaN and infinities through.
 *
 * @example
 * ```ts
 * roundHalfEven(2.5); // 2
 * roundHalfEven(3.5); // 4
 * roundHalfEven(-0.5); // -0
 * ```
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  let r: number;
  if (d < 0.5) r = f;
  else if (d > 0.5) r = f + 1;
  else r = f % 2 === 0 ? f : f + 1; // a tie; also NaN/infinity (d is NaN) end up as f + 1 = x
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}

/**
 * The logistic function `1 / (1 + exp(-x))`, computed without overflow for large |x|.
 *
 * @example
 * ```ts
 * sigmoid(0); // 0.5
 * sigmoid(-1000); // 0 (not NaN)
 * ```
 */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * Python/PyTorch `remainder`: `a - b * floor(a / b)` in exact arithmetic, so the result has the
 * sign of `b` (or is `a`'s signed zero). Exact for float and int32 operands; `b = 0` gives NaN
 * (stored as 0 into int32 outputs); an infinite `b` returns `a` when the signs agree, else `b`
 * (as in Python).
 *
 * @example
 * ```ts
 * pyMod(-7, 3); // 2
 * pyMod(7, -3); // -2
 * pyMod(5.5, 2); // 1.5
 * ```
 */
export function pyMod(a: number, b: number): number {
  // The exact fmod (JS %) moved into b's sign, like PyTorch: a - b * floor(a / b) loses every
  // digit when a / b is huge and turns -0 into +0. An infinite b leaves a finite a alone when
  // the signs agree and gives b otherwise, as in Python.
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}

/**
 * C/PyTorch `pow`: like `Math.pow`, except `1 ** y` and `(-1) ** ±Infinity` are 1 (JS gives NaN).
 *
 * @example
 * ```ts
 * cPow(1, NaN); // 1
 * cPow(2, 3); // 8
 * ```
 */
export function cPow(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}

/**
 * Integer power with int32 wraparound (repeated squaring with `Math.imul`). Negative
 * exponents give the truncated result of `1 / a^-e`: 1 for a = 1, +-1 for a = -1, else 0.
 *
 * @example
 * ```ts
 * intPow(3, 4); // 81
 * intPow(2, 31); // -2147483648 (wrapped)
 * intPow(2, -1); // 0
 * ```
 */
export function intPow(a: number, e: number): number {
  let base = a | 0;
  let exp = e | 0;
  if (exp < 0) {
    if (base === 1) return 1;
    if (base === -1) return (exp & 1) === 0 ? 1 : -1;
    return 0;
  }
  let r = 1;
  while (exp > 0) {
    if ((exp & 1) !== 0) r = Math.imul(r, base);
    base = Math.imul(base, base);
    exp >>>= 1;
  }
  return r;
}
