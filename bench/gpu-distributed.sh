#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The distributed part of the GPU machine's run (issue #16), called by bench/gpu.sh with NODE (the
# carried node binary) and GPU_SMOKE, or alone. In about 80 s (gpu.sh gives it 90): all-reduce
# bandwidth at 2/4/8 ranks vs memcpy; samples/s of the synthetic data-parallel step
# (bench/ddp_heed.mjs: fixed per-rank batch, gradients averaged by one bucketed all-reduce) at
# 1/2/4/8 CPU ranks, each with cores / ranks CPU threads (target: >= 80% efficiency at 8); the
# same step with 1 vs 2 ranks sharing the WebGPU adapter; and translate-numbers `--ranks N`
# samples/s when its dependencies (n2words, vega: not in bench/.gpu) are installed.
# Needs only the built dists of core, backend-cpu, backend-webgpu and distributed.
# usage: bash bench/gpu-distributed.sh     (small settings: GPU_SMOKE=1 bash bench/gpu-distributed.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
NODE="${NODE:-$(command -v node)}"
smoke="${GPU_SMOKE:-}"
if [ -n "$smoke" ]; then
  ar_ranks=2; ar_sizes=1,4; ranks=1,2; gpu_ranks=1,2; shape=(--width=128 --depth=2 --batch=32 --steps=3 --warmup=1); tn_ranks="1 2"
else
  ar_ranks=2,4,8; ar_sizes=4,16,64; ranks=1,2,4,8; gpu_ranks=1,2; shape=(--width=1024 --depth=4 --batch=128 --steps=8 --warmup=3); tn_ranks="1 2 4 8"
fi
echo "# gpu-distributed: $(date -u +%FT%TZ) cpus $(nproc) node $("$NODE" --version)${smoke:+ (smoke settings)}"

section() { # label, timeout seconds, command...
  local label="$1" t="$2"; shift 2
  echo "## $label"
  timeout "$t" "$@" 2>&1 || echo "# $label: exit status $? (timeout $t s)"
}
section "all-reduce bandwidth" 20 "$NODE" bench/allreduce_heed.mjs --ranks="$ar_ranks" --sizes="$ar_sizes" --reps=3 --json
section "ddp step, CPU ranks" 30 "$NODE" bench/ddp_heed.mjs --backend=cpu --ranks="$ranks" "${shape[@]}" --json
section "ddp step, WebGPU ranks sharing one adapter" 25 "$NODE" bench/ddp_heed.mjs --backend=webgpu --ranks="$gpu_ranks" "${shape[@]}" --json

# translate-numbers (engineer D's --ranks): only where @heed/train/node and n2words resolve.
if "$NODE" --input-type=module -e "await import('@heed/train/node'); await import('n2words/de-DE');" >/dev/null 2>&1; then
  echo "## translate-numbers --ranks (quick, 4 steps, dropout 0)"
  for n in $tn_ranks; do
    out="$(mktemp -d)"
    timeout 40 "$NODE" examples/translate-numbers/train.mjs --quick --ranks "$n" --steps 4 --dropout 0 --quiet --force --out "$out" >/dev/null 2>&1 &&
      "$NODE" -e "const s=require('$out/summary.json'); console.log('RESULT '+JSON.stringify({suite:'translate-numbers', ranks:$n, samplesPerSecond:s.samplesPerSecond, tokensPerSecond:s.tokensPerSecond}))" ||
      echo "# translate-numbers --ranks $n: failed or timed out"
    rm -rf "$out"
  done
else
  echo "# translate-numbers: skipped (@heed/train/node or n2words does not resolve here; bench/.gpu carries neither vega nor n2words)"
fi
