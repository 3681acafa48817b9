// SPDX-License-Identifier: MIT
// Lazy execution's fused elementwise programs (core's ElementwiseProgram, float32, no
// reductions) run natively: a small bytecode interpreter over blocks of BLOCK elements, each
// expr one vectorised loop over its block (a constant-length loop on whole blocks), the blocks
// spread over the OpenMP team that also runs OpenBLAS (so the native step uses one thread team,
// not OpenMP plus the WASM pool). Before the blocks run, plan() gives each computed expr a
// scratch row, reusing rows whose values are dead (a 28-expr GELU gradient needs a handful, so
// they stay in L1), and lets an output's last expr write straight into the output's memory.
// The call is the generated WASM program's (backend-cpu fast/codegen-wasm.ts): `mid` rows of `n`
// elements; each input is 'contiguous' (n elements at inPtr + row * rowStride bytes) or
// 'scalar' (one element there, broadcast over the row); outputs are contiguous [mid, n].
// The ops and their edge cases are the WASM programs' (vmath.h holds the same exp/tanh
// formulas): relu keeps NaN and -0, minimum/maximum propagate NaN and order -0 below +0.
// Every output element depends only on the inputs at its index, so results do not depend on
// the split over threads; an output may be one of the inputs (a buffer updated in place).
// Bytecode (int32): [nExprs, nOut, nIn, nConst, flags, outputs[nOut], then 4 words per expr:
//   kind, fn, a, b]; flags bit 0: the polynomials' multiply-adds fused (vmath.h's `_m` forms,
//   for WASM kernels built with relaxed SIMD; honoured when the CPU has FMA, as V8 does);
//   kinds: 0 input (a = input, b = 0 contiguous / 1 scalar), 1 const (a = constant),
//   2 unary (fn, a), 3 binary (fn, a, b), 4 copy (a: a cast float32 -> float32).
// Arguments (float64): [n, mid, outPtr x nOut, (inPtr, rowStrideBytes) x nIn, const x nConst].
#include "native.h"
#include "vmath.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#define BLOCK 512
/* Floats between scratch rows: one cache line more than a block, so that rows are not 4 KB apart
   (a store to one row would stall the loads of another that aliases it in the low 12 address bits). */
#define ROW (BLOCK + 16)
#define MAX_EXPRS 96
#define PARALLEL_WORK (1L << 16) /* elements x exprs from which the blocks go to the team */

enum { K_INPUT = 0, K_CONST = 1, K_UNARY = 2, K_BINARY = 3, K_COPY = 4 };
enum { U_NEG = 0, U_ABS, U_SQRT, U_SQUARE, U_RELU, U_EXP, U_TANH, U_SIGMOID, U_COUNT };
enum { B_ADD = 0, B_SUB, B_MUL, B_DIV, B_MIN, B_MAX, B_COUNT };

#define HEADER 5

typedef struct {
  const int32_t *code;
  long n, mid, nExprs, nOut, nIn, nSlots;
  int fused;
  unsigned char scalar[MAX_EXPRS]; /* the expr is one value per block (see run_block) */
  short slot[MAX_EXPRS];           /* a computed vector expr's scratch row (-1: none) */
  short direct[MAX_EXPRS];         /* the output a computed expr writes in place on whole blocks (-1: none) */
  float *out[MAX_EXPRS];
  const float *in[MAX_EXPRS];
  long inRow[MAX_EXPRS]; /* row stride in floats */
  float konst[MAX_EXPRS];
} program_call;

/* Whether fused multiply-adds are one instruction here (V8 fuses relaxed_madd exactly then). */
static int cpu_has_fma(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  return __builtin_cpu_supports("fma");
#elif defined(__aarch64__)
  return 1;
#else
  return 0;
#endif
}

static inline float f_min(float a, float b) { return a != a ? a : b != b ? b : a < b ? a : b < a ? b : (signbit(a) ? a : b); }
static inline float f_max(float a, float b) { return a != a ? a : b != b ? b : a > b ? a : b > a ? b : (signbit(a) ? b : a); }
static inline float f_sigmoid(float x, int fused) {
  float e = v_exp_m(-fabsf(x), fused);
  float inv = 1.f / (1.f + e);
  return x >= 0.f ? inv : e * inv;
}

#define INLINE static inline __attribute__((always_inline))

/* One op over a run of len floats; run_block calls each with len = BLOCK (a constant, so GCC
   emits straight vector code with no remainder) on whole blocks, with the true length on a row's last. */
#define UNARY_RUN(name, EXPR) \
  INLINE void name(const float *restrict x, float *restrict y, long len) { for (long i = 0; i < len; i++) { float v = x[i]; y[i] = (EXPR); } }
UNARY_RUN(run_neg, -v)
UNARY_RUN(run_abs, fabsf(v))
UNARY_RUN(run_sqrt, sqrtf(v))
UNARY_RUN(run_square, v * v)
UNARY_RUN(run_relu, v < 0.f ? 0.f : v)
UNARY_RUN(run_exp_f, v_exp_m(v, 1))
UNARY_RUN(run_exp_u, v_exp_m(v, 0))
UNARY_RUN(run_tanh_f, v_tanh_m(v, 1))
UNARY_RUN(run_tanh_u, v_tanh_m(v, 0))
UNARY_RUN(run_sigmoid_f, f_sigmoid(v, 1))
UNARY_RUN(run_sigmoid_u, f_sigmoid(v, 0))

/* binary over two runs (vv), or with a scalar left (sv) or right (vs) operand: constants and broadcast inputs stay scalars. */
#define BINARY_RUNS(name, OP) \
  INLINE void name##_vv(const float *restrict a, const float *restrict b, float *restrict y, long len) { for (long i = 0; i < len; i++) y[i] = OP(a[i], b[i]); } \
  INLINE void name##_sv(float a, const float *restrict b, float *restrict y, long len) { for (long i = 0; i < len; i++) y[i] = OP(a, b[i]); } \
  INLINE void name##_vs(const float *restrict a, float b, float *restrict y, long len) { for (long i = 0; i < len; i++) y[i] = OP(a[i], b); }
#define OP_ADD(a, b) ((a) + (b))
#define OP_SUB(a, b) ((a) - (b))
#define OP_MUL(a, b) ((a) * (b))
#define OP_DIV(a, b) ((a) / (b))
BINARY_RUNS(run_add, OP_ADD)
BINARY_RUNS(run_sub, OP_SUB)
BINARY_RUNS(run_mul, OP_MUL)
BINARY_RUNS(run_div, OP_DIV)
BINARY_RUNS(run_min, f_min)
BINARY_RUNS(run_max, f_max)

/* RUN(f, args): f over the expr's run, as a constant-length loop when that run is a whole block. */
#define RUN(f, ...) do { if (full) f(__VA_ARGS__, BLOCK); else f(__VA_ARGS__, count); } while (0)
#define BINARY_CASE(name) \
  if (p->scalar[a]) RUN(name##_sv, *val[a], val[b], y); \
  else if (p->scalar[b]) RUN(name##_vs, val[a], *val[b], y); \
  else RUN(name##_vv, val[a], val[b], y); \
  break;

/* One block: row r, columns [c0, c0 + len). An expr's value is a scalar (p->scalar[e]: a
   constant, a broadcast input, or computed from scalars only; sval[e], a run of one float that
   the same loops compute) or a run of len floats: a contiguous input's own memory, its output's
   memory (p->direct, whole blocks only), else its scratch row (p->slot: rows are reused once
   their value is dead). */
HEED_HOT static void run_block(const program_call *p, float *scratch, long r, long c0, long len) {
  const float *val[MAX_EXPRS];
  float sval[MAX_EXPRS];
  const int whole = len == BLOCK;
  const int32_t *ex = p->code + HEADER + p->nOut;
  for (long e = 0; e < p->nExprs; e++, ex += 4) {
    const int kind = ex[0], fn = ex[1], a = ex[2], b = ex[3];
    if (kind == K_INPUT) {
      const float *src = p->in[a] + r * p->inRow[a];
      if (b == 0) val[e] = src + c0;
      else { sval[e] = src[0]; val[e] = &sval[e]; }
      continue;
    }
    if (kind == K_CONST) { sval[e] = p->konst[a]; val[e] = &sval[e]; continue; }
    if (kind == K_COPY) { val[e] = val[a]; continue; }
    const int scalar = p->scalar[e], full = whole && !scalar;
    const long count = scalar ? 1 : len;
    float *y = scalar ? &sval[e] : full && p->direct[e] >= 0 ? p->out[p->direct[e]] + r * p->n + c0 : scratch + (long)p->slot[e] * ROW;
    val[e] = y;
    if (kind == K_UNARY) {
      const float *x = val[a];
      switch (fn) {
        case U_NEG: RUN(run_neg, x, y); break;
        case U_ABS: RUN(run_abs, x, y); break;
        case U_SQRT: RUN(run_sqrt, x, y); break;
        case U_SQUARE: RUN(run_square, x, y); break;
        case U_RELU: RUN(run_relu, x, y); break;
        case U_EXP: if (p->fused) RUN(run_exp_f, x, y); else RUN(run_exp_u, x, y); break;
        case U_TANH: if (p->fused) RUN(run_tanh_f, x, y); else RUN(run_tanh_u, x, y); break;
        default: if (p->fused) RUN(run_sigmoid_f, x, y); else RUN(run_sigmoid_u, x, y); break;
      }
    } else {
      switch (fn) {
        case B_ADD: BINARY_CASE(run_add)
        case B_SUB: BINARY_CASE(run_sub)
        case B_MUL: BINARY_CASE(run_mul)
        case B_DIV: BINARY_CASE(run_div)
        case B_MIN: BINARY_CASE(run_min)
        default: BINARY_CASE(run_max)
      }
    }
  }
  for (long o = 0; o < p->nOut; o++) {
    long e = p->code[HEADER + o];
    if (whole && p->direct[e] == o) continue;
    float *dst = p->out[o] + r * p->n + c0;
    if (p->scalar[e]) { float v = *val[e]; for (long i = 0; i < len; i++) dst[i] = v; }
    else { const float *v = val[e]; for (long i = 0; i < len; i++) dst[i] = v[i]; }
  }
}

/* Plans the blocks' storage: which exprs are scalars, a scratch row per computed vector expr
   (a row is reused after its value's last use; a copy's uses count as its source's), and which
   computed exprs write straight into an output: one that overlaps no input, so that no later
   read of an input (a buffer updated in place) sees a value of this block already written. */
static void plan(program_call *p, const double *inExtent) {
  const int32_t *code = p->code, *ex0 = code + HEADER + p->nOut;
  short root[MAX_EXPRS];
  long lastUse[MAX_EXPRS];
  for (long e = 0; e < p->nExprs; e++) {
    const int32_t *ex = ex0 + 4 * e;
    switch (ex[0]) {
      case K_INPUT: p->scalar[e] = ex[3] == 1; break;
      case K_CONST: p->scalar[e] = 1; break;
      case K_BINARY: p->scalar[e] = p->scalar[ex[2]] && p->scalar[ex[3]]; break;
      default: p->scalar[e] = p->scalar[ex[2]]; break;
    }
    root[e] = ex[0] == K_COPY ? root[ex[2]] : (short)e;
    lastUse[e] = -1;
    p->slot[e] = -1;
    p->direct[e] = -1;
  }
  for (long e = 0; e < p->nExprs; e++) {
    const int32_t *ex = ex0 + 4 * e;
    if (ex[0] == K_UNARY || ex[0] == K_COPY) lastUse[root[ex[2]]] = e;
    else if (ex[0] == K_BINARY) lastUse[root[ex[2]]] = lastUse[root[ex[3]]] = e;
  }
  for (long o = 0; o < p->nOut; o++) lastUse[root[code[HEADER + o]]] = p->nExprs;
  short freeRows[MAX_EXPRS];
  long nFree = 0;
  p->nSlots = 0;
  for (long e = 0; e < p->nExprs; e++) {
    const int32_t *ex = ex0 + 4 * e;
    if ((ex[0] != K_UNARY && ex[0] != K_BINARY) || p->scalar[e]) continue;
    p->slot[e] = nFree > 0 ? freeRows[--nFree] : (short)p->nSlots++;
    short x = root[ex[2]], y = ex[0] == K_BINARY ? root[ex[3]] : x;
    if (lastUse[x] == e && p->slot[x] >= 0) freeRows[nFree++] = p->slot[x];
    if (y != x && lastUse[y] == e && p->slot[y] >= 0) freeRows[nFree++] = p->slot[y];
  }
  for (long o = 0; o < p->nOut; o++) {
    long e = code[HEADER + o];
    if (p->slot[e] < 0 || p->direct[e] >= 0) continue;
    const float *o0 = p->out[o], *o1 = o0 + p->n * p->mid;
    int overlaps = 0;
    for (long j = 0; j < p->nIn; j++) overlaps |= p->in[j] < o1 && o0 < p->in[j] + (long)inExtent[j];
    if (!overlaps) p->direct[e] = (short)o;
  }
}

/* A thread's scratch rows, grown on demand and kept (at most MAX_EXPRS rows of BLOCK floats). */
static _Thread_local float *tls_scratch = NULL;
static _Thread_local long tls_rows = 0;
static float *scratch_rows(long rows) {
  if (rows <= tls_rows) return tls_scratch;
  float *s = aligned_alloc(64, sizeof(float) * ROW * (size_t)rows);
  if (s == NULL) return NULL;
  free(tls_scratch);
  tls_scratch = s;
  tls_rows = rows;
  return s;
}

/* Whether the bytecode is well formed (every operand an earlier expr, every index in range). */
static int valid(const int32_t *code, size_t words, long nExprs, long nOut, long nIn, long nConst) {
  if (nExprs < 1 || nExprs > MAX_EXPRS || nOut < 1 || nOut > MAX_EXPRS || nIn < 0 || nIn > MAX_EXPRS || nConst < 0 || nConst > MAX_EXPRS) return 0;
  if (words != (size_t)(HEADER + nOut + 4 * nExprs) || (code[4] & ~1) != 0) return 0;
  for (long o = 0; o < nOut; o++) if (code[HEADER + o] < 0 || code[HEADER + o] >= nExprs) return 0;
  const int32_t *ex = code + HEADER + nOut;
  for (long e = 0; e < nExprs; e++, ex += 4) {
    switch (ex[0]) {
      case K_INPUT: if (ex[2] < 0 || ex[2] >= nIn || (ex[3] != 0 && ex[3] != 1)) return 0; break;
      case K_CONST: if (ex[2] < 0 || ex[2] >= nConst) return 0; break;
      case K_UNARY: if (ex[1] < 0 || ex[1] >= U_COUNT || ex[2] < 0 || ex[2] >= e) return 0; break;
      case K_BINARY: if (ex[1] < 0 || ex[1] >= B_COUNT || ex[2] < 0 || ex[2] >= e || ex[3] < 0 || ex[3] >= e) return 0; break;
      case K_COPY: if (ex[2] < 0 || ex[2] >= e) return 0; break;
      default: return 0;
    }
  }
  return 1;
}

/* Reads a typed array argument's data and length (elements); 0 + TypeError when it is not one of `type`. */
static void *typed(napi_env env, napi_value v, napi_typedarray_type type, size_t *length) {
  bool is = false;
  napi_typedarray_type t;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is || napi_get_typedarray_info(env, v, &t, length, &data, NULL, NULL) != napi_ok || t != type) {
    napi_throw_type_error(env, NULL, type == napi_int32_array ? "heed_native.program: code must be an Int32Array" : "heed_native.program: args must be a Float64Array");
    return NULL;
  }
  return data;
}

/* program(code: Int32Array, args: Float64Array) -> ran? (false: malformed or too large, declined) */
static napi_value program(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    napi_throw_type_error(env, NULL, "heed_native.program: expected (code, args)");
    return NULL;
  }
  size_t words = 0, nargs = 0;
  const int32_t *code = typed(env, argv[0], napi_int32_array, &words);
  if (code == NULL) return NULL;
  const double *args = typed(env, argv[1], napi_float64_array, &nargs);
  if (args == NULL) return NULL;
  if (words < HEADER) return heed_bool(env, 0);
  program_call p;
  p.code = code;
  p.nExprs = code[0];
  p.nOut = code[1];
  p.nIn = code[2];
  long nConst = code[3];
  p.fused = (code[4] & 1) && cpu_has_fma();
  if (!valid(code, words, p.nExprs, p.nOut, p.nIn, nConst) || nargs != (size_t)(2 + p.nOut + 2 * p.nIn + nConst)) return heed_bool(env, 0);
  p.n = (long)args[0];
  p.mid = (long)args[1];
  if (p.n < 0 || p.mid < 0 || args[0] != (double)p.n || args[1] != (double)p.mid) return heed_bool(env, 0);
  if (p.n == 0 || p.mid == 0) return heed_bool(env, 1);
  for (long o = 0; o < p.nOut; o++) {
    if ((p.out[o] = heed_f32(env, args[2 + o], (double)p.n * (double)p.mid, "program")) == NULL) return NULL;
  }
  double inExtent[MAX_EXPRS];
  for (long j = 0; j < p.nIn; j++) {
    double stride = args[2 + p.nOut + 2 * j + 1];
    if (stride < 0 || ((long)stride & 3) != 0) return heed_bool(env, 0);
    p.inRow[j] = (long)stride / 4;
    int scalar = 0;
    const int32_t *ex = code + HEADER + p.nOut;
    for (long e = 0; e < p.nExprs; e++, ex += 4) if (ex[0] == K_INPUT && ex[2] == j) scalar = ex[3];
    inExtent[j] = (double)(p.mid - 1) * (double)p.inRow[j] + (scalar ? 1 : (double)p.n);
    if ((p.in[j] = heed_f32(env, args[2 + p.nOut + 2 * j], inExtent[j], "program")) == NULL) return NULL;
  }
  for (long k = 0; k < nConst; k++) p.konst[k] = (float)args[2 + p.nOut + 2 * p.nIn + k];
  plan(&p, inExtent);
  long perRow = (p.n + BLOCK - 1) / BLOCK;
  long units = perRow * p.mid;
  int team = heed_threads > 1 && (double)p.n * (double)p.mid * (double)p.nExprs >= (double)PARALLEL_WORK ? heed_threads : 1;
  int outOfMemory = 0;
  #pragma omp parallel num_threads(team) if (team > 1)
  {
    float *scratch = scratch_rows(p.nSlots > 0 ? p.nSlots : 1);
    if (scratch == NULL) {
      #pragma omp atomic write
      outOfMemory = 1;
    }
    #pragma omp for schedule(static)
    for (long u = 0; u < units; u++) {
      if (scratch == NULL) continue;
      long r = u / perRow, c0 = (u % perRow) * BLOCK;
      long len = p.n - c0 < BLOCK ? p.n - c0 : BLOCK;
      run_block(&p, scratch, r, c0, len);
    }
  }
  if (outOfMemory) {
    napi_throw_error(env, NULL, "heed_native.program: out of memory for the interpreter's scratch rows");
    return NULL;
  }
  return heed_bool(env, 1);
}

void heed_register_program(napi_env env, napi_value exports) {
  heed_export(env, exports, "program", program);
}
