# SPDX-License-Identifier: MIT
# node-gyp build of heed_mpi.node, the Node-API binding to Open MPI used by @heed/distributed's
# 'mpi' transport. Compiler and linker flags come from `mpicc --showme:*` (Debian libopenmpi-dev).
# Build offline: node /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=/usr
{
  "targets": [
    {
      "target_name": "heed_mpi",
      "sources": ["mpi.c"],
      "cflags": ["-std=c11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-format-truncation", "<!@(mpicc --showme:compile)"],
      "libraries": ["<!@(mpicc --showme:link)", "-ldl", "-lpthread"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
