// SPDX-License-Identifier: MIT
// Native Adam/AdamW step of heed_native.node (see native.h for the conventions): the same
// float32 arithmetic, in the same order, as the WASM kernel adamBlock
// (packages/backend-cpu/asm/elementwise.ts) built without relaxed-simd:
//   m' = m beta1 + g (1 - beta1);  v' = v beta2 + g^2 (1 - beta2)
//   p' = p - ((m' c1) lr) / (sqrt(v' c2) + eps)          c1 = 1/(1-beta1^t), c2 = 1/(1-beta2^t)
// plus optional weight decay before it: decoupled (AdamW) p <- p (1 - lr wd), otherwise (Adam's
// L2) g <- g + wd p. Every element is independent, so the result never depends on the thread
// count; outputs may alias their inputs (in-place update). Large updates run on an OpenMP team
// in fixed chunks; the loop is plain C the compiler vectorises (AVX-512/AVX2 clones).
#include "native.h"
#include <math.h>
#include <omp.h>

/* Below this many elements one thread runs the update: the WASM kernels' PARALLEL_ELEMENTS (2^17);
   bench/native_train.mjs --threshold re-measures it (-D overrides it for that build). */
#ifndef ADAM_PARALLEL_ELEMENTS
#define ADAM_PARALLEL_ELEMENTS (1L << 17)
#endif
/* Elements per OpenMP chunk (a multiple of every vector width). */
#define ADAM_CHUNK 16384L

typedef struct {
  const float *p, *g, *m, *v;
  float *po, *mo, *vo;
  float lr, b1, b2, eps, c1, c2, wd;
  int decoupled;
} adam_job;

/* One range of n elements (pointers already at its start). restrict: an output is either disjoint
   from every input or the same address (in place), and each element is read before it is written
   at the same index, so the vector code stays exact. One loop serves Adam, its L2 decay and AdamW:
   `keep` is 1 - lr wd for AdamW (else 1, an exact no-op factor) and `l2` is wd for Adam's L2 decay
   (else 0, and the loop-invariant test leaves the gradient untouched: no 0 * inf). */
HEED_HOT
static void adam_range(const adam_job *j, const float *restrict p, const float *restrict g, const float *restrict m,
                       const float *restrict v, float *restrict po, float *restrict mo, float *restrict vo, long n) {
  const float lr = j->lr, b1 = j->b1, b2 = j->b2, eps = j->eps, c1 = j->c1, c2 = j->c2;
  const float nb1 = 1.f - b1, nb2 = 1.f - b2;
  const float keep = j->decoupled ? 1.f - lr * j->wd : 1.f;
  const float l2 = j->decoupled ? 0.f : j->wd;
  for (long e = 0; e < n; e++) {
    const float gs = l2 != 0.f ? g[e] + l2 * p[e] : g[e];
    const float ms = m[e] * b1 + gs * nb1;
    const float vs = v[e] * b2 + (gs * gs) * nb2;
    const float ps = p[e] * keep - ((ms * c1) * lr) / (sqrtf(vs * c2) + eps);
    mo[e] = ms;
    vo[e] = vs;
    po[e] = ps;
  }
}

static void run_range(const adam_job *j, long e0, long e1) {
  adam_range(j, j->p + e0, j->g + e0, j->m + e0, j->v + e0, j->po + e0, j->mo + e0, j->vo + e0, e1 - e0);
}

/* adam(param, grad, m, v, outParam, outM, outV, size, lr, beta1, beta2, eps, weightDecay, decoupled, c1, c2) -> ran? */
static napi_value adam(napi_env env, napi_callback_info info) {
  double a[16];
  if (!heed_args(env, info, 16, a, "adam")) return NULL;
  const double size = a[7];
  if (!(size >= 0) || size != (double)(long)size) return heed_bool(env, 0);
  adam_job j;
  if ((j.p = heed_f32(env, a[0], size, "adam")) == NULL || (j.g = heed_f32(env, a[1], size, "adam")) == NULL ||
      (j.m = heed_f32(env, a[2], size, "adam")) == NULL || (j.v = heed_f32(env, a[3], size, "adam")) == NULL ||
      (j.po = heed_f32(env, a[4], size, "adam")) == NULL || (j.mo = heed_f32(env, a[5], size, "adam")) == NULL ||
      (j.vo = heed_f32(env, a[6], size, "adam")) == NULL) return NULL;
  j.lr = (float)a[8];
  j.b1 = (float)a[9];
  j.b2 = (float)a[10];
  j.eps = (float)a[11];
  j.wd = (float)a[12];
  j.decoupled = a[13] != 0;
  j.c1 = (float)a[14];
  j.c2 = (float)a[15];
  const long n = (long)size;
  if (n >= ADAM_PARALLEL_ELEMENTS && heed_threads > 1) {
    const long chunks = (n + ADAM_CHUNK - 1) / ADAM_CHUNK;
    #pragma omp parallel for schedule(static) num_threads(heed_threads)
    for (long c = 0; c < chunks; c++) {
      const long e0 = c * ADAM_CHUNK;
      run_range(&j, e0, e0 + ADAM_CHUNK < n ? e0 + ADAM_CHUNK : n);
    }
  } else {
    run_range(&j, 0, n);
  }
  return heed_bool(env, 1);
}

void heed_register_adam(napi_env env, napi_value exports) {
  heed_export(env, exports, "adam", adam);
}
