// SPDX-License-Identifier: MIT
// Entry of heed_native.node: loads OpenBLAS with dlopen (so the addon builds and loads without
// BLAS headers, and a missing library is a clear error instead of a failed require), binds the
// CPU backend's heap memory, sets the thread count, and registers the kernel files' functions.
// JS API: load(paths[]) -> { library, version, config, parallel } | throws; bind(Float32Array over
// the whole memory); setThreads(n); threads().
#include "native.h"
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

_Thread_local uint8_t *heed_base = NULL;
_Thread_local size_t heed_size = 0;
int heed_threads = 1;
int heed_blas_openmp = 0;
heed_sgemm_fn heed_sgemm = NULL;

static void *blas = NULL;
static void (*blas_set_threads)(int) = NULL;

int heed_args(napi_env env, napi_callback_info info, size_t n, double *v, const char *op) {
  napi_value argv[32];
  size_t argc = 32;
  if (n > 32 || napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < n) {
    char msg[160];
    snprintf(msg, sizeof msg, "heed_native.%s: expected %zu arguments, got %zu", op, n, argc);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (napi_get_value_double(env, argv[i], &v[i]) != napi_ok) {
      char msg[160];
      snprintf(msg, sizeof msg, "heed_native.%s: argument %zu must be a number", op, i);
      napi_throw_type_error(env, NULL, msg);
      return 0;
    }
  }
  return 1;
}

float *heed_f32(napi_env env, double addr, double count, const char *op) {
  if (heed_base == NULL || addr < 0 || count < 0 || ((size_t)addr & 3) != 0 || addr + 4 * count > (double)heed_size) {
    char msg[200];
    snprintf(msg, sizeof msg, "heed_native.%s: address %.0f + %.0f floats is outside the bound memory (%zu bytes)", op, addr, count, heed_size);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  return (float *)(heed_base + (size_t)addr);
}

napi_value heed_bool(napi_env env, int value) {
  napi_value r;
  napi_get_boolean(env, value != 0, &r);
  return r;
}

void heed_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  napi_set_named_property(env, exports, name, fn);
}

static napi_value str(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* load(paths: string[]): tries each path in order; returns a description of the library. */
static napi_value load(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t count = 0;
  if (argc < 1 || napi_get_array_length(env, argv[0], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "heed_native.load: expected an array of library paths");
    return NULL;
  }
  char tried[2048] = "";
  for (uint32_t i = 0; i < count && blas == NULL; i++) {
    napi_value item;
    char path[512];
    size_t len = 0;
    napi_get_element(env, argv[0], i, &item);
    if (napi_get_value_string_utf8(env, item, path, sizeof path, &len) != napi_ok) continue;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h != NULL && dlsym(h, "cblas_sgemm") != NULL) {
      blas = h;
    } else {
      const char *why = h == NULL ? dlerror() : "no cblas_sgemm";
      if (h != NULL) dlclose(h);
      size_t used = strlen(tried);
      snprintf(tried + used, sizeof tried - used, "%s%s (%s)", used ? "; " : "", path, why ? why : "?");
    }
  }
  if (blas == NULL) {
    napi_throw_error(env, "HEED_NO_BLAS", tried);
    return NULL;
  }
  heed_sgemm = (heed_sgemm_fn)dlsym(blas, "cblas_sgemm");
  blas_set_threads = (void (*)(int))dlsym(blas, "openblas_set_num_threads");
  int (*get_parallel)(void) = (int (*)(void))dlsym(blas, "openblas_get_parallel");
  char *(*get_config)(void) = (char *(*)(void))dlsym(blas, "openblas_get_config");
  char *(*get_core)(void) = (char *(*)(void))dlsym(blas, "openblas_get_corename");
  heed_blas_openmp = get_parallel != NULL && get_parallel() == 2;
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "config", str(env, get_config ? get_config() : "unknown BLAS"));
  napi_set_named_property(env, out, "core", str(env, get_core ? get_core() : "unknown"));
  napi_set_named_property(env, out, "parallel", str(env, get_parallel == NULL ? "unknown" : get_parallel() == 2 ? "openmp" : get_parallel() == 1 ? "pthreads" : "sequential"));
  return out;
}

/* bind(view: Float32Array over the whole memory): the base every address is relative to. */
static napi_value bind(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void *data = NULL;
  if (argc < 1 || napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, &offset) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "heed_native.bind: expected a Float32Array over the heap memory");
    return NULL;
  }
  heed_base = (uint8_t *)data;
  heed_size = length * 4;
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  double v[1];
  if (!heed_args(env, info, 1, v, "setThreads")) return NULL;
  int n = v[0] < 1 ? 1 : (int)v[0];
  heed_threads = n;
  omp_set_num_threads(n);
  if (blas_set_threads) blas_set_threads(n);
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  napi_value r;
  napi_create_int32(env, heed_threads, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  heed_export(env, exports, "load", load);
  heed_export(env, exports, "bind", bind);
  heed_export(env, exports, "setThreads", set_threads);
  heed_export(env, exports, "threads", get_threads);
  heed_register_gemm(env, exports);
  heed_register_rows(env, exports);
  heed_register_adam(env, exports);
  heed_register_attention(env, exports);
  heed_register_program(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
