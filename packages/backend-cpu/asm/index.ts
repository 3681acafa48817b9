// SPDX-License-Identifier: MIT
// Entry point of the WASM kernel module (AssemblyScript). scripts/build-wasm.mjs compiles it
// twice: with plain SIMD (mul + add) and with relaxed SIMD (fused multiply-add); the loader
// picks the relaxed build only where the engine validates it. The memory is imported
// (`env.memory`, shared when threads are available) and owned by the JS heap allocator:
// every export takes byte addresses into it and allocates nothing.
export { execBlock, runLocal, runShared, workerLoop } from './jobs';
export { zeroFill, GEMM_SCRATCH_BYTES, MR, NR, KC, MC, NB_MAX } from './gemm';
export { vexp4, vtanh4, vsigmoid4 } from './vexports';
