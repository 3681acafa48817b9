#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one prepared script for a machine with a real GPU (see the developers' guide: an NVIDIA H200
# is sometimes lent, with no Node.js on it). Unpacks bench/.gpu/ (made here by bench/gpu-pack.sh
# and carried), then in under 4 minutes reports: fp32 matmul 1024-8192 GFLOP/s on WebGPU (and the
# CPU at 1024-2048 for scale), the transformer-layer training step of the peers' spec at its size
# and at 8x width, eager and compiled (`--compile`: core's compile() replaying the step), and the distributed benchmarks when
# bench/gpu-distributed.sh exists. Every figure is a `RESULT {json}` line, also written to
# $OUT/gpu-results.txt (or bench/results/gpu.txt without $OUT).
# usage (device): bash bench/gpu.sh          (local smoke test: GPU_SMOKE=1 bash bench/gpu.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pack=bench/.gpu
[ -d "$pack" ] || { echo "gpu.sh: $pack missing: run bash bench/gpu-pack.sh here and carry bench/.gpu" >&2; exit 1; }
results="${OUT:-bench/results}/gpu-results.txt"; mkdir -p "$(dirname "$results")"; : >"$results"
smoke="${GPU_SMOKE:-}"

# Node: the one on PATH, else the carried binary.
NODE="$(command -v node || true)"
if [ -z "$NODE" ] || [ -n "$smoke" ]; then
  mkdir -p /tmp/heed-gpu && [ -x /tmp/heed-gpu/node ] || { xz -dc "$pack/node.xz" >/tmp/heed-gpu/node && chmod +x /tmp/heed-gpu/node; }
  NODE=/tmp/heed-gpu/node
fi
# Built packages and a minimal node_modules (only when the tree has none).
tar -xJf "$pack/dists.tar.xz"
if [ ! -e node_modules/@heed/core ]; then
  mkdir -p node_modules/@heed
  for p in packages/*/; do n="$(basename "$p")"; [ -d "$p/dist" ] && ln -sfn "../../$p" "node_modules/@heed/$n"; done
  ln -sfn ../bench node_modules/@heed/bench
  cp -r "$pack/webgpu" node_modules/webgpu
  xz -dc "$pack/dawn.node.xz" >node_modules/webgpu/dist/linux-x64/dawn.node
  [ -d "$pack/deps" ] && cp -r "$pack/deps/"* node_modules/
fi
[ -d ../shared/peers/lib ] || { mkdir -p ../shared/peers && cp -r "$pack/peers-lib" ../shared/peers/lib; }
# Vulkan: the machine's loader, else the carried one; NVIDIA's ICD when present.
if ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then export LD_LIBRARY_PATH="$PWD/$pack${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
  [ -z "$smoke" ] && [ -f "$icd" ] && export VK_ICD_FILENAMES="$icd" && break
done
export VK_ICD_FILENAMES="${VK_ICD_FILENAMES:-/usr/lib/chromium/vk_swiftshader_icd.json}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-heed}"; mkdir -p "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
{ echo "# $(date -u +%FT%TZ) node $("$NODE" --version) cpus $(nproc) VK_ICD_FILENAMES=$VK_ICD_FILENAMES"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "# no nvidia-smi"; } | tee -a "$results"

run() { # label, timeout seconds, command...
  local label="$1" t="$2"; shift 2
  echo "## $label" | tee -a "$results"
  timeout "$t" "$@" 2>&1 | tee -a "$results" | grep -E '^(RESULT|adapter|Error|error|#)' || true
}
if [ -n "$smoke" ]; then sizes=256,512; cpu_sizes=256; widths="128:512"; else sizes=1024,2048,4096,8192; cpu_sizes=1024,2048; widths="128:512 1024:4096"; fi
run "webgpu adapter" 30 "$NODE" bench/webgpu_probe.mjs --info-only
run "matmul webgpu" 70 "$NODE" bench/gpu_matmul.mjs --backend=webgpu --sizes="$sizes"
run "matmul cpu" 40 "$NODE" bench/gpu_matmul.mjs --backend=cpu --sizes="$cpu_sizes"
for w in $widths; do
  d="${w%%:*}" f="${w##*:}"
  for b in webgpu cpu; do
    [ "$b" = cpu ] && [ "$d" != 128 ] && continue   # 8x width on 16 CPU cores exceeds the budget
    SPEC_D="$d" SPEC_F="$f" run "train step D=$d F=$f $b eager" 40 "$NODE" bench/train_heed.mjs --backend="$b" --adam=step
    SPEC_D="$d" SPEC_F="$f" run "train step D=$d F=$f $b compiled" 40 "$NODE" bench/train_heed.mjs --backend="$b" --adam=step --compile
  done
done
[ -f bench/gpu-distributed.sh ] && run "distributed" 90 env NODE="$NODE" GPU_SMOKE="$smoke" bash bench/gpu-distributed.sh
echo "gpu.sh: results in $results"
