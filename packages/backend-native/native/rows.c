// SPDX-License-Identifier: MIT
// Row kernels of heed_native.node on contiguous float32 data in the bound memory (native.h):
// softmax / log-softmax and LayerNorm over the last axis, GELU (erf and tanh forms), and
// sum/max/min/prod over the inner axis of [outer, inner] rows or over its outer axis
// (columns). Plain C that GCC vectorises in each target_clones variant: sums over fixed lane
// arrays, max/min as `omp simd` reductions, columns as rows of accumulators; exp/erf/tanh are
// the WASM kernels' formulas (asm/vmath.ts: Cephes expf, Abramowitz-Stegun erf, Eigen's
// rational tanh) in branch-free scalar form.
// Invariants:
// - every output value (or, for rows longer than RED_BLOCK, every block partial, combined in
//   order) is computed by one thread in an order fixed by the shape alone, so results do not
//   depend on the thread count;
// - sum and prod accumulate in double (like the reference kernels) and round once; max/min
//   propagate NaN; softmax and LayerNorm use float lanes (like the WASM kernels);
// - rows are parallel with OpenMP (heed_threads) only from PAR_MIN units of work (see there).
/* No FP trap is ever enabled here, so the selects of exp/tanh may run unconditionally (without
   this GCC keeps them as branches and the AVX2 loops do not vectorise); values are unchanged. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "native.h"
#include "vmath.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define HOT HEED_HOT

/* Work below PAR_MIN cost units runs on one thread. A unit is about one element of a
   reduction or LayerNorm (~0.2 ns on one AVX2 core); softmax and GELU elements cost ~4 units.
   bench/native_rows.mjs --threshold (lower quartile of single calls, 2 threads vs 1, on a
   loaded 2-core EPYC): 2 threads win from ~2^15 elements of softmax/GELU and ~2^16 of
   reductions/LayerNorm (about 10-20 us of one-thread work while the team is awake); 2^17 units
   (~30 us) leaves room for waking a sleeping team member. -DHEED_ROWS_PAR_MIN=0 builds the
   addon that measurement uses. */
#ifdef HEED_ROWS_PAR_MIN
#define PAR_MIN ((double)HEED_ROWS_PAR_MIN)
#else
#define PAR_MIN ((double)(1L << 17))
#endif
enum { COST_REDUCE = 1, COST_LAYERNORM = 1, COST_SOFTMAX = 4, COST_GELU = 4 };
/* Lane count of the vectorised accumulators (fixed, so the order of additions is too). */
#define LANES 16
/* Long rows are reduced in blocks of this many floats; blocks parallelise when rows are few. */
#define RED_BLOCK (1L << 16)
/* Columns per column-reduction task (a thread takes a contiguous run of tasks), and the most
   columns one pass over the rows accumulates (its accumulators stay in L1). */
#define COL_GROUP 16L
#define COL_BLOCK 1024L
/* Elements per GELU task. */
#define GELU_BLOCK 8192L

enum { OP_SUM = 0, OP_MAX = 1, OP_MIN = 2, OP_PROD = 3 };

/* The team size for `work` cost units split into `tasks` independent tasks. */
static int team(double work, long tasks) {
  return heed_threads > 1 && tasks > 1 && work >= PAR_MIN ? heed_threads : 1;
}

/* ---- vector math (scalar form; inlined into the vectorised loops) ---- */

/* ---- lane reductions over one contiguous run ---- */

static inline float lanes_sum(const float *s) {
  float t[LANES / 2];
  for (int l = 0; l < LANES / 2; l++) t[l] = s[l] + s[l + LANES / 2];
  for (int w = LANES / 4; w >= 1; w /= 2)
    for (int l = 0; l < w; l++) t[l] = t[l] + t[l + w];
  return t[0];
}

/* Sum of n floats in float lanes (the order depends only on n). */
static inline float run_sum_f(const float *restrict x, long n) {
  float s[LANES] = { 0 };
  long j = 0;
  for (; j + LANES <= n; j += LANES)
    for (int l = 0; l < LANES; l++) s[l] += x[j + l];
  float t = lanes_sum(s);
  for (; j < n; j++) t += x[j];
  return t;
}

/* op over n floats as a double (sum/prod exact-ish in double lanes; max/min NaN-propagating). */
static inline double run_reduce(int op, const float *restrict x, long n) {
  long j = 0;
  if (op == OP_SUM || op == OP_PROD) {
    double a[LANES];
    double init = op == OP_SUM ? 0. : 1.;
    for (int l = 0; l < LANES; l++) a[l] = init;
    if (op == OP_SUM) {
      for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) a[l] += (double)x[j + l];
    } else {
      for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) a[l] *= (double)x[j + l];
    }
    for (int w = LANES / 2; w >= 1; w /= 2)
      for (int l = 0; l < w; l++) a[l] = op == OP_SUM ? a[l] + a[l + w] : a[l] * a[l + w];
    double t = a[0];
    if (op == OP_SUM) for (; j < n; j++) t += (double)x[j];
    else for (; j < n; j++) t *= (double)x[j];
    return t;
  }
  /* max/min are exact, so the vector width may choose the order; NaN is tracked apart */
  float m = op == OP_MAX ? -INFINITY : INFINITY;
  int bad = 0;
  if (op == OP_MAX) {
    #pragma omp simd reduction(max : m) reduction(| : bad)
    for (long i = 0; i < n; i++) { float v = x[i]; m = v > m ? v : m; bad |= v != v; }
  } else {
    #pragma omp simd reduction(min : m) reduction(| : bad)
    for (long i = 0; i < n; i++) { float v = x[i]; m = v < m ? v : m; bad |= v != v; }
  }
  return bad ? (double)NAN : (double)m;
}

static inline double combine(int op, double a, double b) {
  switch (op) {
    case OP_SUM: return a + b;
    case OP_PROD: return a * b;
    case OP_MAX: return a != a || b != b ? (double)NAN : (a > b ? a : b);
    default: return a != a || b != b ? (double)NAN : (a < b ? a : b);
  }
}

/* ---- kernels over a task range (the OpenMP loops call these clones) ---- */

HOT static void softmax_rows(const float *restrict x, float *restrict y, long r0, long r1, long n, int log) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
    const float m = (float)run_reduce(OP_MAX, xr, n);
    float s[LANES] = { 0 };
    long j = 0;
    if (log) {
      for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) s[l] += v_exp(xr[j + l] - m);
    } else {
      for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) { float e = v_exp(xr[j + l] - m); yr[j + l] = e; s[l] += e; }
    }
    float t = lanes_sum(s);
    for (; j < n; j++) { float e = v_exp(xr[j] - m); if (!log) yr[j] = e; t += e; }
    if (log) {
      /* (x - m) - log s in that order: m + log s rounds back to m for huge m */
      const float ls = logf(t);
      for (j = 0; j < n; j++) yr[j] = (xr[j] - m) - ls;
    } else {
      const float inv = 1.f / t;
      for (j = 0; j < n; j++) yr[j] *= inv;
    }
  }
}

HOT static void layernorm_rows(const float *restrict x, const float *restrict w, const float *restrict b, float *restrict y,
                               long r0, long r1, long n, float eps) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * n;
    float *yr = y + r * n;
    const float mean = run_sum_f(xr, n) / (float)n;
    float q[LANES] = { 0 };
    long j = 0;
    for (; j + LANES <= n; j += LANES)
      for (int l = 0; l < LANES; l++) { float d = xr[j + l] - mean; q[l] += d * d; }
    float var = lanes_sum(q);
    for (; j < n; j++) { float d = xr[j] - mean; var += d * d; }
    const float rstd = 1.f / sqrtf(var / (float)n + eps);
    if (w != NULL && b != NULL) for (j = 0; j < n; j++) yr[j] = ((xr[j] - mean) * rstd) * w[j] + b[j];
    else if (w != NULL) for (j = 0; j < n; j++) yr[j] = ((xr[j] - mean) * rstd) * w[j];
    else if (b != NULL) for (j = 0; j < n; j++) yr[j] = (xr[j] - mean) * rstd + b[j];
    else for (j = 0; j < n; j++) yr[j] = (xr[j] - mean) * rstd;
  }
}

static inline float gelu_tanh1(float v) {
  float inner = ((v * v) * v * 0.044715f + v) * 0.7978845608028654f;
  return (v * 0.5f) * (v_tanh(inner) + 1.f);
}

static inline float gelu_erf1(float v) { return (v * 0.5f) * (v_erf(v * 0.7071067811865476f) + 1.f); }

/* (one loop per form: a select between the forms inside the loop would compute both) */
HOT static void gelu_range(const float *restrict x, float *restrict y, long e0, long e1, int tanh_form) {
  if (tanh_form) for (long i = e0; i < e1; i++) y[i] = gelu_tanh1(x[i]);
  else for (long i = e0; i < e1; i++) y[i] = gelu_erf1(x[i]);
}

HOT static void gelu_in_place(float *y, long n, int tanh_form) {
  if (tanh_form) for (long i = 0; i < n; i++) y[i] = gelu_tanh1(y[i]);
  else for (long i = 0; i < n; i++) y[i] = gelu_erf1(y[i]);
}

/* GELU of n floats (native.h). */
void heed_gelu(const float *x, float *y, long n, int tanh_form) {
  if (x == y) gelu_in_place(y, n, tanh_form);
  else gelu_range(x, y, 0, n, tanh_form);
}

/* Task t of a row reduction: block (t % nb) of row (t / nb). With one block per row the result
   goes straight to out[t], else the partial to part[t] (combined in order by the caller). */
HOT static void reduce_row_tasks(int op, const float *restrict x, float *restrict out, double *restrict part, long t0, long t1, long n, long nb) {
  for (long t = t0; t < t1; t++) {
    long r = t / nb, blk = t % nb;
    long j0 = blk * RED_BLOCK, len = n - j0 < RED_BLOCK ? n - j0 : RED_BLOCK;
    double v = run_reduce(op, x + r * n + j0, len);
    if (nb == 1) out[t] = (float)v;
    else part[t] = v;
  }
}

/* Tasks [t0, t1) of a column reduction over [outer, inner]: columns [16 t0, 16 t1), streamed
   row by row in passes of up to COL_BLOCK columns. Each column is reduced over the rows in
   order by one thread, so the split (which depends on the team size) never changes a result. */
HOT static void reduce_col_tasks(int op, const float *restrict x, float *restrict out, long t0, long t1, long outer, long inner) {
  const long end = t1 * COL_GROUP < inner ? t1 * COL_GROUP : inner;
  for (long c0 = t0 * COL_GROUP; c0 < end; c0 += COL_BLOCK) {
    long w = end - c0 < COL_BLOCK ? end - c0 : COL_BLOCK;
    const float *p = x + c0;
    float *o = out + c0;
    if (op == OP_SUM || op == OP_PROD) {
      double a[COL_BLOCK];
      for (long j = 0; j < w; j++) a[j] = op == OP_SUM ? 0. : 1.;
      if (op == OP_SUM) {
        for (long i = 0; i < outer; i++, p += inner)
          for (long j = 0; j < w; j++) a[j] += (double)p[j];
      } else {
        for (long i = 0; i < outer; i++, p += inner)
          for (long j = 0; j < w; j++) a[j] *= (double)p[j];
      }
      for (long j = 0; j < w; j++) o[j] = (float)a[j];
    } else {
      float m[COL_BLOCK];
      int bad[COL_BLOCK];
      for (long j = 0; j < w; j++) { m[j] = op == OP_MAX ? -INFINITY : INFINITY; bad[j] = 0; }
      if (op == OP_MAX) {
        for (long i = 0; i < outer; i++, p += inner)
          for (long j = 0; j < w; j++) { float v = p[j]; m[j] = v > m[j] ? v : m[j]; bad[j] |= v != v; }
      } else {
        for (long i = 0; i < outer; i++, p += inner)
          for (long j = 0; j < w; j++) { float v = p[j]; m[j] = v < m[j] ? v : m[j]; bad[j] |= v != v; }
      }
      for (long j = 0; j < w; j++) o[j] = bad[j] ? NAN : m[j];
    }
  }
}

/* Runs BODY over task ranges [T0, T1): one contiguous range per thread of a team of `nt` (a
   variable of that name in the caller), or all tasks here when nt is 1. */
#define FOR_TASKS(tasks, T0, T1, BODY)                                         \
  do {                                                                         \
    if (nt > 1) {                                                              \
      _Pragma("omp parallel num_threads(nt)")                                  \
      {                                                                        \
        long nth_ = omp_get_num_threads(), id_ = omp_get_thread_num();        \
        long T0 = (tasks) * id_ / nth_, T1 = (tasks) * (id_ + 1) / nth_;       \
        BODY;                                                                  \
      }                                                                        \
    } else {                                                                   \
      long T0 = 0, T1 = (tasks);                                               \
      BODY;                                                                    \
    }                                                                          \
  } while (0)

/* ---- N-API entry points ---- */

/* softmax(x, out, rows, cols, log) -> ran? */
static napi_value softmax(napi_env env, napi_callback_info info) {
  double v[5];
  if (!heed_args(env, info, 5, v, "softmax")) return NULL;
  long rows = (long)v[2], n = (long)v[3];
  int log = v[4] != 0;
  if (rows < 1 || n < 1) return heed_bool(env, 0);
  const float *x = heed_f32(env, v[0], (double)rows * n, "softmax");
  if (x == NULL) return NULL;
  float *y = heed_f32(env, v[1], (double)rows * n, "softmax");
  if (y == NULL) return NULL;
  int nt = team((double)rows * n * COST_SOFTMAX, rows);
  FOR_TASKS(rows, r0, r1, softmax_rows(x, y, r0, r1, n, log));
  return heed_bool(env, 1);
}

/* layerNorm(x, w | -1, b | -1, out, rows, cols, eps) -> ran? */
static napi_value layer_norm(napi_env env, napi_callback_info info) {
  double v[7];
  if (!heed_args(env, info, 7, v, "layerNorm")) return NULL;
  long rows = (long)v[4], n = (long)v[5];
  float eps = (float)v[6];
  if (rows < 1 || n < 1 || !isfinite(v[6])) return heed_bool(env, 0);
  const float *x = heed_f32(env, v[0], (double)rows * n, "layerNorm");
  if (x == NULL) return NULL;
  const float *w = NULL, *b = NULL;
  if (v[1] >= 0 && (w = heed_f32(env, v[1], (double)n, "layerNorm")) == NULL) return NULL;
  if (v[2] >= 0 && (b = heed_f32(env, v[2], (double)n, "layerNorm")) == NULL) return NULL;
  float *y = heed_f32(env, v[3], (double)rows * n, "layerNorm");
  if (y == NULL) return NULL;
  int nt = team((double)rows * n * COST_LAYERNORM, rows);
  FOR_TASKS(rows, r0, r1, layernorm_rows(x, w, b, y, r0, r1, n, eps));
  return heed_bool(env, 1);
}

/* gelu(x, out, size, tanh) -> ran?  out == x runs in place. */
static napi_value gelu(napi_env env, napi_callback_info info) {
  double v[4];
  if (!heed_args(env, info, 4, v, "gelu")) return NULL;
  long size = (long)v[2];
  int tanh_form = v[3] != 0;
  if (size < 1) return heed_bool(env, 0);
  const float *x = heed_f32(env, v[0], (double)size, "gelu");
  if (x == NULL) return NULL;
  float *y = heed_f32(env, v[1], (double)size, "gelu");
  if (y == NULL) return NULL;
  long tasks = (size + GELU_BLOCK - 1) / GELU_BLOCK;
  int nt = team((double)size * COST_GELU, tasks);
  FOR_TASKS(tasks, t0, t1, heed_gelu(x + t0 * GELU_BLOCK, y + t0 * GELU_BLOCK, (t1 * GELU_BLOCK < size ? t1 * GELU_BLOCK : size) - t0 * GELU_BLOCK, tanh_form));
  return heed_bool(env, 1);
}

/* reduceRows(op, x, out, outer, inner) -> ran?  out[r] = op over x[r, :]. */
static napi_value reduce_rows(napi_env env, napi_callback_info info) {
  double v[5];
  if (!heed_args(env, info, 5, v, "reduceRows")) return NULL;
  int op = (int)v[0];
  long rows = (long)v[3], n = (long)v[4];
  if (op < OP_SUM || op > OP_PROD || rows < 1 || n < 1) return heed_bool(env, 0);
  const float *x = heed_f32(env, v[1], (double)rows * n, "reduceRows");
  if (x == NULL) return NULL;
  float *out = heed_f32(env, v[2], (double)rows, "reduceRows");
  if (out == NULL) return NULL;
  long nb = (n + RED_BLOCK - 1) / RED_BLOCK, tasks = rows * nb;
  double *part = NULL;
  if (nb > 1 && (part = malloc(sizeof(double) * (size_t)tasks)) == NULL) return heed_bool(env, 0);
  int nt = team((double)rows * n * COST_REDUCE, tasks);
  FOR_TASKS(tasks, t0, t1, reduce_row_tasks(op, x, out, part, t0, t1, n, nb));
  if (nb > 1) {
    for (long r = 0; r < rows; r++) {
      double a = part[r * nb];
      for (long k = 1; k < nb; k++) a = combine(op, a, part[r * nb + k]);
      out[r] = (float)a;
    }
    free(part);
  }
  return heed_bool(env, 1);
}

/* reduceCols(op, x, out, outer, inner) -> ran?  out[j] = op over i of x[i, j]. */
static napi_value reduce_cols(napi_env env, napi_callback_info info) {
  double v[5];
  if (!heed_args(env, info, 5, v, "reduceCols")) return NULL;
  int op = (int)v[0];
  long outer = (long)v[3], inner = (long)v[4];
  if (op < OP_SUM || op > OP_PROD || outer < 1 || inner < 1) return heed_bool(env, 0);
  const float *x = heed_f32(env, v[1], (double)outer * inner, "reduceCols");
  if (x == NULL) return NULL;
  float *out = heed_f32(env, v[2], (double)inner, "reduceCols");
  if (out == NULL) return NULL;
  long tasks = (inner + COL_GROUP - 1) / COL_GROUP;
  int nt = team((double)outer * inner * COST_REDUCE, tasks);
  FOR_TASKS(tasks, t0, t1, reduce_col_tasks(op, x, out, t0, t1, outer, inner));
  return heed_bool(env, 1);
}

void heed_register_rows(napi_env env, napi_value exports) {
  heed_export(env, exports, "softmax", softmax);
  heed_export(env, exports, "layerNorm", layer_norm);
  heed_export(env, exports, "gelu", gelu);
  heed_export(env, exports, "reduceRows", reduce_rows);
  heed_export(env, exports, "reduceCols", reduce_cols);
}
