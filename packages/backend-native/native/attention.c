// SPDX-License-Identifier: MIT
// Native attention kernels of heed_native.node (see native.h for the conventions).
#include "native.h"

void heed_register_attention(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
}
