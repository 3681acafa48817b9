#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs Heed's benchmarks inside the peers harness (../shared/peers), so Heed appears beside
# tfjs, jax-js, onnxruntime and numpy in ONE run and one table.
#   1. copies the harness (read-only in shared/) to a temp dir;
#   2. gives the copy node_modules: the harness's own if installed, else bench/.peers-cache
#      (installed once with the harness's exact lock file, `npm ci` as in its install.sh);
#   3. writes extra-configs.txt with Heed's configurations (absolute paths to bench/*.mjs);
#   4. runs its run-all.sh with ONLY / RUNS / SKIP_WEBGPU from the environment, prints the table
#      (and the compact --pivot view), and keeps the results under bench/results/<UTC time>/.
# Usage (build first: npm ci && npm run build):
#   bench/run-with-peers.sh                                   # everything, 3 runs (~30+ min)
#   ONLY='matmul|elementwise|softmax|^train\.' RUNS=3 SKIP_WEBGPU=1 bench/run-with-peers.sh
#   HEED_ONLY=1 RUNS=1 bench/run-with-peers.sh                # only Heed's configurations
# Environment: PEERS_DIR (harness location), HEED_PLAIN_SIMD=0 (skip the plain-SIMD configs),
# HEED_NATIVE=0 (skip the native CPU path), PEERS_PY (a Python with torch 2 + jax: PyTorch/JAX rows),
# SPEC_B/T/D/F (the training step's size, read by every peer).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

PEERS_SRC=${PEERS_DIR:-}
if [ -z "$PEERS_SRC" ]; then
  for c in "$REPO/../shared/peers" "/work/shared/peers"; do
    if [ -f "$c/run-all.sh" ]; then PEERS_SRC=$(cd "$c" && pwd); break; fi
  done
fi
[ -n "$PEERS_SRC" ] || { echo "run-with-peers: cannot find the peers harness (set PEERS_DIR)" >&2; exit 1; }
for f in packages/core/dist/index.js packages/backend-cpu/dist/index.js; do
  [ -f "$REPO/$f" ] || { echo "run-with-peers: $f is missing; run 'npm run build' first" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/heed-peers.XXXXXX")
cp -r "$PEERS_SRC"/. "$WORK"/
chmod -R u+w "$WORK"
rm -rf "$WORK/node_modules" "$WORK/results" "$WORK/extra-configs.txt"

if [ -d "$PEERS_SRC/node_modules" ]; then
  ln -s "$PEERS_SRC/node_modules" "$WORK/node_modules"
else
  CACHE="$HERE/.peers-cache"
  if [ ! -d "$CACHE/node_modules" ] || ! cmp -s "$PEERS_SRC/package-lock.json" "$CACHE/package-lock.json"; then
    echo "run-with-peers: installing the peers' packages into $CACHE (once)" >&2
    rm -rf "$CACHE" && mkdir -p "$CACHE"
    cp "$PEERS_SRC/package.json" "$PEERS_SRC/package-lock.json" "$CACHE/"
    # same as the harness's install.sh: onnxruntime-node's postinstall would fetch CUDA bits
    (cd "$CACHE" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
  fi
  ln -s "$CACHE/node_modules" "$WORK/node_modules"
fi

OPS="node $HERE/ops_heed.mjs"
TRAIN="node $HERE/train_heed.mjs"
{
  echo "# Heed (added by bench/run-with-peers.sh): name | timeout_s | needs_webgpu | command"
  echo "heed-cpu.matmul          | 900 | 0 | $OPS --backend=cpu --op=matmul"
  echo "heed-cpu.elementwise     | 300 | 0 | $OPS --backend=cpu --op=elementwise"
  echo "heed-cpu.softmax         | 300 | 0 | $OPS --backend=cpu --op=softmax"
  echo "train.heed-cpu           | 600 | 0 | $TRAIN --backend=cpu"
  echo "train.heed-cpu.fused     | 600 | 0 | $TRAIN --backend=cpu --fused --adam=step"
  echo "train.heed-cpu.adamstep  | 600 | 0 | $TRAIN --backend=cpu --adam=step"
  # Lazy execution (core's LazyBackend): elementwise chains as generated WASM SIMD programs.
  echo "heed-cpu-lazy.elementwise | 300 | 0 | $OPS --backend=cpu --lazy --op=elementwise"
  echo "heed-cpu-lazy.softmax    | 300 | 0 | $OPS --backend=cpu --lazy --op=softmax"
  echo "train.heed-cpu-lazy      | 600 | 0 | $TRAIN --backend=cpu --lazy"
  # Compiled steps (core's compile(): the step's kernel schedule replayed, buffers donated).
  echo "train.heed-cpu-compile   | 600 | 0 | $TRAIN --backend=cpu --compile"
  echo "train.heed-cpu-lazy-compile | 600 | 0 | $TRAIN --backend=cpu --lazy --compile"
  # The native CPU path (@heed/backend-native: OpenBLAS + OpenMP kernels on the same heap),
  # when its addon is built and OpenBLAS is installed.
  if [ -f "$REPO/packages/backend-native/dist/index.js" ] && [ "${HEED_NATIVE:-1}" != 0 ]; then
    echo "heed-cpu-native.matmul   | 900 | 0 | $OPS --backend=cpu --native --op=matmul"
    echo "heed-cpu-native.softmax  | 300 | 0 | $OPS --backend=cpu --native --op=softmax"
    echo "train.heed-cpu-native    | 600 | 0 | $TRAIN --backend=cpu --native"
    echo "train.heed-cpu-native-lazy | 600 | 0 | $TRAIN --backend=cpu --native --lazy"
    echo "train.heed-cpu-native-compile | 600 | 0 | $TRAIN --backend=cpu --native --compile"
    echo "train.heed-cpu-native-lazy-compile | 600 | 0 | $TRAIN --backend=cpu --native --lazy --compile"
  fi
  # The default CPU build is relaxed SIMD (FMA; enabled by the backend itself on Node 20);
  # these force the plain-SIMD build (mul + add) for comparison.
  if [ "${HEED_PLAIN_SIMD:-1}" != 0 ]; then
    echo "heed-cpu-simd.matmul     | 900 | 0 | $OPS --backend=cpu --simd=simd --op=matmul"
    echo "train.heed-cpu-simd      | 600 | 0 | $TRAIN --backend=cpu --simd=simd"
  fi
  if [ -f "$REPO/packages/backend-webgpu/dist/index.js" ]; then
    echo "heed-webgpu.matmul       | 900 | 1 | $OPS --backend=webgpu --op=matmul"
    echo "heed-webgpu.elementwise  | 300 | 1 | $OPS --backend=webgpu --op=elementwise"
    echo "heed-webgpu.softmax      | 300 | 1 | $OPS --backend=webgpu --op=softmax"
    echo "train.heed-webgpu        | 900 | 1 | $TRAIN --backend=webgpu"
    echo "train.heed-webgpu.fused  | 900 | 1 | $TRAIN --backend=webgpu --fused --adam=step"
    echo "heed-webgpu-lazy.elementwise | 300 | 1 | $OPS --backend=webgpu --lazy --op=elementwise"
    echo "heed-webgpu-lazy.softmax | 300 | 1 | $OPS --backend=webgpu --lazy --op=softmax"
    echo "train.heed-webgpu-lazy   | 900 | 1 | $TRAIN --backend=webgpu --lazy"
    echo "train.heed-webgpu-lazy-compile | 900 | 1 | $TRAIN --backend=webgpu --lazy --compile"
  fi
} > "$WORK/extra-configs.txt"

if [ "${HEED_ONLY:-0}" = 1 ]; then
  # keep the harness but list only Heed's configurations
  grep -v '^[a-z]' "$WORK/configs.txt" > "$WORK/configs.tmp" || true
  mv "$WORK/configs.tmp" "$WORK/configs.txt"
fi

echo "run-with-peers: harness copy in $WORK; ONLY=${ONLY:-.} RUNS=${RUNS:-3} SKIP_WEBGPU=${SKIP_WEBGPU:-0}" >&2
ONLY=${ONLY:-.} RUNS=${RUNS:-3} SKIP_WEBGPU=${SKIP_WEBGPU:-0} bash "$WORK/run-all.sh"
LATEST=$(cat "$WORK/results/LATEST")
(cd "$WORK" && node report.mjs "$LATEST" --pivot | sed -n '/^Compact view/,$p')
DEST="$HERE/results/$(basename "$LATEST")"
mkdir -p "$HERE/results"
cp -r "$WORK/$LATEST" "$DEST"
cp "$WORK/extra-configs.txt" "$DEST/"
echo "run-with-peers: results kept in $DEST" >&2
