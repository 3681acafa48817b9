#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One run comparing the candidate kernel libraries of the native CPU path (ADR 0005) on fp32
# square matmul with 2 threads: OpenBLAS (OpenMP and pthreads builds, Debian), oneDNN's sgemm
# (Debian libdnnl), onnxruntime-node's MatMul (MLAS, from the peers harness), numpy's bundled
# OpenBLAS (the harness's native reference), and Heed: WASM SIMD and the native path.
# Usage (after npm run build): bash bench/native/gemm-libs.sh [sizes, default "512 1024 2048"]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PEERS=${PEERS_DIR:-$REPO/../shared/peers}
SIZES=${*:-512 1024 2048}
LIB=/usr/lib/x86_64-linux-gnu
BIN=$(mktemp -d)/gemm_libs
cc -O2 "$HERE/gemm_libs.c" -o "$BIN" -ldl
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
for v in openblas-openmp openblas-pthread; do
  [ -e "$LIB/$v/libopenblas.so.0" ] && "$BIN" "$LIB/$v/libopenblas.so.0" openblas $SIZES
done
[ -e "$LIB/libdnnl.so.2" ] && "$BIN" "$LIB/libdnnl.so.2" dnnl $SIZES
# onnxruntime-node: the harness's install, else the copy run-with-peers.sh keeps in bench/.peers-cache
ORT_DIR=$PEERS
if [ ! -d "$PEERS/node_modules/onnxruntime-node" ] && [ -d "$REPO/bench/.peers-cache/node_modules/onnxruntime-node" ]; then
  ORT_DIR=$(mktemp -d) && cp -r "$PEERS"/bench "$PEERS"/lib "$PEERS"/package.json "$ORT_DIR"/ && ln -s "$REPO/bench/.peers-cache/node_modules" "$ORT_DIR/node_modules"
fi
if [ -d "$ORT_DIR/node_modules/onnxruntime-node" ]; then
  (cd "$ORT_DIR" && node bench/ops_ort.mjs --ep=cpu --threads=2 --op=matmul | grep RESULT || true)
fi
python3 "$PEERS/native/numpy_ref.py" --label=numpy-t2 --sizes="${SIZES// /,}" --no-extra 2>/dev/null | grep RESULT || true
node "$REPO/bench/ops_heed.mjs" --op=matmul --threads=2 | grep RESULT
node "$REPO/bench/ops_heed.mjs" --op=matmul --threads=2 --native | grep RESULT
