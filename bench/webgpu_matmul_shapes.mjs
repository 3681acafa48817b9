// SPDX-License-Identifier: MIT
// The training step's matmul shapes on WebGPU (SwiftShader here): device milliseconds and
// GFLOP/s of `matmul` alone, of `matmul` then the bias-add program through `elementwise` (two
// dispatches, what lazy execution runs without the fused kernel) and of `matmulElementwise`
// (one dispatch), for plain, A^T and B^T operands. Each case: 3 calls per submit, best of 5.
// usage: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json chrt -r 10 node bench/webgpu_matmul_shapes.mjs
import { createWebGPUBackend } from '@heed/backend-webgpu';

const be = await createWebGPUBackend({});
// [B, M, N, K]: q/k/v/o projections, FFN up, FFN down, their backward products, attention
const shapes = [[1, 512, 128, 128], [1, 512, 512, 128], [1, 512, 128, 512], [1, 128, 128, 512], [32, 64, 64, 32], [32, 64, 32, 64]];
const f32 = 'float32';

function operand(B, rows, cols, transposed) {
  const vals = Float32Array.from({ length: B * rows * cols }, (_, i) => ((i * 7919) % 17) / 8 - 1);
  return { data: be.upload(vals, f32), dtype: f32, shape: [B, rows, cols], offset: 0, strides: transposed ? [rows * cols, 1, rows] : [rows * cols, cols, 1] };
}

/** Best milliseconds of one call of `run()` (which records work and returns the DataIds it made). */
async function time(run) {
  const settle = async (ids) => { await be.read(ids[0], f32, 1); for (const id of ids) be.free(id); };
  await settle(run());
  let best = Infinity;
  for (let t = 0; t < 5; t++) {
    const t0 = performance.now();
    for (let r = 0; r < 2; r++) for (const id of run()) be.free(id);
    await settle(run());
    best = Math.min(best, (performance.now() - t0) / 3);
  }
  return best;
}

const inp = (input) => ({ op: 'input', input, dtype: f32 });
console.log('shape | matmul ms (GFLOP/s) | matmul + elementwise ms | matmulElementwise ms');
for (const [B, M, N, K] of shapes) {
  for (const [ta, tb] of [[false, false], [true, false], [false, true]]) {
    const a = operand(B, M, K, ta), b = operand(B, K, N, tb);
    const bias = { data: be.upload(new Float32Array(N).fill(0.25), f32), dtype: f32, shape: [B, M, N], strides: [0, 0, 1], offset: 0 };
    const program = { shape: [B, M, N], exprs: [inp(0), inp(1), { op: 'binary', fn: 'add', a: 0, b: 1, dtype: f32 }], outputs: [2] };
    const mm = await time(() => [be.matmul(a, b)]);
    const separate = await time(() => {
      const p = be.matmul(a, b);
      const out = be.elementwise(program, [{ data: p, dtype: f32, shape: [B, M, N], strides: [M * N, N, 1], offset: 0 }, bias]);
      return [...out, p];
    });
    const fused = await time(() => be.matmulElementwise(a, b, program, [null, bias]));
    const gf = (2 * B * M * N * K) / mm / 1e6;
    console.log(`${B}x[${M}x${K}]${ta ? 'T' : ' '}·[${K}x${N}]${tb ? 'T' : ' '} | ${mm.toFixed(2)} (${gf.toFixed(2)}) | ${separate.toFixed(2)} | ${fused.toFixed(2)}`);
  }
}
process.exit(0);
