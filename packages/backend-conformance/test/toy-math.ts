// SPDX-License-Identifier: MIT
// Scalar math and strided indexing for the toy backend (test/toy-backend.ts): plain JS
// numbers, written for clarity rather than speed, independent of @heed/backend-cpu.
// Invariants: `store` is the only place values are rounded to a dtype; elementwise tables
// are exhaustive over core's UnaryOp/BinaryOp.
import type { BinaryOp, DType, StridedView, UnaryOp } from '@heed/core';

/**
 * Rounds a JS number to what a `dtype` element holds (float32 rounding, int32 truncation and
 * wrap-around, bool 0/1 with NaN counted as true).
 *
 * @example
 * ```ts
 * store(2.7, 'int32'); // 2
 * ```
 */
export function store(v: number, dtype: DType): number {
  if (dtype === 'float32') return Math.fround(v);
  if (dtype === 'int32') return v | 0;
  return v !== 0 ? 1 : 0;
}

/**
 * The storage offset of every element of `view`, in row-major order.
 *
 * @example
 * ```ts
 * offsets({ shape: [2, 2], strides: [1, 2], offset: 0 }); // [0, 2, 1, 3]
 * ```
 */
export function offsets(view: Pick<StridedView, 'shape' | 'strides' | 'offset'>): number[] {
  const { shape, strides } = view;
  const n = shape.reduce((p, d) => p * d, 1);
  const out = new Array<number>(n);
  const idx = new Array<number>(shape.length).fill(0);
  let off = view.offset;
  for (let i = 0; i < n; i++) {
    out[i] = off;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      off += strides[d];
      if (idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

/**
 * Row-major multi-index of flat position `i`.
 *
 * @example
 * ```ts
 * unflatten(5, [2, 3]); // [1, 2]
 * ```
 */
export function unflatten(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

/**
 * Error function: Maclaurin series below 2.5, the continued fraction of erfc above (about 1e-14).
 *
 * @example
 * ```ts
 * erf(0.5); // 0.5204998778130465
 * ```
 */
export function erf(x: number): number {
  if (Number.isNaN(x) || x === 0) return x; // keeps -0
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x);
  if (ax < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/** Round half to even. */
function roundHalfEven(v: number): number {
  if (!Number.isFinite(v)) return v;
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : r;
}

/** C / PyTorch pow: pow(x, 0) = 1 and pow(1, y) = 1 for all x, y; pow(-1, +-inf) = 1. */
function cPow(a: number, b: number): number {
  if (b === 0 || a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return a ** b;
}

/** Python / PyTorch remainder: the result has the sign of the divisor. */
function pyMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

/**
 * Every unary primitive as a scalar function (exhaustive over UnaryOp).
 *
 * @example
 * ```ts
 * UNARY.sigmoid(0); // 0.5
 * ```
 */
export const UNARY: { readonly [K in UnaryOp]: (v: number) => number } = {
  neg: (v) => -v, abs: Math.abs, sign: (v) => (v > 0 ? 1 : v < 0 ? -1 : v), exp: Math.exp, expm1: Math.expm1,
  log: Math.log, log1p: Math.log1p, sqrt: Math.sqrt, rsqrt: (v) => 1 / Math.sqrt(v), square: (v) => v * v,
  reciprocal: (v) => 1 / v, sin: Math.sin, cos: Math.cos, tanh: Math.tanh, sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  relu: (v) => (v > 0 || Number.isNaN(v) ? v : 0), erf, floor: Math.floor, ceil: Math.ceil, round: roundHalfEven,
  not: (v) => (v ? 0 : 1), isnan: (v) => (Number.isNaN(v) ? 1 : 0),
};

/**
 * Every binary primitive as a scalar function (exhaustive over BinaryOp).
 *
 * @example
 * ```ts
 * BINARY.mod(-7, 3); // 2
 * ```
 */
export const BINARY: { readonly [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b, pow: cPow,
  maximum: (a, b) => Math.max(a, b), minimum: (a, b) => Math.min(a, b), mod: pyMod, atan2: Math.atan2,
  eq: (a, b) => +(a === b), ne: (a, b) => +(a !== b), lt: (a, b) => +(a < b), le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b), ge: (a, b) => +(a >= b), and: (a, b) => +(a !== 0 && b !== 0), or: (a, b) => +(a !== 0 || b !== 0),
  xor: (a, b) => +((a !== 0) !== (b !== 0)),
};
