// SPDX-License-Identifier: MIT
// One small strided product C = A @ B (+ C when accumulating) on the calling thread, without
// BLAS: for the many tiny products of attention heads ([64, 32] @ [32, 64] and the like), where
// a BLAS call's fixed costs (packing both operands, zeroing C, its dispatch) outweigh the
// arithmetic. B is packed once into a zero-padded [k, 16 * ceil(n / 16)] panel on the stack; the
// micro-kernel then keeps a 6 x 16 tile of C in twelve 8-wide accumulators and streams A's
// elements as broadcasts, so A may have any strides (transposed views included). Invariants:
// each C element is the sum over p in order 0..k-1 of A[i,p] * B[p,j] (fused multiply-adds where
// the CPU has them), so the result does not depend on the batch split or on the operands'
// layouts; nothing outside C's m x n block is written.
#include "native.h"
#include <string.h>

/* v8 values cross inline helpers in the generic clone too, where GCC notes their ABI; nothing is exported. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v8 __attribute__((vector_size(32)));

/* Loads/stores 8 floats at any alignment. */
static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void store8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

/* Adds (accumulate) or stores one row of the tile: `cols` of its 16 columns at dst. */
static inline void put_row(float *dst, v8 lo, v8 hi, long cols, int accumulate) {
  if (cols == 16) {
    if (accumulate) { lo += load8(dst); hi += load8(dst + 8); }
    store8(dst, lo);
    store8(dst + 8, hi);
    return;
  }
  float tmp[16];
  store8(tmp, lo);
  store8(tmp + 8, hi);
  for (long q = 0; q < cols; q++) dst[q] = accumulate ? dst[q] + tmp[q] : tmp[q];
}

/* The MR x 16 tile of C at rows i.., packed columns j.. (rows past m repeat row m - 1 and are not stored). */
#define MR 6
__attribute__((optimize("fp-contract=fast"))) HEED_HOT static void tile(
    long m, long n, long k, long i, long j, const float *a, long as1, long as2, const float *bp, long np,
    float *c, int accumulate) {
  const float *ar[MR];
  for (long r = 0; r < MR; r++) ar[r] = a + (i + r < m ? i + r : m - 1) * as1;
  const float *a0 = ar[0], *a1 = ar[1], *a2 = ar[2], *a3 = ar[3], *a4 = ar[4], *a5 = ar[5];
  v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
  v8 c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
  const float *b = bp + j;
  for (long p = 0, o = 0; p < k; p++, b += np, o += as2) {
    const v8 b0 = load8(b), b1 = load8(b + 8);
    float x = a0[o];
    c00 += x * b0; c01 += x * b1;
    x = a1[o]; c10 += x * b0; c11 += x * b1;
    x = a2[o]; c20 += x * b0; c21 += x * b1;
    x = a3[o]; c30 += x * b0; c31 += x * b1;
    x = a4[o]; c40 += x * b0; c41 += x * b1;
    x = a5[o]; c50 += x * b0; c51 += x * b1;
  }
  const long cols = n - j < 16 ? n - j : 16, rows = m - i < MR ? m - i : MR;
  float *dst = c + i * n + j;
  put_row(dst, c00, c01, cols, accumulate);
  if (rows > 1) put_row(dst + n, c10, c11, cols, accumulate);
  if (rows > 2) put_row(dst + 2 * n, c20, c21, cols, accumulate);
  if (rows > 3) put_row(dst + 3 * n, c30, c31, cols, accumulate);
  if (rows > 4) put_row(dst + 4 * n, c40, c41, cols, accumulate);
  if (rows > 5) put_row(dst + 5 * n, c50, c51, cols, accumulate);
}

/* Writes the transpose of the 8 x 8 block at src (rows `ld` apart) as 8 rows `np` apart at dst. */
static inline __attribute__((always_inline)) void transpose8(const float *src, long ld, float *dst, long np) {
  const v8 r0 = load8(src), r1 = load8(src + ld), r2 = load8(src + 2 * ld), r3 = load8(src + 3 * ld);
  const v8 r4 = load8(src + 4 * ld), r5 = load8(src + 5 * ld), r6 = load8(src + 6 * ld), r7 = load8(src + 7 * ld);
  const v8 t0 = __builtin_shufflevector(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13), t1 = __builtin_shufflevector(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
  const v8 t2 = __builtin_shufflevector(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13), t3 = __builtin_shufflevector(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
  const v8 t4 = __builtin_shufflevector(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13), t5 = __builtin_shufflevector(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
  const v8 t6 = __builtin_shufflevector(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13), t7 = __builtin_shufflevector(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
  const v8 s0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13), s1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
  const v8 s2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13), s3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
  const v8 s4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13), s5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
  const v8 s6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13), s7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
  store8(dst, __builtin_shufflevector(s0, s4, 0, 1, 2, 3, 8, 9, 10, 11));
  store8(dst + np, __builtin_shufflevector(s1, s5, 0, 1, 2, 3, 8, 9, 10, 11));
  store8(dst + 2 * np, __builtin_shufflevector(s2, s6, 0, 1, 2, 3, 8, 9, 10, 11));
  store8(dst + 3 * np, __builtin_shufflevector(s3, s7, 0, 1, 2, 3, 8, 9, 10, 11));
  store8(dst + 4 * np, __builtin_shufflevector(s0, s4, 4, 5, 6, 7, 12, 13, 14, 15));
  store8(dst + 5 * np, __builtin_shufflevector(s1, s5, 4, 5, 6, 7, 12, 13, 14, 15));
  store8(dst + 6 * np, __builtin_shufflevector(s2, s6, 4, 5, 6, 7, 12, 13, 14, 15));
  store8(dst + 7 * np, __builtin_shufflevector(s3, s7, 4, 5, 6, 7, 12, 13, 14, 15));
}

/* Packs B[p, q] = b[p + q * ld] (B^T stored row-major) into rows of bp `np` apart, 8 x 8 blocks at a time. */
HEED_HOT static void pack_transposed(long n, long k, const float *b, long ld, float *bp, long np) {
  long q = 0;
  for (; q + 8 <= n; q += 8) {
    long p = 0;
    for (; p + 8 <= k; p += 8) transpose8(b + q * ld + p, ld, bp + p * np + q, np);
    for (; p < k; p++)
      for (long t = 0; t < 8; t++) bp[p * np + q + t] = b[(q + t) * ld + p];
  }
  for (; q < n; q++)
    for (long p = 0; p < k; p++) bp[p * np + q] = b[q * ld + p];
}

int heed_small_gemm_fits(long m, long n, long k) {
  const long np = (n + 15) & ~15L;
  return m >= 1 && n >= 1 && k >= 1 && m * n * k <= HEED_SMALL_GEMM_MACS && k * np <= HEED_SMALL_GEMM_PANEL;
}

void heed_small_gemm(long m, long n, long k, const float *a, long as1, long as2, const float *b, long bs1, long bs2,
                     float *c, int accumulate) {
  const long np = (n + 15) & ~15L;
  float bp[HEED_SMALL_GEMM_PANEL] __attribute__((aligned(32)));
  if (bs2 != 1 && bs1 == 1) pack_transposed(n, k, b, bs2, bp, np); /* B^T stored row-major */
  else
    for (long p = 0; p < k; p++) {
      const float *src = b + p * bs1;
      if (bs2 == 1) memcpy(bp + p * np, src, sizeof(float) * (size_t)n);
      else for (long q = 0; q < n; q++) bp[p * np + q] = src[q * bs2];
    }
  for (long p = 0; p < k; p++)
    for (long q = n; q < np; q++) bp[p * np + q] = 0.f; /* the last tile's columns past n */
  for (long i = 0; i < m; i += MR)
    for (long j = 0; j < n; j += 16) tile(m, n, k, i, j, a, as1, as2, bp, np, c, accumulate);
}
