// SPDX-License-Identifier: MIT
// fp32 GEMM for the fast path: C[b] = A[b] @ B[b] with any element strides (transposed and
// broadcast operands are absorbed by packing). GotoBLAS/BLIS structure, per job block
// (one batch entry, a range of rows and a range of columns of C):
//   for each depth block pc (KC rows of B):
//     pack B[pc.., j0..j1] into NR-wide panels  ([panel][p][NR], zero padded)
//     for each row block ic (MC rows of A):
//       pack A[ic.., pc..] into MR-tall panels  ([panel][p][MR], zero padded)
//       for each B panel (stays in L1), for each A panel: the MR x NR SIMD micro-kernel.
// Invariants: every element of C is computed by exactly one block with the same summation
// order (so results do not depend on how blocks are spread over threads); the first depth
// block stores, later ones accumulate; packing reads the strided input in place (SIMD loads
// and 4x4 transposes for the two common layouts, scalar gathers otherwise).
import { madd, stv } from './simd';

/** Rows of the micro-tile. */
export const MR: i32 = 4;
/** Columns of the micro-tile (two v128). */
export const NR: i32 = 8;
/** Depth of a packed block. */
export const KC: i32 = 256;
/** Rows of A packed at a time (MC*KC floats = 128 KiB, L2 resident). */
export const MC: i32 = 128;
/** Most columns one job block may have (its packed B: KC*NB_MAX floats = 512 KiB). */
export const NB_MAX: i32 = 512;
/** Bytes of per-thread scratch: packed B, packed A, one spare micro-tile. */
export const GEMM_SCRATCH_BYTES: i32 = (KC * NB_MAX + MC * KC + MR * NR) * 4;

/** 4x4 transpose of rows r0..r3 into column vectors, stored at dst + q*stride (bytes). */
@inline function transposeStore(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, stride: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + stride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * stride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * Packs rows [0, rows) x depth [0, kc) of A (element (i, p) at a + (i*ars + p*acs)*4) into
 * MR-row panels: dst[panel][p][MR], missing rows zero.
 */
function packA(a: usize, ars: i32, acs: i32, rows: i32, kc: i32, dst: usize): void {
  for (let r0 = 0; r0 < rows; r0 += MR) {
    const mr = min(MR, rows - r0);
    const src = a + (<usize>(r0 * ars) << 2);
    let p = 0;
    if (mr == MR && acs == 1) {
      // row-major A: 4 rows x 4 depths at a time, transposed in registers
      const rs = <usize>ars << 2;
      for (; p + 4 <= kc; p += 4) {
        const s = src + (<usize>p << 2);
        transposeStore(v128.load(s), v128.load(s + rs), v128.load(s + 2 * rs), v128.load(s + 3 * rs), dst + (<usize>p << 4), 16);
      }
    } else if (mr == MR && ars == 1) {
      // column-major A (a transposed operand): MR consecutive floats per depth
      for (; p < kc; p++) v128.store(dst + (<usize>p << 4), v128.load(src + (<usize>(p * acs) << 2)));
    }
    for (; p < kc; p++) {
      for (let i = 0; i < MR; i++) {
        const v: f32 = i < mr ? load<f32>(src + (<usize>(i * ars + p * acs) << 2)) : 0;
        store<f32>(dst + (<usize>(p * MR + i) << 2), v);
      }
    }
    dst += <usize>(kc * MR) << 2;
  }
}

/**
 * Packs depth [0, kc) x columns [0, cols) of B (element (p, j) at b + (p*brs + j*bcs)*4) into
 * NR-column panels: dst[panel][p][NR], missing columns zero.
 */
function packB(b: usize, brs: i32, bcs: i32, kc: i32, cols: i32, dst: usize): void {
  for (let c0 = 0; c0 < cols; c0 += NR) {
    const nr = min(NR, cols - c0);
    const src = b + (<usize>(c0 * bcs) << 2);
    let p = 0;
    if (nr == NR && bcs == 1) {
      for (; p < kc; p++) {
        const s = src + (<usize>(p * brs) << 2);
        const d = dst + (<usize>p << 5);
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
      }
    } else if (nr == NR && brs == 1) {
      // transposed B: each column is contiguous along p; 4x4 transposes
      const cs = <usize>bcs << 2;
      for (; p + 4 <= kc; p += 4) {
        const s = src + (<usize>p << 2);
        const d = dst + (<usize>p << 5);
        transposeStore(v128.load(s), v128.load(s + cs), v128.load(s + 2 * cs), v128.load(s + 3 * cs), d, 32);
        const s4 = s + 4 * cs;
        transposeStore(v128.load(s4), v128.load(s4 + cs), v128.load(s4 + 2 * cs), v128.load(s4 + 3 * cs), d + 16, 32);
      }
    }
    for (; p < kc; p++) {
      for (let j = 0; j < NR; j++) {
        const v: f32 = j < nr ? load<f32>(src + (<usize>(p * brs + j * bcs) << 2)) : 0;
        store<f32>(dst + (<usize>(p * NR + j) << 2), v);
      }
    }
    dst += <usize>(kc * NR) << 2;
  }
}

/**
 * The MR x NR micro-kernel: acc = sum over p of pa[p][0..MR) (outer) pb[p][0..NR); then
 * C = acc (first) or C += acc, C rows `ldc` bytes apart.
 */
function micro4x8(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, first: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let s = v128.load32_splat(pa);
    c00 = madd(s, b0, c00); c01 = madd(s, b1, c01);
    s = v128.load32_splat(pa, 4);
    c10 = madd(s, b0, c10); c11 = madd(s, b1, c11);
    s = v128.load32_splat(pa, 8);
    c20 = madd(s, b0, c20); c21 = madd(s, b1, c21);
    s = v128.load32_splat(pa, 12);
    c30 = madd(s, b0, c30); c31 = madd(s, b1, c31);
    pa += 16;
    pb += 32;
  }
  if (!first) {
    c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc)); c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc)); c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc)); c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16);
}

/** Micro-tile at the matrix edge: full tile into `tmp`, then the valid mr x nr corner into C. */
function microEdge(kc: i32, pa: usize, pb: usize, c: usize, ldc: usize, first: bool, mr: i32, nr: i32, tmp: usize): void {
  micro4x8(kc, pa, pb, tmp, NR << 2, true);
  for (let i = 0; i < mr; i++) {
    const row = c + <usize>i * ldc;
    for (let j = 0; j < nr; j++) {
      const v = load<f32>(tmp + (<usize>(i * NR + j) << 2));
      const q = row + (<usize>j << 2);
      store<f32>(q, first ? v : load<f32>(q) + v);
    }
  }
}

/**
 * One job block of a batched GEMM. Argument slots (i32 at `args`):
 * 0 batch, 1 m, 2 n, 3 k, 4 a, 5 a batch stride, 6 a row stride, 7 a col stride,
 * 8 b, 9 b batch stride, 10 b row stride, 11 b col stride, 12 c, 13 rows per block (mb),
 * 14 cols per block (nb, <= NB_MAX), 15 blocks along m, 16 blocks along n, 17 scratch base,
 * 18 scratch bytes per thread. Strides are in elements, pointers in bytes; C is contiguous.
 */
export function gemmBlock(args: usize, block: i32, tid: i32): void {
  const m = load<i32>(args, 4), n = load<i32>(args, 8), k = load<i32>(args, 12);
  const mb = load<i32>(args, 52), nb = load<i32>(args, 56);
  const nbm = load<i32>(args, 60), nbn = load<i32>(args, 64);
  const per = nbm * nbn;
  const bi = block / per;
  const rem = block - bi * per;
  const im = rem / nbn;
  const jn = rem - im * nbn;
  const i0 = im * mb, j0 = jn * nb;
  const rows = min(mb, m - i0), cols = min(nb, n - j0);
  const ars = load<i32>(args, 24), acs = load<i32>(args, 28);
  const brs = load<i32>(args, 40), bcs = load<i32>(args, 44);
  const a = <usize>load<i32>(args, 16) + (<usize>(bi * load<i32>(args, 20) + i0 * ars) << 2);
  const b = <usize>load<i32>(args, 32) + (<usize>(bi * load<i32>(args, 36) + j0 * bcs) << 2);
  const c = <usize>load<i32>(args, 48) + (<usize>(bi * m * n + i0 * n + j0) << 2);
  const scratch = <usize>load<i32>(args, 68) + <usize>(tid * load<i32>(args, 72));
  const packedB = scratch;
  const packedA = scratch + (<usize>(KC * NB_MAX) << 2);
  const tmp = packedA + (<usize>(MC * KC) << 2);
  const ldc = <usize>n << 2;
  for (let pc = 0; pc < k; pc += KC) {
    const kc = min(KC, k - pc);
    const first = pc == 0;
    packB(b + (<usize>(pc * brs) << 2), brs, bcs, kc, cols, packedB);
    for (let ic = 0; ic < rows; ic += MC) {
      const mc = min(MC, rows - ic);
      packA(a + (<usize>(ic * ars + pc * acs) << 2), ars, acs, mc, kc, packedA);
      for (let jr = 0; jr < cols; jr += NR) {
        const nr = min(NR, cols - jr);
        const pb = packedB + (<usize>(jr * kc) << 2);
        for (let ir = 0; ir < mc; ir += MR) {
          const mr = min(MR, mc - ir);
          const pa = packedA + (<usize>(ir * kc) << 2);
          const cp = c + <usize>(ic + ir) * ldc + (<usize>jr << 2);
          if (mr == MR && nr == NR) micro4x8(kc, pa, pb, cp, ldc, first);
          else microEdge(kc, pa, pb, cp, ldc, first, mr, nr, tmp);
        }
      }
    }
  }
}

/** Writes zeros to `count` floats at p (used when k == 0). */
export function zeroFill(p: usize, count: i32): void {
  let i = 0;
  const z = f32x4.splat(0);
  for (; i + 4 <= count; i += 4) stv(p, i, z);
  for (; i < count; i++) store<f32>(p + (<usize>i << 2), 0);
}
