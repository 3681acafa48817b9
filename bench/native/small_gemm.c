// SPDX-License-Identifier: MIT
// The native addon's small-product kernel (packages/backend-native/native/small_gemm.c) against
// OpenBLAS's cblas_sgemm on one thread, on the attention heads' products of the spec's step
// (32 products of [64, 32] @ [32, 64] and [64, 64] @ [64, 32], with transposed operands as the
// backward pass has them). Times are thread CPU time, best of 20, so a busy host moves them less.
// Build and run (OpenBLAS from Debian's libopenblas0):
//   cc -O3 -std=gnu11 -ffp-contract=off -fno-math-errno -fno-trapping-math -D_GNU_SOURCE -I/usr/include/node \
//      bench/native/small_gemm.c -o /tmp/small_gemm -l:libopenblas.so.0 && /tmp/small_gemm
#include "../../packages/backend-native/native/small_gemm.c"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void cblas_sgemm(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
void openblas_set_num_threads(int);
static double cpu_us(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }

typedef struct { const char *name; long m, n, k, as1, as2, bs1, bs2; int ta, tb, lda, ldb; } product;

int main(void) {
  openblas_set_num_threads(1);
  const product cases[] = {
    {"q k^T  A[64,32]   B^T[32,64]", 64, 64, 32, 32, 1, 1, 32, 111, 112, 32, 32},
    {"p v    A[64,64]   B[64,32]  ", 64, 32, 64, 64, 1, 32, 1, 111, 111, 64, 32},
    {"p^T g  A^T[64,64] B[64,32]  ", 64, 32, 64, 1, 64, 32, 1, 112, 111, 64, 32},
  };
  const long count = 32, each = 64 * 64;
  float *a = aligned_alloc(64, 4 * each * count), *b = aligned_alloc(64, 4 * each * count);
  float *c = aligned_alloc(64, 4 * each * count), *ref = aligned_alloc(64, 4 * each * count);
  for (long i = 0; i < each * count; i++) { a[i] = (float)((i * 7) % 13) / 13 - 0.5f; b[i] = (float)((i * 3) % 11) / 11 - 0.5f; }
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    const product x = cases[t];
    double small = 1e18, blas = 1e18;
    for (int rep = 0; rep < 20; rep++) {
      double t0 = cpu_us();
      for (long q = 0; q < count; q++) heed_small_gemm(x.m, x.n, x.k, a + q * each, x.as1, x.as2, b + q * each, x.bs1, x.bs2, c + q * each, 0);
      double t1 = cpu_us();
      for (long q = 0; q < count; q++) cblas_sgemm(101, x.ta, x.tb, (int)x.m, (int)x.n, (int)x.k, 1.f, a + q * each, x.lda, b + q * each, x.ldb, 0.f, ref + q * each, (int)x.n);
      double t2 = cpu_us();
      if (t1 - t0 < small) small = t1 - t0;
      if (t2 - t1 < blas) blas = t2 - t1;
    }
    double worst = 0;
    for (long i = 0; i < count * x.m * x.n; i++) { double d = c[i] - ref[i]; if (d < 0) d = -d; if (d > worst) worst = d; }
    const double flop = 2.0 * x.m * x.n * x.k * count;
    printf("%s  small %4.0f us (%3.0f GFLOP/s)  OpenBLAS %4.0f us (%3.0f GFLOP/s)  max |diff| %.2g\n", x.name, small, flop / small / 1e3, blas, flop / blas / 1e3, worst);
  }
  return 0;
}
