// SPDX-License-Identifier: MIT
// Elementwise kernels: unary, binary, where and cast over strided views. Values are read as
// JS doubles, computed in double precision, and stored into the output array, whose store
// rules finish the job: Float32Array rounds, Int32Array truncates toward zero and wraps mod
// 2^32 (exactly PyTorch's int32 wraparound, since int32 sums of two operands are exact in
// doubles; products use Math.imul). Invariants:
// - each op has one "row" function that processes a whole strided run, so the per-element
//   work is a plain loop with no calls through variables;
// - bool outputs hold only 0/1: ops that do not produce 0/1 by construction compute into a
//   Float64Array scratch first and are then mapped with `value != 0`.
import {
  HeedError, StridedWalker, allocArray, contiguousStrides, sizeOf, type BinaryOp, type DataId, type DType, type StridedView, type UnaryOp,
} from '@heed/core';
import { cPow, erf, intPow, pyMod, roundHalfEven, sigmoid } from './math.js';
import { arrayOf, toBool, wrap, type NumArray } from './storage.js';
import { copyStrided } from './strided.js';

/** Writes `n` results for input run x[p], x[p+s], ... into out[o..o+n). */
type UnaryRow = (out: NumArray, o: number, x: NumArray, p: number, s: number, n: number) => void;
/** Writes `n` results for runs a[pa + j*sa] and b[pb + j*sb] into out[o..o+n). */
type BinaryRow = (out: NumArray, o: number, a: NumArray, pa: number, sa: number, b: NumArray, pb: number, sb: number, n: number) => void;

const UNARY_ROWS: { readonly [K in UnaryOp]: UnaryRow } = {
  neg: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = -x[p]; },
  abs: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.abs(x[p]); },
  sign: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.sign(x[p]); },
  exp: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.exp(x[p]); },
  expm1: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.expm1(x[p]); },
  log: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.log(x[p]); },
  log1p: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.log1p(x[p]); },
  sqrt: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.sqrt(x[p]); },
  rsqrt: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = 1 / Math.sqrt(x[p]); },
  square: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) { const v = x[p]; out[o + j] = v * v; } },
  reciprocal: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = 1 / x[p]; },
  sin: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.sin(x[p]); },
  cos: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.cos(x[p]); },
  tanh: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.tanh(x[p]); },
  sigmoid: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = sigmoid(x[p]); },
  relu: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) { const v = x[p]; out[o + j] = v < 0 ? 0 : v; } },
  erf: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = erf(x[p]); },
  floor: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.floor(x[p]); },
  ceil: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.ceil(x[p]); },
  round: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = roundHalfEven(x[p]); },
  not: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = x[p] === 0 ? 1 : 0; },
  isnan: (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) { const v = x[p]; out[o + j] = v !== v ? 1 : 0; } },
};

/** int32 square wraps like PyTorch: the double product could exceed 2^53, so use imul. */
const INT_SQUARE: UnaryRow = (out, o, x, p, s, n) => { for (let j = 0; j < n; j++, p += s) out[o + j] = Math.imul(x[p], x[p]); };

const BINARY_ROWS: { readonly [K in BinaryOp]: BinaryRow } = {
  add: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] + b[pb]; },
  sub: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] - b[pb]; },
  mul: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] * b[pb]; },
  div: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] / b[pb]; },
  pow: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = cPow(a[pa], b[pb]); },
  maximum: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = Math.max(a[pa], b[pb]); },
  minimum: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = Math.min(a[pa], b[pb]); },
  mod: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = pyMod(a[pa], b[pb]); },
  atan2: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = Math.atan2(a[pa], b[pb]); },
  eq: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] === b[pb] ? 1 : 0; },
  ne: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] !== b[pb] ? 1 : 0; },
  lt: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] < b[pb] ? 1 : 0; },
  le: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] <= b[pb] ? 1 : 0; },
  gt: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] > b[pb] ? 1 : 0; },
  ge: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] >= b[pb] ? 1 : 0; },
  and: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] !== 0 && b[pb] !== 0 ? 1 : 0; },
  or: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = a[pa] !== 0 || b[pb] !== 0 ? 1 : 0; },
  xor: (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = (a[pa] !== 0) !== (b[pb] !== 0) ? 1 : 0; },
};

/** int32 products and powers must wrap mod 2^32 exactly, which doubles cannot do past 2^53. */
const INT_MUL: BinaryRow = (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = Math.imul(a[pa], b[pb]); };
const INT_POW: BinaryRow = (out, o, a, pa, sa, b, pb, sb, n) => { for (let j = 0; j < n; j++, pa += sa, pb += sb) out[o + j] = intPow(a[pa], b[pb]); };

/** Ops whose results are already 0/1, so they may write a bool output directly. */
const BOOL_NATIVE = new Set<string>(['not', 'isnan', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor']);

function checkOp(kind: string, op: string, table: object): void {
  if (!Object.prototype.hasOwnProperty.call(table, op)) {
    throw new HeedError(kind, `unknown ${kind} op '${op}'; the cpu backend implements ${Object.keys(table).join(', ')}.`);
  }
}

/** The array rows are written to: the output itself, or scratch when it must become bool. */
function target(op: string, out: NumArray, outDtype: DType): NumArray {
  return outDtype === 'bool' && !BOOL_NATIVE.has(op) ? new Float64Array(out.length) : out;
}

/**
 * Applies a unary op elementwise; the result has `x.shape`, is contiguous and has `outDtype`.
 *
 * @example
 * ```ts
 * const id = unaryKernel('exp', view, 'float32');
 * ```
 */
export function unaryKernel(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
  checkOp('unary', op, UNARY_ROWS);
  const src = arrayOf(x.data, op);
  const out = allocArray(outDtype, sizeOf(x.shape));
  const row = op === 'square' && outDtype === 'int32' && x.dtype !== 'float32' ? INT_SQUARE : UNARY_ROWS[op];
  const dst = target(op, out, outDtype);
  const w = new StridedWalker(x.shape, x.strides, x.offset);
  const n = w.n;
  let o = 0;
  for (let r = 0; r < w.rows; r++, w.next(), o += n) row(dst, o, src, w.p0, w.s0, n);
  if (dst !== out) toBool(dst, out as Uint8Array);
  return wrap(out, outDtype);
}

/**
 * Applies a binary op elementwise to two views of one shape (broadcasting already expressed
 * by 0 strides); the result is contiguous with dtype `outDtype`.
 *
 * @example
 * ```ts
 * const id = binaryKernel('add', a, b, 'float32');
 * ```
 */
export function binaryKernel(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
  checkOp('binary', op, BINARY_ROWS);
  const av = arrayOf(a.data, op);
  const bv = arrayOf(b.data, op);
  const out = allocArray(outDtype, sizeOf(a.shape));
  const intMath = outDtype === 'int32' && a.dtype !== 'float32' && b.dtype !== 'float32';
  const row = intMath && op === 'mul' ? INT_MUL : intMath && op === 'pow' ? INT_POW : BINARY_ROWS[op];
  const dst = target(op, out, outDtype);
  const w = new StridedWalker(a.shape, a.strides, a.offset, b.strides, b.offset);
  const n = w.n;
  let o = 0;
  for (let r = 0; r < w.rows; r++, w.next(), o += n) row(dst, o, av, w.p0, w.s0, bv, w.p1, w.s1, n);
  if (dst !== out) toBool(dst, out as Uint8Array);
  return wrap(out, outDtype);
}

/**
 * `cond ? a : b` elementwise over three views of one shape; the result has `a.dtype`.
 *
 * @example
 * ```ts
 * const id = whereKernel(mask, x, zeros);
 * ```
 */
export function whereKernel(cond: StridedView, a: StridedView, b: StridedView): DataId {
  const cv = arrayOf(cond.data, 'where');
  const av = arrayOf(a.data, 'where');
  const bv = arrayOf(b.data, 'where');
  const out = allocArray(a.dtype, sizeOf(cond.shape));
  const w = new StridedWalker(cond.shape, cond.strides, cond.offset, a.strides, a.offset, b.strides, b.offset);
  const { n, s0, s1, s2 } = w;
  let o = 0;
  for (let r = 0; r < w.rows; r++, w.next()) {
    let pc = w.p0;
    let pa = w.p1;
    let pb = w.p2;
    for (let j = 0; j < n; j++, pc += s0, pa += s1, pb += s2) out[o++] = cv[pc] !== 0 ? av[pa] : bv[pb];
  }
  return wrap(out, a.dtype);
}

/**
 * Converts a view to `dtype`: float to int32 truncates toward zero (NaN becomes 0), anything
 * to bool is `value != 0`, bool to numbers is 0/1. Same dtype gives a contiguous copy.
 *
 * @example
 * ```ts
 * const id = castKernel(view, 'int32'); // [1.7, -1.7] -> [1, -1]
 * ```
 */
export function castKernel(x: StridedView, dtype: DType): DataId {
  const src = arrayOf(x.data, 'cast');
  const out = allocArray(dtype, sizeOf(x.shape));
  if (dtype === 'bool') {
    const w = new StridedWalker(x.shape, x.strides, x.offset);
    const { n, s0 } = w;
    let o = 0;
    for (let r = 0; r < w.rows; r++, w.next()) {
      let p = w.p0;
      for (let j = 0; j < n; j++, p += s0) out[o++] = src[p] !== 0 ? 1 : 0;
    }
  } else {
    // Int32Array stores truncate toward zero and map NaN to 0; Float32Array stores round.
    copyStrided(out, contiguousStrides(x.shape), 0, src, x.strides, x.offset, x.shape);
  }
  return wrap(out, dtype);
}
