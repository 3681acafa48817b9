// SPDX-License-Identifier: MIT
// Native fused attention for training of heed_native.node (see native.h for the conventions):
// the forward [out, lse] and the FlashAttention-2 backward [dq, dk, dv] of
// packages/backend-cpu/src/attention-train.ts (same semantics), in tiles of TILE query rows by
// blocks of KB keys: the forward keeps an online softmax per row (running max and sum, output
// rows rescaled as the max grows), so the only score-sized scratch is two [TILE, KB] blocks per
// thread whatever S is. Tile products (Q K^T, P V, dOut V^T, dS K, dS^T Q, P^T dOut) go through
// heed_sgemm; the softmax and its gradient are plain C loops the compiler vectorises (fixed
// 16-lane partial maxima/sums, a polynomial exp), so results do not depend on the ISA clone or
// the thread count. q, k, v, out, dOut are contiguous [B, H, *, *], lse [B, H, L]; the additive
// float mask is read at mask + b*ms0 + h*ms1 + l*ms2 + s*ms3 (mask address -1: none); causal
// hides keys s > l (top-left aligned, as the JS kernel). Fully masked rows give lse = -Infinity,
// zero outputs and add nothing to dk, dv. The forward runs its tiles in parallel over
// (batch*heads, query tiles); the backward over heads (each head's dk, dv accumulate over its
// query tiles in order on one thread), or with fewer heads than threads in two passes (dq by
// query tile, dk/dv by key block) that add the same blocks in the same order.
#include "native.h"
#include "vmath.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Lets GCC if-convert the selects of the exp and mask loops into vector blends on AVX2 (without
   it, a possibly-trapping compare keeps them scalar); no value changes: nothing reads FP flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* Query rows per tile (as attention-train.ts). */
#define TILE 64
/* Keys per block of the online softmax: a [TILE, KB] score block and the block's K, V rows stay in L2. */
#ifndef KB
#define KB 256
#endif
/* Lanes of the partial sums / maxima (a fixed split: every clone adds in the same order). */
#define LANES 16
/* Below this many multiply-adds per call one thread runs it (between 2^20 and 2^22 on a loaded
   2-core machine: bench/native_train.mjs --threshold; -D overrides it for that build). */
#ifndef ATTN_PARALLEL_MACS
#define ATTN_PARALLEL_MACS (1L << 21)
#endif


typedef struct {
  long B, H, L, S, D, Dv;
  const float *q, *k, *v, *mask;
  long ms0, ms1, ms2, ms3;
  float scale;
  int causal;
  const float *out, *dout, *lse; /* backward inputs */
  float *o, *l, *dq, *dk, *dv;   /* outputs: forward o, l; backward dq, dk, dv */
} attn_job;

/* Scales and masks one score row in place (keys >= visible become -Infinity) and returns its maximum. */
HEED_HOT
static float mask_row(const attn_job *j, float *a, long n, long visible, const float *mrow) {
  const float scale = j->scale;
  if (mrow == NULL) {
    for (long s = 0; s < visible; s++) a[s] = a[s] * scale;
  } else if (j->ms3 == 1) {
    for (long s = 0; s < visible; s++) a[s] = a[s] * scale + mrow[s];
  } else {
    const long st = j->ms3;
    for (long s = 0; s < visible; s++) a[s] = a[s] * scale + mrow[s * st];
  }
  for (long s = visible; s < n; s++) a[s] = -INFINITY;
  float acc[LANES];
  for (int i = 0; i < LANES; i++) acc[i] = -INFINITY;
  long s = 0;
  for (; s + LANES <= visible; s += LANES)
    for (int i = 0; i < LANES; i++) acc[i] = a[s + i] > acc[i] ? a[s + i] : acc[i];
  float max = -INFINITY;
  for (int i = 0; i < LANES; i++) max = acc[i] > max ? acc[i] : max;
  for (; s < visible; s++) max = a[s] > max ? a[s] : max;
  return max;
}

/* a[s] = exp(a[s] - max) for s < n; returns their sum (fixed lanes). */
HEED_HOT
static float exp_row(float *a, long n, float max) {
  float acc[LANES] = { 0 };
  long s = 0;
  for (; s + LANES <= n; s += LANES)
    for (int i = 0; i < LANES; i++) { const float p = v_exp(a[s + i] - max); a[s + i] = p; acc[i] += p; }
  float sum = 0.f;
  for (int i = 0; i < LANES; i++) sum += acc[i];
  for (; s < n; s++) { const float p = v_exp(a[s] - max); a[s] = p; sum += p; }
  return sum;
}

HEED_HOT
static void scale_row(float *a, long n, float f) {
  for (long s = 0; s < n; s++) a[s] *= f;
}

/* p = exp(a - lse) into a, dS = p (dp - dl) scale into dp. */
HEED_HOT
static void grad_row(float *a, float *dp, long n, float lse, float dl, float scale) {
  for (long s = 0; s < n; s++) {
    const float p = v_exp(a[s] - lse);
    a[s] = p;
    dp[s] = (p * (dp[s] - dl)) * scale;
  }
}

static long keys_seen(const attn_job *j, long l0, long rows) {
  return j->causal ? (j->S < l0 + rows ? j->S : l0 + rows) : j->S;
}

/* Keys visible to query row l of a tile that sees n keys, and of those the ones in block [k0, k0 + kb). */
static long block_visible(const attn_job *j, long n, long l, long k0, long kb) {
  const long all = j->causal ? (n < l + 1 ? n : l + 1) : n;
  const long v = all - k0;
  return v < 0 ? 0 : v > kb ? kb : v;
}

/* The mask row of (b, h, l) from key k0 on, or NULL. */
static const float *mask_from(const attn_job *j, long b, long h, long l, long k0) {
  return j->mask == NULL ? NULL : j->mask + b * j->ms0 + h * j->ms1 + l * j->ms2 + k0 * j->ms3;
}

/*
 * Forward of the query tile at l0 of head `head` (scratch a: [TILE, KB]) with the online softmax
 * over key blocks: per row the running maximum m and sum z; the output rows accumulate P V
 * (rescaled by e^(m_old - m_new) when the maximum grows) and are divided by z at the end.
 */
static void forward_tile(const attn_job *j, long head, long l0, float *a) {
  const long L = j->L, S = j->S, D = j->D, Dv = j->Dv, b = head / j->H, h = head % j->H;
  const long rows = L - l0 < TILE ? L - l0 : TILE, n = keys_seen(j, l0, rows);
  const float *q = j->q + (head * L + l0) * D, *k = j->k + head * S * D, *v = j->v + head * S * Dv;
  float *o = j->o + (head * L + l0) * Dv;
  float m[TILE], z[TILE];
  for (long i = 0; i < rows; i++) { m[i] = -INFINITY; z[i] = 0.f; }
  for (long k0 = 0; k0 < n; k0 += KB) {
    const long kb = n - k0 < KB ? n - k0 : KB;
    heed_sgemm(HEED_ROW_MAJOR, HEED_NO_TRANS, HEED_TRANS, (int)rows, (int)kb, (int)D, 1.f, q, (int)D, k + k0 * D, (int)D, 0.f, a, (int)kb);
    for (long i = 0; i < rows; i++) {
      float *row = a + i * kb;
      const long l = l0 + i;
      const float bmax = mask_row(j, row, kb, block_visible(j, n, l, k0, kb), mask_from(j, b, h, l, k0));
      const float mnew = bmax > m[i] ? bmax : m[i];
      if (mnew == -INFINITY) { memset(row, 0, sizeof(float) * (size_t)kb); continue; } /* nothing visible yet */
      const float alpha = m[i] == -INFINITY ? 0.f : expf(m[i] - mnew);
      z[i] = z[i] * alpha + exp_row(row, kb, mnew);
      if (k0 > 0 && alpha != 1.f) scale_row(o + i * Dv, Dv, alpha);
      m[i] = mnew;
    }
    heed_sgemm(HEED_ROW_MAJOR, HEED_NO_TRANS, HEED_NO_TRANS, (int)rows, (int)Dv, (int)kb, 1.f, a, (int)kb, v + k0 * Dv, (int)Dv,
               k0 == 0 ? 0.f : 1.f, o, (int)Dv);
  }
  for (long i = 0; i < rows; i++) {
    float *lse = j->l + head * L + l0 + i;
    if (m[i] == -INFINITY || isnan(m[i])) { memset(o + i * Dv, 0, sizeof(float) * (size_t)Dv); *lse = m[i]; continue; }
    scale_row(o + i * Dv, Dv, 1.f / z[i]);
    *lse = m[i] + logf(z[i]);
  }
}

/* dl[i] = rowsum(dOut * out) of the rows [l0, l0 + rows) of head `head`. */
static void row_dots(const attn_job *j, long head, long l0, long rows, float *dl) {
  for (long i = 0; i < rows; i++) {
    const float *o = j->out + (head * j->L + l0 + i) * j->Dv, *y = j->dout + (head * j->L + l0 + i) * j->Dv;
    float acc = 0.f;
    for (long d = 0; d < j->Dv; d++) acc += y[d] * o[d];
    dl[i] = acc;
  }
}

/*
 * One [rows, kb] block of the backward, query tile at l0 (seeing n keys) by keys [k0, k0 + kb) of
 * head `head`: a = P = exp(s - lse), dp = dS = P (dOut V^T - dl) scale (zero rows where lse is -Infinity).
 */
static void grad_block(const attn_job *j, long head, long l0, long rows, long n, long k0, long kb, const float *dl, float *a, float *dp) {
  const long L = j->L, S = j->S, D = j->D, Dv = j->Dv, b = head / j->H, h = head % j->H;
  const float *q = j->q + (head * L + l0) * D, *y = j->dout + (head * L + l0) * Dv;
  heed_sgemm(HEED_ROW_MAJOR, HEED_NO_TRANS, HEED_TRANS, (int)rows, (int)kb, (int)D, 1.f, q, (int)D, j->k + (head * S + k0) * D, (int)D, 0.f, a, (int)kb);
  heed_sgemm(HEED_ROW_MAJOR, HEED_NO_TRANS, HEED_TRANS, (int)rows, (int)kb, (int)Dv, 1.f, y, (int)Dv, j->v + (head * S + k0) * Dv, (int)Dv, 0.f, dp, (int)kb);
  for (long i = 0; i < rows; i++) {
    float *row = a + i * kb, *drow = dp + i * kb;
    const long l = l0 + i;
    const float lse = j->lse[head * L + l];
    mask_row(j, row, kb, block_visible(j, n, l, k0, kb), mask_from(j, b, h, l, k0));
    if (lse == -INFINITY || isnan(lse)) {
      memset(row, 0, sizeof(float) * (size_t)kb);
      memset(drow, 0, sizeof(float) * (size_t)kb);
      continue;
    }
    grad_row(row, drow, kb, lse, dl[i], j->scale);
  }
}

/* dq rows of the query tile at l0 += dS K over key block k0 (the first block overwrites). */
static void add_dq(const attn_job *j, long head, long l0, long rows, long k0, long kb, const float *ds) {
  heed_sgemm(HEED_ROW_MAJOR, HEED_NO_TRANS, HEED_NO_TRANS, (int)rows, (int)j->D, (int)kb, 1.f, ds, (int)kb, j->k + (head * j->S + k0) * j->D, (int)j->D,
             k0 == 0 ? 0.f : 1.f, j->dq + (head * j->L + l0) * j->D, (int)j->D);
}

/* dk, dv rows of key block k0 += dS^T Q_t and P^T dOut_t of the query tile at l0. */
static void add_dkv(const attn_job *j, long head, long l0, long rows, long k0, long kb, const float *p, const float *ds) {
  const long L = j->L, S = j->S, D = j->D, Dv = j->Dv;
  heed_sgemm(HEED_ROW_MAJOR, HEED_TRANS, HEED_NO_TRANS, (int)kb, (int)D, (int)rows, 1.f, ds, (int)kb, j->q + (head * L + l0) * D, (int)D, 1.f,
             j->dk + (head * S + k0) * D, (int)D);
  heed_sgemm(HEED_ROW_MAJOR, HEED_TRANS, HEED_NO_TRANS, (int)kb, (int)Dv, (int)rows, 1.f, p, (int)kb, j->dout + (head * L + l0) * Dv, (int)Dv, 1.f,
             j->dv + (head * S + k0) * Dv, (int)Dv);
}

static long tile_rows(const attn_job *j, long l0) { return j->L - l0 < TILE ? j->L - l0 : TILE; }
static long block_keys(long n, long k0) { return n - k0 < KB ? n - k0 : KB; }

/* The whole backward of head `head` in one pass: query tiles in order, key blocks in order (scratch a, dp: [TILE, KB]). */
static void backward_head(const attn_job *j, long head, float *a, float *dp) {
  memset(j->dk + head * j->S * j->D, 0, sizeof(float) * (size_t)(j->S * j->D));
  memset(j->dv + head * j->S * j->Dv, 0, sizeof(float) * (size_t)(j->S * j->Dv));
  float dl[TILE];
  for (long l0 = 0; l0 < j->L; l0 += TILE) {
    const long rows = tile_rows(j, l0), n = keys_seen(j, l0, rows);
    row_dots(j, head, l0, rows, dl);
    for (long k0 = 0; k0 < n; k0 += KB) {
      const long kb = block_keys(n, k0);
      grad_block(j, head, l0, rows, n, k0, kb, dl, a, dp);
      add_dq(j, head, l0, rows, k0, kb, dp);
      add_dkv(j, head, l0, rows, k0, kb, a, dp);
    }
  }
}

/* dq of the query tile at l0 alone (the split backward's first pass). */
static void backward_dq(const attn_job *j, long head, long l0, float *a, float *dp) {
  const long rows = tile_rows(j, l0), n = keys_seen(j, l0, rows);
  float dl[TILE];
  row_dots(j, head, l0, rows, dl);
  for (long k0 = 0; k0 < n; k0 += KB) {
    const long kb = block_keys(n, k0);
    grad_block(j, head, l0, rows, n, k0, kb, dl, a, dp);
    add_dq(j, head, l0, rows, k0, kb, dp);
  }
}

/* dk, dv of key block k0 alone, over the query tiles that see it in order (the split backward's second pass). */
static void backward_dkv(const attn_job *j, long head, long k0, float *a, float *dp) {
  const long kbAll = block_keys(j->S, k0);
  for (long r = 0; r < kbAll; r++) {
    memset(j->dk + (head * j->S + k0 + r) * j->D, 0, sizeof(float) * (size_t)j->D);
    memset(j->dv + (head * j->S + k0 + r) * j->Dv, 0, sizeof(float) * (size_t)j->Dv);
  }
  float dl[TILE];
  for (long l0 = 0; l0 < j->L; l0 += TILE) {
    const long rows = tile_rows(j, l0), n = keys_seen(j, l0, rows);
    if (n <= k0) continue;
    const long kb = block_keys(n, k0);
    row_dots(j, head, l0, rows, dl);
    grad_block(j, head, l0, rows, n, k0, kb, dl, a, dp);
    add_dkv(j, head, l0, rows, k0, kb, a, dp);
  }
}

/* Reads the shared leading arguments (B, H, L, S, D, Dv, q, k, v, mask, ms0..ms3, scale, causal) and checks every extent. */
static int read_job(napi_env env, const double *a, attn_job *j, const char *op) {
  j->B = (long)a[0]; j->H = (long)a[1]; j->L = (long)a[2]; j->S = (long)a[3]; j->D = (long)a[4]; j->Dv = (long)a[5];
  for (int i = 0; i < 6; i++) if (!(a[i] >= 1) || a[i] != (double)(long)a[i] || a[i] > 0x7fffffff) return 0;
  j->ms0 = (long)a[10]; j->ms1 = (long)a[11]; j->ms2 = (long)a[12]; j->ms3 = (long)a[13];
  j->scale = (float)a[14];
  j->causal = a[15] != 0;
  const double heads = (double)j->B * j->H;
  if (heads * j->L * j->S > 9e15) return 0;
  if ((j->q = heed_f32(env, a[6], heads * j->L * j->D, op)) == NULL) return -1;
  if ((j->k = heed_f32(env, a[7], heads * j->S * j->D, op)) == NULL) return -1;
  if ((j->v = heed_f32(env, a[8], heads * j->S * j->Dv, op)) == NULL) return -1;
  j->mask = NULL;
  if (a[9] != -1) {
    if (j->ms0 < 0 || j->ms1 < 0 || j->ms2 < 0 || j->ms3 < 0) return 0;
    const double last = (double)(j->B - 1) * j->ms0 + (double)(j->H - 1) * j->ms1 + (double)(j->L - 1) * j->ms2 + (double)(j->S - 1) * j->ms3 + 1;
    if ((j->mask = heed_f32(env, a[9], last, op)) == NULL) return -1;
  }
  return 1;
}

/* Scratch of `count` floats per thread, or NULL. */
static float *scratch(int threads, long count) {
  return (float *)malloc(sizeof(float) * (size_t)threads * (size_t)count);
}

static int team(const attn_job *j, long tasks) {
  const double macs = (double)j->B * j->H * j->L * j->S * (j->D + j->Dv);
  return tasks > 1 && macs >= ATTN_PARALLEL_MACS && heed_blas_openmp && heed_threads > 1 ? heed_threads : 1;
}

/* attentionForward(B, H, L, S, D, Dv, q, k, v, mask, ms0, ms1, ms2, ms3, scale, causal, out, lse) -> ran? */
static napi_value attention_forward(napi_env env, napi_callback_info info) {
  double a[18];
  const char *op = "attentionForward";
  if (!heed_args(env, info, 18, a, op)) return NULL;
  attn_job j;
  const int ok = read_job(env, a, &j, op);
  if (ok < 0) return NULL;
  if (ok == 0) return heed_bool(env, 0);
  const double heads = (double)j.B * j.H;
  if ((j.o = heed_f32(env, a[16], heads * j.L * j.Dv, op)) == NULL) return NULL;
  if ((j.l = heed_f32(env, a[17], heads * j.L, op)) == NULL) return NULL;
  const long tiles = (j.L + TILE - 1) / TILE, tasks = j.B * j.H * tiles, per = TILE * KB;
  const int threads = team(&j, tasks);
  float *buf = scratch(threads, per);
  if (buf == NULL) return heed_bool(env, 0);
  if (threads > 1) {
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long t = 0; t < tasks; t++) forward_tile(&j, t / tiles, (t % tiles) * TILE, buf + (size_t)omp_get_thread_num() * per);
  } else {
    for (long t = 0; t < tasks; t++) forward_tile(&j, t / tiles, (t % tiles) * TILE, buf);
  }
  free(buf);
  return heed_bool(env, 1);
}

/* attentionBackward(B, H, L, S, D, Dv, q, k, v, mask, ms0, ms1, ms2, ms3, scale, causal, out, dOut, lse, dq, dk, dv) -> ran? */
static napi_value attention_backward(napi_env env, napi_callback_info info) {
  double a[22];
  const char *op = "attentionBackward";
  if (!heed_args(env, info, 22, a, op)) return NULL;
  attn_job j;
  const int ok = read_job(env, a, &j, op);
  if (ok < 0) return NULL;
  if (ok == 0) return heed_bool(env, 0);
  const double heads = (double)j.B * j.H;
  if ((j.out = heed_f32(env, a[16], heads * j.L * j.Dv, op)) == NULL) return NULL;
  if ((j.dout = heed_f32(env, a[17], heads * j.L * j.Dv, op)) == NULL) return NULL;
  if ((j.lse = heed_f32(env, a[18], heads * j.L, op)) == NULL) return NULL;
  if ((j.dq = heed_f32(env, a[19], heads * j.L * j.D, op)) == NULL) return NULL;
  if ((j.dk = heed_f32(env, a[20], heads * j.S * j.D, op)) == NULL) return NULL;
  if ((j.dv = heed_f32(env, a[21], heads * j.S * j.Dv, op)) == NULL) return NULL;
  const long tasks = j.B * j.H, per = 2 * TILE * KB;
  const int threads = team(&j, tasks > 1 ? tasks : 2);
  float *buf = scratch(threads, per);
  if (buf == NULL) return heed_bool(env, 0);
  if (threads > 1 && tasks >= threads) {
    #pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (long t = 0; t < tasks; t++) {
      float *s = buf + (size_t)omp_get_thread_num() * per;
      backward_head(&j, t, s, s + TILE * KB);
    }
  } else if (threads > 1) {
    /* Fewer heads than threads: dq by (head, query tile), then dk, dv by (head, key block). The
       same blocks are summed in the same order as backward_head, so the bits are the same; the
       score blocks are computed twice. */
    const long tiles = (j.L + TILE - 1) / TILE, blocks = (j.S + KB - 1) / KB;
    #pragma omp parallel num_threads(threads)
    {
      float *s = buf + (size_t)omp_get_thread_num() * per;
      #pragma omp for schedule(dynamic, 1) nowait
      for (long t = 0; t < tasks * tiles; t++) backward_dq(&j, t / tiles, (t % tiles) * TILE, s, s + TILE * KB);
      #pragma omp for schedule(dynamic, 1)
      for (long t = 0; t < tasks * blocks; t++) backward_dkv(&j, t / blocks, (t % blocks) * KB, s, s + TILE * KB);
    }
  } else {
    for (long t = 0; t < tasks; t++) backward_head(&j, t, buf, buf + TILE * KB);
  }
  free(buf);
  return heed_bool(env, 1);
}

void heed_register_attention(napi_env env, napi_value exports) {
  heed_export(env, exports, "attentionForward", attention_forward);
  heed_export(env, exports, "attentionBackward", attention_backward);
}
