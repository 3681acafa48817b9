# SPDX-License-Identifier: MIT
# node-gyp build of heed_native.node, the native CPU kernels of @heed/backend-native. OpenBLAS is
# loaded at run time with dlopen (no BLAS headers or -lopenblas needed to build); OpenMP (libgomp)
# runs the kernels' own loops on the same thread team as the OpenMP build of OpenBLAS.
# Build offline: node native/build.mjs (node-gyp rebuild --nodedir=<node prefix>)
{
  "targets": [
    {
      "target_name": "heed_native",
      "sources": ["heed_native.c", "gemm.c", "small_gemm.c", "rows.c", "adam.c", "attention.c", "program.c"],
      "cflags": ["-std=gnu11", "-O3", "-fopenmp", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldl", "-lm"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
