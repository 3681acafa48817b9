#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Packs what bench/gpu.sh needs on the GPU machine (which has no Node.js and no node_modules) into
# bench/.gpu/ (git-ignored), the one path to carry: an xz-compressed node binary, the built dist/
# of the packages the benchmarks import, the npm `webgpu` package with only its linux-x64
# dawn.node, the Vulkan loader, and the peers harness's lib/. Run here after `npm run build`:
#   bash bench/gpu-pack.sh && du -sh bench/.gpu      # must stay well under 64 MiB with the tree
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=bench/.gpu
rm -rf "$out" && mkdir -p "$out"
pkgs=(core backend-cpu backend-webgpu nn models train distributed)
for p in "${pkgs[@]}"; do
  [ -d "packages/$p/dist" ] || { [ "$p" = distributed ] || [ "$p" = train ] || [ "$p" = models ] && continue; echo "gpu-pack: packages/$p/dist missing: run npm run build" >&2; exit 1; }
done
present=()
for p in "${pkgs[@]}"; do [ -d "packages/$p/dist" ] && present+=("packages/$p/dist"); done
tar -cJf "$out/dists.tar.xz" "${present[@]}"
mkdir -p "$out/webgpu/dist/linux-x64"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$out/webgpu/dist/linux-x64/"
xz -T0 -6 -c "$out/webgpu/dist/linux-x64/dawn.node" >"$out/dawn.node.xz" && rm "$out/webgpu/dist/linux-x64/dawn.node"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" >"$out/node.xz"
for f in /usr/lib/x86_64-linux-gnu/libvulkan.so.1; do [ -e "$f" ] && cp -L "$f" "$out/"; done
mkdir -p "$out/peers-lib" && cp ../shared/peers/lib/*.mjs "$out/peers-lib/"
# Pure-JS runtime dependencies of the packaged workspaces (e.g. @heed/train's), when present.
for dep in commander cli-progress; do
  [ -d "node_modules/$dep" ] && mkdir -p "$out/deps" && cp -r "node_modules/$dep" "$out/deps/"
done
du -sh "$out"
