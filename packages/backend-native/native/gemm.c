// SPDX-License-Identifier: MIT
// Batched strided matmul on OpenBLAS sgemm with a fused epilogue:
//   C[b] = A[b] @ B[b] (+ bias row vector | + a residual matrix), then an activation.
// Operands keep their own strides (elements): a row-major operand (last stride 1) is NoTrans, a
// column-major one (second-to-last stride 1) is Trans, anything else is declined (returns false)
// so the caller falls back to the WASM kernel. Products may have two batch dims (outer x batch,
// attention heads permuted out of [B, T, H, D]), each with its own strides; C is contiguous
// [outer * batch, m, n]. Tiny products (at most HEED_SMALL_GEMM_MACS multiply-adds: attention
// heads) run small_gemm.c's kernel instead of BLAS; many small products run in parallel over the
// batch, each on one thread; large ones run one after another with OpenBLAS's own threads.
// Results do not depend on the split.
#include "native.h"
#include <omp.h>
#include <string.h>

enum { EPI_NONE = 0, EPI_BIAS = 1, EPI_MATRIX = 2 };
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_GELU = 2, ACT_GELU_TANH = 3 };
#define SMALL_MACS (1 << 22)

/* Chooses the BLAS form of an [rows, cols] operand with strides (sr, sc): 1 on success. */
static int blas_layout(long rows, long cols, long sr, long sc, int *trans, int *ld) {
  if (cols == 1) sc = 1;
  if (rows == 1) sr = sc == 1 ? cols : 1;
  if (sc == 1 && sr >= (cols > 1 ? cols : 1)) { *trans = HEED_NO_TRANS; *ld = (int)(sr > 0 ? sr : 1); return 1; }
  if (sr == 1 && sc >= (rows > 1 ? rows : 1)) { *trans = HEED_TRANS; *ld = (int)(sc > 0 ? sc : 1); return 1; }
  return 0;
}

/* The activation epilogue, in place on one product's C (GELU: rows.c's vectorised kernel). */
HEED_HOT static void activate(float *c, long count, int act) {
  switch (act) {
    case ACT_RELU:
      for (long i = 0; i < count; i++) c[i] = c[i] > 0.f ? c[i] : 0.f;
      break;
    case ACT_GELU:
      heed_gelu(c, c, count, 0);
      break;
    case ACT_GELU_TANH:
      heed_gelu(c, c, count, 1);
      break;
    default:
      break;
  }
}

typedef struct {
  long batch, ao, bo; /* inner batch count; outer batch strides of A and B */
  long m, n, k;
  const float *a; long as0; int ta, lda;
  const float *b; long bs0; int tb, ldb;
  float *c; int epi; const float *e; int act;
  int small; long as1, as2, bs1, bs2; /* small: run heed_small_gemm with these strides instead of BLAS */
} gemm_job;

/* Product i of outer * batch (outer index i / batch, inner i % batch). */
static void run_one(const gemm_job *j, long i) {
  const long o = i / j->batch, ib = i % j->batch;
  float *c = j->c + i * j->m * j->n;
  float beta = 0.f;
  if (j->epi == EPI_BIAS) {
    for (long r = 0; r < j->m; r++) memcpy(c + r * j->n, j->e, sizeof(float) * (size_t)j->n);
    beta = 1.f;
  } else if (j->epi == EPI_MATRIX) {
    memcpy(c, j->e + i * j->m * j->n, sizeof(float) * (size_t)(j->m * j->n));
    beta = 1.f;
  }
  if (j->k == 0) {
    if (beta == 0.f) memset(c, 0, sizeof(float) * (size_t)(j->m * j->n));
  } else if (j->small) {
    heed_small_gemm(j->m, j->n, j->k, j->a + o * j->ao + ib * j->as0, j->as1, j->as2, j->b + o * j->bo + ib * j->bs0,
                    j->bs1, j->bs2, c, beta != 0.f);
  } else {
    heed_sgemm(HEED_ROW_MAJOR, j->ta, j->tb, (int)j->m, (int)j->n, (int)j->k, 1.f, j->a + o * j->ao + ib * j->as0, j->lda,
               j->b + o * j->bo + ib * j->bs0, j->ldb, beta, c, (int)j->n);
  }
  activate(c, j->m * j->n, j->act);
}

/* matmul(batch, m, n, k, a, as0, as1, as2, b, bs0, bs1, bs2, c, epi, e, act, outer, ao, bo) -> ran?
   (outer products of batch each; ao, bo: A's and B's outer strides; a matrix epilogue is [outer * batch, m, n]) */
static napi_value matmul(napi_env env, napi_callback_info info) {
  double v[19];
  if (!heed_args(env, info, 19, v, "matmul")) return NULL;
  long batch = (long)v[0], m = (long)v[1], n = (long)v[2], k = (long)v[3];
  long as0 = (long)v[5], as1 = (long)v[6], as2 = (long)v[7];
  long bs0 = (long)v[9], bs1 = (long)v[10], bs2 = (long)v[11];
  int epi = (int)v[13], act = (int)v[15];
  long outer = (long)v[16], ao = (long)v[17], bo = (long)v[18];
  if (outer < 1 || ao < 0 || bo < 0) return heed_bool(env, 0);
  if (batch < 1 || m < 1 || n < 1 || k < 0 || as0 < 0 || bs0 < 0 || epi < 0 || epi > 2 || act < 0 || act > 3) return heed_bool(env, 0);
  if (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff) return heed_bool(env, 0);
  gemm_job j = { batch, ao, bo, m, n, k, NULL, as0, 0, 0, NULL, bs0, 0, 0, NULL, epi, NULL, act,
                 heed_small_gemm_fits(m, n, k), as1, as2, bs1, bs2 };
  if (k > 0 && (!blas_layout(m, k, as1, as2, &j.ta, &j.lda) || !blas_layout(k, n, bs1, bs2, &j.tb, &j.ldb))) return heed_bool(env, 0);
  /* Extents: the last element each operand touches. */
  double aLast = k ? (double)(outer - 1) * ao + (double)(batch - 1) * as0 + (double)(m - 1) * as1 + (double)(k - 1) * as2 + 1 : 0;
  double bLast = k ? (double)(outer - 1) * bo + (double)(batch - 1) * bs0 + (double)(k - 1) * bs1 + (double)(n - 1) * bs2 + 1 : 0;
  if (k) {
    if ((j.a = heed_f32(env, v[4], aLast, "matmul")) == NULL) return NULL;
    if ((j.b = heed_f32(env, v[8], bLast, "matmul")) == NULL) return NULL;
  }
  const long total = outer * batch;
  if ((j.c = heed_f32(env, v[12], (double)total * m * n, "matmul")) == NULL) return NULL;
  if (epi != EPI_NONE && (j.e = heed_f32(env, v[14], epi == EPI_BIAS ? (double)n : (double)total * m * n, "matmul")) == NULL) return NULL;
  if (total > 1 && heed_threads > 1 && (j.small || (m * n * k < SMALL_MACS && heed_blas_openmp))) {
    #pragma omp parallel for schedule(dynamic, 1) num_threads(heed_threads)
    for (long i = 0; i < total; i++) run_one(&j, i);
  } else {
    for (long i = 0; i < total; i++) run_one(&j, i);
  }
  return heed_bool(env, 1);
}

void heed_register_gemm(napi_env env, napi_value exports) {
  heed_export(env, exports, "matmul", matmul);
}
