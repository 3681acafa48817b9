// SPDX-License-Identifier: MIT
// Row kernels of the fast path over contiguous float32 [rows, n] data: sum/max over the last
// axis, column sums/maxes (reducing the leading axes), softmax / log-softmax and LayerNorm.
// A job block is a range of rows (columns for the column reductions), so every output value
// is computed by one thread in a fixed order. The sum reductions accumulate in float64 (like
// the reference kernels); softmax and LayerNorm rows use float32 with 8 partial sums.
import { fmax, hmax, hsum } from './simd';
import { vexp } from './vmath';

/** Reduction op ids (kept in sync with src/fast/ops.ts). */
export const R_SUM = 0, R_MAX = 1;

@inline function rowSum(x: usize, n: i32): f32 {
  let s0 = f32x4.splat(0), s1 = s0;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    const o = <usize>j << 2;
    s0 = f32x4.add(s0, v128.load(x + o));
    s1 = f32x4.add(s1, v128.load(x + o, 16));
  }
  let s = hsum(f32x4.add(s0, s1));
  for (; j < n; j++) s += load<f32>(x + (<usize>j << 2));
  return s;
}

/** Sum of a row in float64 (two f64x2 accumulators), rounded to float32 once. */
@inline function rowSum64(x: usize, n: i32): f32 {
  let s0 = f64x2.splat(0), s1 = s0;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const v = v128.load(x + (<usize>j << 2));
    s0 = f64x2.add(s0, f64x2.promote_low_f32x4(v));
    s1 = f64x2.add(s1, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  }
  const t = f64x2.add(s0, s1);
  let s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  for (; j < n; j++) s += <f64>load<f32>(x + (<usize>j << 2));
  return <f32>s;
}

@inline function rowMax(x: usize, n: i32): f32 {
  let m = f32x4.splat(-Infinity);
  let j = 0;
  for (; j + 4 <= n; j += 4) m = f32x4.max(m, v128.load(x + (<usize>j << 2)));
  let s = hmax(m);
  for (; j < n; j++) s = fmax(s, load<f32>(x + (<usize>j << 2)));
  return s;
}

/** Args: 0 op, 1 x, 2 out, 3 rows, 4 n, 5 rows per block. out[r] = op over x[r, :]. */
export function reduceRowsBlock(args: usize, block: i32): void {
  const op = load<i32>(args), x = <usize>load<i32>(args, 4), out = <usize>load<i32>(args, 8);
  const rows = load<i32>(args, 12), n = load<i32>(args, 16), chunk = load<i32>(args, 20);
  const r1 = min(rows, (block + 1) * chunk);
  for (let r = block * chunk; r < r1; r++) {
    const row = x + (<usize>r * <usize>n << 2);
    store<f32>(out + (<usize>r << 2), op == R_SUM ? rowSum64(row, n) : rowMax(row, n));
  }
}

/** Args: 0 op, 1 x, 2 out, 3 rows, 4 n, 5 columns per block (multiple of 4). out[j] = op over x[:, j]. */
export function reduceColsBlock(args: usize, block: i32): void {
  const op = load<i32>(args), x = <usize>load<i32>(args, 4), out = <usize>load<i32>(args, 8);
  const rows = load<i32>(args, 12), n = load<i32>(args, 16), chunk = load<i32>(args, 20);
  const j0 = block * chunk, j1 = min(n, j0 + chunk);
  const ld = <usize>n << 2;
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    let p = x + (<usize>j << 2);
    if (op == R_SUM) {
      let lo = f64x2.splat(0), hi = lo;
      for (let r = 0; r < rows; r++, p += ld) {
        const v = v128.load(p);
        lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
        hi = f64x2.add(hi, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
      }
      v128.store(out + (<usize>j << 2), v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5));
    } else {
      let acc = v128.load(p);
      for (let r = 1; r < rows; r++) {
        p += ld;
        acc = f32x4.max(acc, v128.load(p));
      }
      v128.store(out + (<usize>j << 2), acc);
    }
  }
  for (; j < j1; j++) {
    let p = x + (<usize>j << 2);
    if (op == R_SUM) {
      let acc: f64 = 0;
      for (let r = 0; r < rows; r++, p += ld) acc += <f64>load<f32>(p);
      store<f32>(out + (<usize>j << 2), <f32>acc);
    } else {
      let acc = load<f32>(p);
      for (let r = 1; r < rows; r++) {
        p += ld;
        acc = fmax(acc, load<f32>(p));
      }
      store<f32>(out + (<usize>j << 2), acc);
    }
  }
}

/** Args: 0 x, 1 out, 2 rows, 3 n, 4 rows per block, 5 log (0/1). Softmax or log-softmax rows. */
export function softmaxBlock(args: usize, block: i32): void {
  const x = <usize>load<i32>(args), out = <usize>load<i32>(args, 4);
  const rows = load<i32>(args, 8), n = load<i32>(args, 12), chunk = load<i32>(args, 16);
  const isLog = load<i32>(args, 20) != 0;
  const r1 = min(rows, (block + 1) * chunk);
  for (let r = block * chunk; r < r1; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    const yr = out + (<usize>r * <usize>n << 2);
    const m = rowMax(xr, n);
    const mv = f32x4.splat(m);
    // pass 2: e = exp(x - m) (stored unless log-softmax), s = sum e
    let s0 = f32x4.splat(0), s1 = s0;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      const o = <usize>j << 2;
      const e0 = vexp(f32x4.sub(v128.load(xr + o), mv));
      const e1 = vexp(f32x4.sub(v128.load(xr + o, 16), mv));
      if (!isLog) { v128.store(yr + o, e0); v128.store(yr + o, e1, 16); }
      s0 = f32x4.add(s0, e0);
      s1 = f32x4.add(s1, e1);
    }
    let s = hsum(f32x4.add(s0, s1));
    for (; j < n; j++) {
      const o = <usize>j << 2;
      const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(xr + o) - m)), 0);
      if (!isLog) store<f32>(yr + o, e);
      s += e;
    }
    // pass 3: scale (softmax) or shift (log-softmax): (x - m) - log s, in that order, since
    // m + log s rounds back to m for huge m (x = m = 3e38 would give 0 instead of -log s)
    if (isLog) {
      const ls = Mathf.log(s);
      const lv = f32x4.splat(ls);
      j = 0;
      for (; j + 4 <= n; j += 4) v128.store(yr + (<usize>j << 2), f32x4.sub(f32x4.sub(v128.load(xr + (<usize>j << 2)), mv), lv));
      for (; j < n; j++) store<f32>(yr + (<usize>j << 2), (load<f32>(xr + (<usize>j << 2)) - m) - ls);
    } else {
      const inv = f32x4.splat(1 / s);
      j = 0;
      for (; j + 4 <= n; j += 4) v128.store(yr + (<usize>j << 2), f32x4.mul(v128.load(yr + (<usize>j << 2)), inv));
      for (; j < n; j++) store<f32>(yr + (<usize>j << 2), load<f32>(yr + (<usize>j << 2)) * f32x4.extract_lane(inv, 0));
    }
  }
}

/**
 * Args: 0 x, 1 weight (0 = none), 2 bias (0 = none), 3 out, 4 rows, 5 n, 6 rows per block,
 * 7 eps (f32). y = (x - mean) / sqrt(var + eps) * weight + bias, biased variance (two passes).
 */
export function layerNormBlock(args: usize, block: i32): void {
  const x = <usize>load<i32>(args), w = <usize>load<i32>(args, 4), b = <usize>load<i32>(args, 8);
  const out = <usize>load<i32>(args, 12), rows = load<i32>(args, 16), n = load<i32>(args, 20);
  const chunk = load<i32>(args, 24), eps = load<f32>(args, 28);
  const r1 = min(rows, (block + 1) * chunk);
  for (let r = block * chunk; r < r1; r++) {
    const xr = x + (<usize>r * <usize>n << 2);
    const yr = out + (<usize>r * <usize>n << 2);
    const mean = rowSum(xr, n) / <f32>n;
    const mv = f32x4.splat(mean);
    let q0 = f32x4.splat(0), q1 = q0;
    let j = 0;
    for (; j + 8 <= n; j += 8) {
      const o = <usize>j << 2;
      const d0 = f32x4.sub(v128.load(xr + o), mv);
      const d1 = f32x4.sub(v128.load(xr + o, 16), mv);
      q0 = f32x4.add(q0, f32x4.mul(d0, d0));
      q1 = f32x4.add(q1, f32x4.mul(d1, d1));
    }
    let q = hsum(f32x4.add(q0, q1));
    for (; j < n; j++) {
      const d = load<f32>(xr + (<usize>j << 2)) - mean;
      q += d * d;
    }
    const rstd: f32 = 1 / Mathf.sqrt(q / <f32>n + eps);
    const rv = f32x4.splat(rstd);
    j = 0;
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j << 2;
      let y = f32x4.mul(f32x4.sub(v128.load(xr + o), mv), rv);
      if (w) y = f32x4.mul(y, v128.load(w + o));
      if (b) y = f32x4.add(y, v128.load(b + o));
      v128.store(yr + o, y);
    }
    for (; j < n; j++) {
      const o = <usize>j << 2;
      let y = (load<f32>(xr + o) - mean) * rstd;
      if (w) y *= load<f32>(w + o);
      if (b) y += load<f32>(b + o);
      store<f32>(yr + o, y);
    }
  }
}
