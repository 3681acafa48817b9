// SPDX-License-Identifier: MIT
// Native adam kernels of heed_native.node (see native.h for the conventions).
#include "native.h"

void heed_register_adam(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
