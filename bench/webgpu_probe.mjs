// SPDX-License-Identifier: MIT
// Probes what a WebGPU adapter can do, to explain the backend's numbers: (1) ALU throughput
// of a register-only loop, plain and unrolled; (2) the cost of a storage-buffer load per
// invocation (scalar, vec4, same address in every invocation); (3) Heed's matmul variants
// (forced through debug.forceMatmulVariant) on the shapes of the transformer training step.
// On SwiftShader (CPU-emulated Vulkan) it shows why the training step cannot get much faster:
// every load is a per-lane gather and matmul stays near 1.5-2 GFLOP/s whatever the blocking.
// usage: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/webgpu_probe.mjs [--info-only]
import { createWebGPUBackend } from '@heed/backend-webgpu';
import { openDevice, timeKernel } from './webgpu_timing.mjs';

const { gpu, adapter, device } = await openDevice(); // keep `gpu` referenced: Dawn tears the device down when it is collected
console.log(`adapter: ${adapter.info.vendor} ${adapter.info.architecture} ${adapter.info.description}`);
if (process.argv.includes('--info-only')) process.exit(0); // bench/gpu.sh: just name the adapter

const STORAGE = 0x80;
const out = device.createBuffer({ size: 1 << 20, usage: STORAGE });
const src = device.createBuffer({ size: 1 << 22, usage: STORAGE });
const rep = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join(' ');

// (1) ALU: 16 independent multiply-adds per iteration, 1000 iterations, 64 x 64 invocations.
for (const unroll of [1, 8]) {
  const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let x = f32(g.x) * 1e-6; let y = 0.999;
  ${rep(16, (i) => `var c${i} = x + ${i}.0;`)}
  for (var k = 0u; k < ${1000 / unroll}u; k++) { ${rep(unroll, () => rep(16, (i) => `c${i} = c${i} * y + x;`))} }
  o[g.x] = ${rep(16, (i) => `c${i}`).replaceAll(' ', ' + ')};
}`;
  const ms = await timeKernel(device, code, [out], 64);
  console.log(`ALU loop (unroll ${unroll}): ${((2 * 16 * 1000 * 64 * 64) / ms / 1e6).toFixed(1)} GFLOP/s`);
}

// (2) Loads: 4 floats per step (4 scalar loads or 1 vec4 load), 256 steps, 64 x 64 invocations.
const loads = {
  'scalar, per-invocation address': ['array<f32>', (u) => `let o = g.x + (k * 8u + ${u}u) * 64u; s += X[o] + X[o + 1u] + X[o + 2u] + X[o + 3u];`],
  'vec4, per-invocation address': ['array<vec4<f32>>', (u) => `let v = X[g.x + (k * 8u + ${u}u) * 64u]; s += v.x + v.y + v.z + v.w;`],
  'scalar, same address everywhere': ['array<f32>', (u) => `let o = (k * 8u + ${u}u) * 4u; s += X[o] + X[o + 1u] + X[o + 2u] + X[o + 3u];`],
};
for (const [name, [type, body]] of Object.entries(loads)) {
  const code = `@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<storage, read> X: ${type};
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  var s = 0.0;
  for (var k = 0u; k < 32u; k++) { ${rep(8, (u) => `{ ${body(u)} }`)} }
  o[g.x] = s;
}`;
  const ms = await timeKernel(device, code, [out, src], 64);
  console.log(`load (${name}): ${((ms * 1e6) / (4 * 256 * 64 * 64)).toFixed(2)} ns per float per invocation`);
}

// (3) Heed's matmul variants on the training step's shapes.
const shapes = [[1, 512, 128, 128], [1, 512, 512, 128], [1, 128, 128, 512], [32, 64, 64, 32]];
for (const variant of ['naive', 'blocked', 'tiled']) {
  const be = await createWebGPUBackend({ device, debug: { forceMatmulVariant: variant } });
  const cells = [];
  for (const [B, M, N, K] of shapes) {
    const view = (rows, cols) => ({
      data: be.upload(new Float32Array(B * rows * cols).fill(0.5), 'float32'), dtype: 'float32',
      shape: [B, rows, cols], strides: [rows * cols, cols, 1], offset: 0,
    });
    const a = view(M, K), b = view(K, N);
    await be.read(be.matmul(a, b), 'float32', 1);
    let best = Infinity;
    for (let t = 0; t < 3; t++) {
      const t0 = performance.now();
      for (let r = 0; r < 3; r++) be.free(be.matmul(a, b));
      await be.read(be.matmul(a, b), 'float32', 1);
      best = Math.min(best, (performance.now() - t0) / 4);
    }
    cells.push(`${B}x${M}x${N}x${K} ${((2 * B * M * N * K) / best / 1e6).toFixed(2)}`);
  }
  console.log(`matmul ${variant.padEnd(7)} GFLOP/s: ${cells.join(' | ')}`);
}
process.exit(0);
