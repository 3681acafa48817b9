// SPDX-License-Identifier: MIT
// Lazy execution's fused elementwise programs (core's ElementwiseProgram, float32, no
// reductions) run natively: a small bytecode interpreter over blocks of BLOCK elements, each
// expr one vectorised loop over its block, the blocks spread over the OpenMP team that also
// runs OpenBLAS (so the native step uses one thread team, not OpenMP plus the WASM pool).
// The call is the generated WASM program's (backend-cpu fast/codegen-wasm.ts): `mid` rows of `n`
// elements; each input is 'contiguous' (n elements at inPtr + row * rowStride bytes) or
// 'scalar' (one element there, broadcast over the row); outputs are contiguous [mid, n].
// The ops and their edge cases are the WASM programs' (vmath.h holds the same exp/tanh
// formulas): relu keeps NaN and -0, minimum/maximum propagate NaN and order -0 below +0.
// Every output element depends only on the inputs at its index, so results do not depend on
// the split over threads.
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

#define BLOCK 256
#define MAX_EXPRS 96
#define PARALLEL_WORK (1L << 16) /* elements x exprs from which the blocks go to the team */

enum { K_INPUT = 0, K_CONST = 1, K_UNARY = 2, K_BINARY = 3, K_COPY = 4 };
enum { U_NEG = 0, U_ABS, U_SQRT, U_SQUARE, U_RELU, U_EXP, U_TANH, U_SIGMOID, U_COUNT };
enum { B_ADD = 0, B_SUB, B_MUL, B_DIV, B_MIN, B_MAX, B_COUNT };

#define HEADER 5

typedef struct {
  const int32_t *code;
  long n, mid, nExprs, nOut, nIn;
  int fused;
  unsigned char scalar[MAX_EXPRS]; /* the expr is one value per block (see run_block) */
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

HEED_HOT static void unary(int fn, int fused, const float *restrict x, float *restrict y, long len) {
  switch (fn) {
    case U_NEG: for (long i = 0; i < len; i++) y[i] = -x[i]; break;
    case U_ABS: for (long i = 0; i < len; i++) y[i] = fabsf(x[i]); break;
    case U_SQRT: for (long i = 0; i < len; i++) y[i] = sqrtf(x[i]); break;
    case U_SQUARE: for (long i = 0; i < len; i++) y[i] = x[i] * x[i]; break;
    case U_RELU: for (long i = 0; i < len; i++) y[i] = x[i] < 0.f ? 0.f : x[i]; break;
    case U_EXP:
      if (fused) for (long i = 0; i < len; i++) y[i] = v_exp_m(x[i], 1);
      else for (long i = 0; i < len; i++) y[i] = v_exp_m(x[i], 0);
      break;
    case U_TANH:
      if (fused) for (long i = 0; i < len; i++) y[i] = v_tanh_m(x[i], 1);
      else for (long i = 0; i < len; i++) y[i] = v_tanh_m(x[i], 0);
      break;
    default:
      if (fused) for (long i = 0; i < len; i++) y[i] = f_sigmoid(x[i], 1);
      else for (long i = 0; i < len; i++) y[i] = f_sigmoid(x[i], 0);
      break;
  }
}

/* binary over two runs, or with a scalar left (sv) or right (vs) operand: constants and broadcast inputs stay scalars. */
#define BINARY_LOOPS(A, B) \
  switch (fn) { \
    case B_ADD: for (long i = 0; i < len; i++) y[i] = (A) + (B); break; \
    case B_SUB: for (long i = 0; i < len; i++) y[i] = (A) - (B); break; \
    case B_MUL: for (long i = 0; i < len; i++) y[i] = (A) * (B); break; \
    case B_DIV: for (long i = 0; i < len; i++) y[i] = (A) / (B); break; \
    case B_MIN: for (long i = 0; i < len; i++) y[i] = f_min((A), (B)); break; \
    default: for (long i = 0; i < len; i++) y[i] = f_max((A), (B)); break; \
  }
HEED_HOT static void binary(int fn, const float *restrict a, const float *restrict b, float *restrict y, long len) { BINARY_LOOPS(a[i], b[i]) }
HEED_HOT static void binary_sv(int fn, float a, const float *restrict b, float *restrict y, long len) { BINARY_LOOPS(a, b[i]) }
HEED_HOT static void binary_vs(int fn, const float *restrict a, float b, float *restrict y, long len) { BINARY_LOOPS(a[i], b) }

/* One block: row r, columns [c0, c0 + len). An expr's value is a scalar (p->scalar[e]: a
   constant, a broadcast input, or computed from scalars only) or a run of len floats: a
   contiguous input's own memory, else its block in regs. */
static void run_block(const program_call *p, float (*regs)[BLOCK], long r, long c0, long len) {
  const float *val[MAX_EXPRS] = { NULL };
  float sval[MAX_EXPRS];
  const int32_t *ex = p->code + HEADER + p->nOut;
  for (long e = 0; e < p->nExprs; e++, ex += 4) {
    float *y = regs[e];
    int a = ex[2], b = ex[3];
    val[e] = y; /* replaced below for inputs and copies; unused for scalars */
    switch (ex[0]) {
      case K_INPUT: {
        const float *src = p->in[a] + r * p->inRow[a];
        if (b == 0) val[e] = src + c0;
        else sval[e] = src[0];
        break;
      }
      case K_CONST: sval[e] = p->konst[a]; break;
      case K_UNARY:
        if (p->scalar[e]) unary(ex[1], p->fused, &sval[a], &sval[e], 1);
        else unary(ex[1], p->fused, val[a], y, len);
        break;
      case K_BINARY:
        if (p->scalar[e]) binary(ex[1], &sval[a], &sval[b], &sval[e], 1);
        else {
          if (p->scalar[a]) binary_sv(ex[1], sval[a], val[b], y, len);
          else if (p->scalar[b]) binary_vs(ex[1], val[a], sval[b], y, len);
          else binary(ex[1], val[a], val[b], y, len);
        }
        break;
      default:
        if (p->scalar[e]) sval[e] = sval[a];
        else val[e] = val[a];
        break;
    }
  }
  for (long o = 0; o < p->nOut; o++) {
    long e = p->code[HEADER + o];
    float *dst = p->out[o] + r * p->n + c0;
    if (p->scalar[e]) { float v = sval[e]; for (long i = 0; i < len; i++) dst[i] = v; }
    else { const float *v = val[e]; for (long i = 0; i < len; i++) dst[i] = v[i]; }
  }
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
  {
    const int32_t *ex = code + HEADER + p.nOut;
    for (long e = 0; e < p.nExprs; e++, ex += 4) {
      switch (ex[0]) {
        case K_INPUT: p.scalar[e] = ex[3] == 1; break;
        case K_CONST: p.scalar[e] = 1; break;
        case K_BINARY: p.scalar[e] = p.scalar[ex[2]] && p.scalar[ex[3]]; break;
        default: p.scalar[e] = p.scalar[ex[2]]; break;
      }
    }
  }
  p.n = (long)args[0];
  p.mid = (long)args[1];
  if (p.n < 0 || p.mid < 0 || args[0] != (double)p.n || args[1] != (double)p.mid) return heed_bool(env, 0);
  if (p.n == 0 || p.mid == 0) return heed_bool(env, 1);
  for (long o = 0; o < p.nOut; o++) {
    if ((p.out[o] = heed_f32(env, args[2 + o], (double)p.n * (double)p.mid, "program")) == NULL) return NULL;
  }
  for (long j = 0; j < p.nIn; j++) {
    double stride = args[2 + p.nOut + 2 * j + 1];
    if (stride < 0 || ((long)stride & 3) != 0) return heed_bool(env, 0);
    p.inRow[j] = (long)stride / 4;
    int scalar = 0;
    const int32_t *ex = code + HEADER + p.nOut;
    for (long e = 0; e < p.nExprs; e++, ex += 4) if (ex[0] == K_INPUT && ex[2] == j) scalar = ex[3];
    double extent = (double)(p.mid - 1) * (double)p.inRow[j] + (scalar ? 1 : (double)p.n);
    if ((p.in[j] = heed_f32(env, args[2 + p.nOut + 2 * j], extent, "program")) == NULL) return NULL;
  }
  for (long k = 0; k < nConst; k++) p.konst[k] = (float)args[2 + p.nOut + 2 * p.nIn + k];
  long perRow = (p.n + BLOCK - 1) / BLOCK;
  long units = perRow * p.mid;
  int team = heed_threads > 1 && (double)p.n * (double)p.mid * (double)p.nExprs >= (double)PARALLEL_WORK ? heed_threads : 1;
  #pragma omp parallel num_threads(team) if (team > 1)
  {
    float regs[MAX_EXPRS][BLOCK];
    #pragma omp for schedule(static)
    for (long u = 0; u < units; u++) {
      long r = u / perRow, c0 = (u % perRow) * BLOCK;
      long len = p.n - c0 < BLOCK ? p.n - c0 : BLOCK;
      run_block(&p, regs, r, c0, len);
    }
  }
  return heed_bool(env, 1);
}

void heed_register_program(napi_env env, napi_value exports) {
  heed_export(env, exports, "program", program);
}
