// SPDX-License-Identifier: MIT
// Shared declarations of heed_native.node (the native CPU kernels of @heed/backend-native):
// the bound memory (the CPU backend's WebAssembly heap: every address a kernel receives is a
// byte offset into it), the OpenBLAS entry points resolved at load time, the thread count, and
// the argument helpers every kernel file uses. Invariants: kernels never allocate JS objects on
// the hot path; an address + extent outside the bound memory is rejected before any write.
#ifndef HEED_NATIVE_H
#define HEED_NATIVE_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Base pointer and size of the bound memory (heed_native.c: bind), per JS thread: each worker
   thread binds its own backend's heap. OpenMP team threads never read them (kernels pass pointers). */
extern _Thread_local uint8_t *heed_base;
extern _Thread_local size_t heed_size;
/* Threads the kernels may use (OpenMP team size; OpenBLAS is set to the same). */
extern int heed_threads;
/* 1 when the loaded OpenBLAS is the OpenMP build (so calls inside a parallel region run single-threaded). */
extern int heed_blas_openmp;

/* CBLAS row-major sgemm, resolved with dlsym (heed_native.c). */
typedef void (*heed_sgemm_fn)(int order, int transA, int transB, int m, int n, int k, float alpha,
                              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
extern heed_sgemm_fn heed_sgemm;
enum { HEED_ROW_MAJOR = 101, HEED_NO_TRANS = 111, HEED_TRANS = 112 };

/* Marks a hot loop function: GCC compiles AVX-512, AVX2 (+FMA: x86-64-v3) and generic variants and picks one at
   load time, so one prebuilt x86-64 binary runs the best code the CPU has (plain C, no intrinsics). */
#if defined(__x86_64__) && defined(__ELF__) && defined(__GNUC__) && !defined(__clang__)
#define HEED_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HEED_HOT
#endif

/* GELU of n floats from x into y (y == x: in place) on the calling thread (rows.c): the addon's
   one vectorised GELU, also gemm.c's activation epilogue. tanh_form 1: the tanh approximation. */
void heed_gelu(const float *x, float *y, long n, int tanh_form);

/* Products of at most this many multiply-adds, whose packed B panel fits HEED_SMALL_GEMM_PANEL floats, run
   small_gemm.c's kernel instead of BLAS (gemm.c). */
#define HEED_SMALL_GEMM_MACS (64L * 64 * 64)
#define HEED_SMALL_GEMM_PANEL 16384
/* 1 when an m x n x k product takes heed_small_gemm. */
int heed_small_gemm_fits(long m, long n, long k);
/* C[m, n] (contiguous; += when accumulate) = A @ B with A[i, p] at a[i * as1 + p * as2] and B[p, j] at
   b[p * bs1 + j * bs2], on the calling thread (small_gemm.c). */
void heed_small_gemm(long m, long n, long k, const float *a, long as1, long as2, const float *b, long bs1, long bs2,
                     float *c, int accumulate);
/* Reads exactly n numeric arguments into v; on failure throws a TypeError naming `op` and returns 0. */
int heed_args(napi_env env, napi_callback_info info, size_t n, double *v, const char *op);
/* The float pointer at byte address `addr`, checking that `count` floats fit (NULL + thrown RangeError otherwise). */
float *heed_f32(napi_env env, double addr, double count, const char *op);
/* A JS boolean (kernels return true when they ran, false when they declined). */
napi_value heed_bool(napi_env env, int value);
/* Registers a function under `name` on `exports`. */
void heed_export(napi_env env, napi_value exports, const char *name, napi_callback cb);

/* Per-file registration (each kernel file defines one; heed_native.c calls them all). */
void heed_register_gemm(napi_env env, napi_value exports);
void heed_register_rows(napi_env env, napi_value exports);
void heed_register_adam(napi_env env, napi_value exports);
void heed_register_attention(napi_env env, napi_value exports);
void heed_register_program(napi_env env, napi_value exports);

#endif
