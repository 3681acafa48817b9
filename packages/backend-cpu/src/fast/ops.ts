// SPDX-License-Identifier: MIT
// Numeric ids shared with the WASM module (asm/jobs.ts, asm/elementwise.ts, asm/rows.ts):
// kernel kinds, binary/unary/reduce op ids, and the argument-slot layouts of each kind.
// Changing one side without the other is a bug the fast-vs-reference tests catch.
import type { BinaryOp, UnaryOp } from '@heed/core';

/**
 * Kernel kinds of asm/jobs.ts.
 *
 * @example
 * ```ts
 * rt.run(KIND.GEMM, blocks, true);
 * ```
 */
export const KIND = {
  GEMM: 0, BINARY: 1, UNARY: 2, SOFTMAX: 3, LAYERNORM: 4, REDUCE_ROWS: 5, REDUCE_COLS: 6, ADAM: 7, COPY: 8,
} as const;

/**
 * Binary primitives with a fast float32 kernel, and their ids.
 *
 * @example
 * ```ts
 * FAST_BINARY.add; // 0
 * ```
 */
export const FAST_BINARY: { readonly [K in BinaryOp]?: number } = {
  add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5,
};

/**
 * Unary primitives with a fast float32 kernel, and their ids.
 *
 * @example
 * ```ts
 * FAST_UNARY.relu; // 6
 * ```
 */
export const FAST_UNARY: { readonly [K in UnaryOp]?: number } = {
  neg: 0, abs: 1, sqrt: 2, rsqrt: 3, square: 4, reciprocal: 5, relu: 6, exp: 7, tanh: 8, sigmoid: 9,
};

/**
 * Unary id of GELU, tanh form (fused kernel).
 *
 * @example
 * ```ts
 * rt.setI(0, GELU_TANH);
 * ```
 */
export const GELU_TANH = 10;
/**
 * Unary id of GELU, exact (erf) form (fused kernel).
 *
 * @example
 * ```ts
 * rt.setI(0, GELU_ERF);
 * ```
 */
export const GELU_ERF = 11;

/**
 * Reduce op ids of asm/rows.ts.
 *
 * @example
 * ```ts
 * REDUCE.sum; // 0
 * ```
 */
export const REDUCE = { sum: 0, max: 1 } as const;

/**
 * Below this many elements an elementwise job runs on one thread.
 *
 * @example
 * ```ts
 * const threads = size >= PARALLEL_ELEMENTS ? rt.threads : 1;
 * ```
 */
export const PARALLEL_ELEMENTS = 1 << 17;
/**
 * Below this many multiply-adds (m*n*k*batch) a GEMM runs on one thread.
 *
 * @example
 * ```ts
 * const threads = b * m * n * k >= PARALLEL_MACS ? rt.threads : 1;
 * ```
 */
export const PARALLEL_MACS = 1 << 18;
