// SPDX-License-Identifier: MIT
// Times fp32 sgemm (row-major, C = A B, square n) through the candidate kernel libraries for the
// native CPU path (ADR 0005): OpenBLAS (cblas_sgemm) and oneDNN (dnnl_sgemm), loaded with dlopen
// so one binary measures every variant. Usage: gemm_libs <library.so> <openblas|dnnl> [n ...]
// Build: cc -O2 bench/native/gemm_libs.c -o /tmp/gemm_libs -ldl ; see bench/native/gemm-libs.sh
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*cblas_sgemm_t)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef int (*dnnl_sgemm_t)(char, char, long, long, long, float, const float *, long, const float *, long, float, float *, long);

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s lib.so openblas|dnnl [n...]\n", argv[0]); return 2; }
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
  int isDnnl = strcmp(argv[2], "dnnl") == 0;
  cblas_sgemm_t cb = isDnnl ? NULL : (cblas_sgemm_t)dlsym(lib, "cblas_sgemm");
  dnnl_sgemm_t dn = isDnnl ? (dnnl_sgemm_t)dlsym(lib, "dnnl_sgemm") : NULL;
  if (!cb && !dn) { fprintf(stderr, "symbol missing\n"); return 1; }
  int sizes[8] = {256, 512, 1024, 2048}, ns = 4;
  if (argc > 3) { ns = 0; for (int i = 3; i < argc && ns < 8; i++) sizes[ns++] = atoi(argv[i]); }
  for (int s = 0; s < ns; s++) {
    int n = sizes[s];
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n), *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) { a[i] = (float)((i * 7) % 13) / 13.f; b[i] = (float)((i * 5) % 11) / 11.f; }
    double best = 1e9;
    for (int rep = 0; rep < 12; rep++) {
      double t0 = now();
      if (cb) cb(101, 111, 111, n, n, n, 1.f, a, n, b, n, 0.f, c, n);
      else dn('N', 'N', n, n, n, 1.f, a, n, b, n, 0.f, c, n);
      double dt = now() - t0;
      if (rep > 1 && dt < best) best = dt;
    }
    printf("RESULT {\"lib\":\"%s\",\"n\":%d,\"gflops\":%.1f}\n", argv[1], n, 2.0 * n * n * n / best / 1e9);
    free(a); free(b); free(c);
  }
  return 0;
}
