// SPDX-License-Identifier: MIT
// Elementwise float32 kernels of the fast path: binary arithmetic whose operands are each a
// contiguous run or a broadcast scalar per segment, and unary math (incl. GELU). A job block
// is a range of output elements, so any split over threads gives identical results.
// Operand modes (how an operand maps onto the flat output, rows x n):
//   0 full (same layout as the output), 1 scalar, 2 row vector (length n, broadcast over rows),
//   3 column vector (length rows, broadcast along each row).
import { madd } from './simd';
import { vexp, vgeluErf, vgeluTanh, vsigmoid, vtanh } from './vmath';

/** Binary op ids (kept in sync with src/fast/ops.ts). */
export const B_ADD = 0, B_SUB = 1, B_MUL = 2, B_DIV = 3, B_MAX = 4, B_MIN = 5;
/** Unary op ids (kept in sync with src/fast/ops.ts). */
export const U_NEG = 0, U_ABS = 1, U_SQRT = 2, U_RSQRT = 3, U_SQUARE = 4, U_RECIP = 5, U_RELU = 6,
  U_EXP = 7, U_TANH = 8, U_SIGMOID = 9, U_GELU_TANH = 10, U_GELU_ERF = 11;

@inline function binv(op: i32, a: v128, b: v128): v128 {
  switch (op) {
    case B_ADD: return f32x4.add(a, b);
    case B_SUB: return f32x4.sub(a, b);
    case B_MUL: return f32x4.mul(a, b);
    case B_DIV: return f32x4.div(a, b);
    case B_MAX: return f32x4.max(a, b);
    default: return f32x4.min(a, b);
  }
}

@inline function unv(op: i32, x: v128): v128 {
  switch (op) {
    case U_NEG: return f32x4.neg(x);
    case U_ABS: return f32x4.abs(x);
    case U_SQRT: return f32x4.sqrt(x);
    case U_RSQRT: return f32x4.div(f32x4.splat(1), f32x4.sqrt(x));
    case U_SQUARE: return f32x4.mul(x, x);
    case U_RECIP: return f32x4.div(f32x4.splat(1), x);
    case U_RELU: return f32x4.pmax(x, f32x4.splat(0));
    case U_EXP: return vexp(x);
    case U_TANH: return vtanh(x);
    case U_SIGMOID: return vsigmoid(x);
    case U_GELU_TANH: return vgeluTanh(x);
    default: return vgeluErf(x);
  }
}

/** out[0..len) = a op b where a/b are runs (stride 1) or splats of their first element. */
@inline function segment(op: i32, a: usize, aSplat: bool, b: usize, bSplat: bool, out: usize, len: i32): void {
  let j = 0;
  if (!aSplat && !bSplat) {
    for (; j + 8 <= len; j += 8) {
      const o = <usize>j << 2;
      v128.store(out + o, binv(op, v128.load(a + o), v128.load(b + o)));
      v128.store(out + o, binv(op, v128.load(a + o, 16), v128.load(b + o, 16)), 16);
    }
    for (; j + 4 <= len; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, binv(op, v128.load(a + o), v128.load(b + o)));
    }
    for (; j < len; j++) {
      const o = <usize>j << 2;
      store<f32>(out + o, f32x4.extract_lane(binv(op, f32x4.splat(load<f32>(a + o)), f32x4.splat(load<f32>(b + o))), 0));
    }
  } else if (!aSplat) {
    const bv = v128.load32_splat(b);
    for (; j + 8 <= len; j += 8) {
      const o = <usize>j << 2;
      v128.store(out + o, binv(op, v128.load(a + o), bv));
      v128.store(out + o, binv(op, v128.load(a + o, 16), bv), 16);
    }
    for (; j + 4 <= len; j += 4) v128.store(out + (<usize>j << 2), binv(op, v128.load(a + (<usize>j << 2)), bv));
    for (; j < len; j++) {
      const o = <usize>j << 2;
      store<f32>(out + o, f32x4.extract_lane(binv(op, f32x4.splat(load<f32>(a + o)), bv), 0));
    }
  } else if (!bSplat) {
    const av = v128.load32_splat(a);
    for (; j + 4 <= len; j += 4) v128.store(out + (<usize>j << 2), binv(op, av, v128.load(b + (<usize>j << 2))));
    for (; j < len; j++) {
      const o = <usize>j << 2;
      store<f32>(out + o, f32x4.extract_lane(binv(op, av, f32x4.splat(load<f32>(b + o))), 0));
    }
  } else {
    const v = binv(op, v128.load32_splat(a), v128.load32_splat(b));
    for (; j + 4 <= len; j += 4) v128.store(out + (<usize>j << 2), v);
    for (; j < len; j++) store<f32>(out + (<usize>j << 2), f32x4.extract_lane(v, 0));
  }
}

/** Start of operand data for segment (row r, column j) under `mode`. */
@inline function operandAt(p: usize, mode: i32, r: i32, j: i32, n: i32): usize {
  if (mode == 0) return p + (<usize>(r * n + j) << 2);
  if (mode == 2) return p + (<usize>j << 2);
  if (mode == 3) return p + (<usize>r << 2);
  return p;
}

@inline function binaryRange(op: i32, a: usize, ma: i32, b: usize, mb: i32, out: usize, n: i32, e0: i32, e1: i32): void {
  const aSplat = ma == 1 || ma == 3, bSplat = mb == 1 || mb == 3;
  let e = e0;
  while (e < e1) {
    const r = e / n;
    const j = e - r * n;
    const len = min(n - j, e1 - e);
    segment(op, operandAt(a, ma, r, j, n), aSplat, operandAt(b, mb, r, j, n), bSplat, out + (<usize>e << 2), len);
    e += len;
  }
}

/**
 * Binary job block. Args (i32 slots): 0 op, 1 mode a, 2 mode b, 3 a, 4 b, 5 out, 6 rows,
 * 7 n, 8 elements per block.
 */
export function binaryBlock(args: usize, block: i32): void {
  const op = load<i32>(args), ma = load<i32>(args, 4), mb = load<i32>(args, 8);
  const a = <usize>load<i32>(args, 12), b = <usize>load<i32>(args, 16), out = <usize>load<i32>(args, 20);
  const rows = load<i32>(args, 24), n = load<i32>(args, 28), chunk = load<i32>(args, 32);
  const e0 = block * chunk;
  const e1 = min(rows * n, e0 + chunk);
  switch (op) {
    case B_ADD: binaryRange(B_ADD, a, ma, b, mb, out, n, e0, e1); break;
    case B_SUB: binaryRange(B_SUB, a, ma, b, mb, out, n, e0, e1); break;
    case B_MUL: binaryRange(B_MUL, a, ma, b, mb, out, n, e0, e1); break;
    case B_DIV: binaryRange(B_DIV, a, ma, b, mb, out, n, e0, e1); break;
    case B_MAX: binaryRange(B_MAX, a, ma, b, mb, out, n, e0, e1); break;
    default: binaryRange(B_MIN, a, ma, b, mb, out, n, e0, e1); break;
  }
}

@inline function unaryRange(op: i32, x: usize, out: usize, e0: i32, e1: i32): void {
  let e = e0;
  for (; e + 4 <= e1; e += 4) {
    const o = <usize>e << 2;
    v128.store(out + o, unv(op, v128.load(x + o)));
  }
  for (; e < e1; e++) {
    const o = <usize>e << 2;
    store<f32>(out + o, f32x4.extract_lane(unv(op, f32x4.splat(load<f32>(x + o))), 0));
  }
}

/** Unary job block. Args: 0 op, 1 x, 2 out, 3 total elements, 4 elements per block. */
export function unaryBlock(args: usize, block: i32): void {
  const op = load<i32>(args), x = <usize>load<i32>(args, 4), out = <usize>load<i32>(args, 8);
  const total = load<i32>(args, 12), chunk = load<i32>(args, 16);
  const e0 = block * chunk;
  const e1 = min(total, e0 + chunk);
  switch (op) {
    case U_NEG: unaryRange(U_NEG, x, out, e0, e1); break;
    case U_ABS: unaryRange(U_ABS, x, out, e0, e1); break;
    case U_SQRT: unaryRange(U_SQRT, x, out, e0, e1); break;
    case U_RSQRT: unaryRange(U_RSQRT, x, out, e0, e1); break;
    case U_SQUARE: unaryRange(U_SQUARE, x, out, e0, e1); break;
    case U_RECIP: unaryRange(U_RECIP, x, out, e0, e1); break;
    case U_RELU: unaryRange(U_RELU, x, out, e0, e1); break;
    case U_EXP: unaryRange(U_EXP, x, out, e0, e1); break;
    case U_TANH: unaryRange(U_TANH, x, out, e0, e1); break;
    case U_SIGMOID: unaryRange(U_SIGMOID, x, out, e0, e1); break;
    case U_GELU_TANH: unaryRange(U_GELU_TANH, x, out, e0, e1); break;
    default: unaryRange(U_GELU_ERF, x, out, e0, e1); break;
  }
}

/**
 * Fused Adam update of p, m, v (float32, `total` elements each) into pOut, mOut, vOut (the
 * same addresses for an in-place update), for the block's element range. Args: 0 p, 1 g, 2 m,
 * 3 v, 4 total, 5 elements per block, then f32 slots 6 lr, 7 beta1, 8 beta2, 9 eps,
 * 10 c1 = 1/(1-beta1^t), 11 c2 = 1/(1-beta2^t), then 12 pOut, 13 mOut, 14 vOut:
 *   m = beta1 m + (1-beta1) g;  v = beta2 v + (1-beta2) g^2;  p -= lr (m c1) / (sqrt(v c2) + eps)
 */
export function adamBlock(args: usize, block: i32): void {
  const p = <usize>load<i32>(args), g = <usize>load<i32>(args, 4);
  const m = <usize>load<i32>(args, 8), v = <usize>load<i32>(args, 12);
  const pOut = <usize>load<i32>(args, 48), mOut = <usize>load<i32>(args, 52), vOut = <usize>load<i32>(args, 56);
  const total = load<i32>(args, 16), chunk = load<i32>(args, 20);
  const lr = load<f32>(args, 24), b1 = load<f32>(args, 28), b2 = load<f32>(args, 32);
  const eps = load<f32>(args, 36), c1 = load<f32>(args, 40), c2 = load<f32>(args, 44);
  const e0 = block * chunk;
  const e1 = min(total, e0 + chunk);
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), v1b1 = f32x4.splat(1 - b1), v1b2 = f32x4.splat(1 - b2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps), vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2);
  let e = e0;
  for (; e + 4 <= e1; e += 4) {
    const o = <usize>e << 2;
    const gv = v128.load(g + o);
    const mv = madd(v128.load(m + o), vb1, f32x4.mul(gv, v1b1));
    const vv = madd(v128.load(v + o), vb2, f32x4.mul(f32x4.mul(gv, gv), v1b2));
    const upd = f32x4.div(f32x4.mul(f32x4.mul(mv, vc1), vlr), f32x4.add(f32x4.sqrt(f32x4.mul(vv, vc2)), veps));
    const pv = f32x4.sub(v128.load(p + o), upd);
    v128.store(mOut + o, mv);
    v128.store(vOut + o, vv);
    v128.store(pOut + o, pv);
  }
  for (; e < e1; e++) {
    const o = <usize>e << 2;
    const gs = load<f32>(g + o);
    const ms = load<f32>(m + o) * b1 + gs * (1 - b1);
    const vs = load<f32>(v + o) * b2 + gs * gs * (1 - b2);
    const ps = load<f32>(p + o) - (ms * c1 * lr) / (Mathf.sqrt(vs * c2) + eps);
    store<f32>(mOut + o, ms);
    store<f32>(vOut + o, vs);
    store<f32>(pOut + o, ps);
  }
}

/**
 * Strided copy into a contiguous output, for up to 4 (collapsed) dims [d0, d1, d2, d3] with
 * source element strides [s0, s1, s2, s3]; a block is a range of `chunk` indices of d0.
 * Args: 0 src, 1 out, 2..5 d0..d3, 6..9 s0..s3, 10 chunk.
 */
export function copyBlock(args: usize, block: i32): void {
  const src = <usize>load<i32>(args), out = <usize>load<i32>(args, 4);
  const d0 = load<i32>(args, 8), d1 = load<i32>(args, 12), d2 = load<i32>(args, 16), d3 = load<i32>(args, 20);
  const s0 = load<i32>(args, 24), s1 = load<i32>(args, 28), s2 = load<i32>(args, 32), s3 = load<i32>(args, 36);
  const chunk = load<i32>(args, 40);
  const i0end = min(d0, (block + 1) * chunk);
  let o = out + (<usize>(block * chunk * d1 * d2 * d3) << 2);
  for (let i0 = block * chunk; i0 < i0end; i0++) {
    for (let i1 = 0; i1 < d1; i1++) {
      for (let i2 = 0; i2 < d2; i2++) {
        const s = src + (<usize>(i0 * s0 + i1 * s1 + i2 * s2) << 2);
        let j = 0;
        if (s3 == 1) {
          for (; j + 8 <= d3; j += 8) {
            const q = <usize>j << 2;
            v128.store(o + q, v128.load(s + q));
            v128.store(o + q, v128.load(s + q, 16), 16);
          }
          for (; j + 4 <= d3; j += 4) v128.store(o + (<usize>j << 2), v128.load(s + (<usize>j << 2)));
          for (; j < d3; j++) store<f32>(o + (<usize>j << 2), load<f32>(s + (<usize>j << 2)));
        } else {
          const st = <usize>s3 << 2;
          let p = s;
          for (; j < d3; j++, p += st) store<f32>(o + (<usize>j << 2), load<f32>(p));
        }
        o += <usize>d3 << 2;
      }
    }
  }
}
