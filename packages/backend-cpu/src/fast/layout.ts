// SPDX-License-Identifier: MIT
// Layout analysis for the fast kernels: which strided views the WASM kernels can read in place.
// A binary operand, seen against the output shape [rows, n] (n = last dim), is one of
//   FULL (row-major contiguous), SCALAR (all strides 0), ROW (a length-n vector broadcast over
//   the rows) or COL (a length-rows vector broadcast along each row); anything else is NONE and
//   the reference kernel handles it. Dimensions of size 1 never matter. Contiguity and sizes
//   come from core's layout helpers (isContiguous, sizeOf), the one source for every backend.
import { HeedError, isContiguous, type StridedView } from '@heed/core';

/**
 * Operand modes, mirrored in asm/elementwise.ts.
 *
 * @example
 * ```ts
 * operandMode([4, 3], [0, 0]) === MODE.SCALAR; // true
 * ```
 */
export const MODE = { FULL: 0, SCALAR: 1, ROW: 2, COL: 3, NONE: -1 } as const;

/**
 * One of {@link MODE}'s values.
 *
 * @example
 * ```ts
 * const m: OperandMode = MODE.ROW;
 * ```
 */
export type OperandMode = (typeof MODE)[keyof typeof MODE];

/**
 * How a binary operand of the output `shape` maps onto the flat [rows, n] output.
 *
 * @example
 * ```ts
 * operandMode([4, 3], [0, 1]); // MODE.ROW  (a [3] bias broadcast over 4 rows)
 * operandMode([4, 3], [1, 0]); // MODE.COL  (a [4, 1] column broadcast)
 * ```
 */
export function operandMode(shape: readonly number[], strides: readonly number[]): OperandMode {
  const r = shape.length;
  let allZero = true;
  for (let d = 0; d < r; d++) if (shape[d] !== 1 && strides[d] !== 0) allZero = false;
  if (allZero) return MODE.SCALAR;
  if (isContiguous(shape, strides)) return MODE.FULL;
  const n = shape[r - 1];
  const last = strides[r - 1];
  let leadingZero = true;
  for (let d = 0; d < r - 1; d++) if (shape[d] !== 1 && strides[d] !== 0) leadingZero = false;
  if (leadingZero && (last === 1 || n === 1)) return MODE.ROW;
  if (n > 1 && last === 0 && isContiguous(shape.slice(0, r - 1), strides.slice(0, r - 1))) return MODE.COL;
  return MODE.NONE;
}

/**
 * Whether a view is float32 and row-major contiguous (offset allowed).
 *
 * @example
 * ```ts
 * isDenseF32(view);
 * ```
 */
export function isDenseF32(v: StridedView): boolean {
  return v.dtype === 'float32' && isContiguous(v.shape, v.strides);
}

/**
 * Splits `total` work items into blocks for `threads` threads: about four blocks per thread,
 * each a multiple of `align` and at least `minBlock` items. Returns the block size.
 *
 * @example
 * ```ts
 * blockSize(1 << 20, 2, 64, 4096); // 131072
 * ```
 */
export function blockSize(total: number, threads: number, align: number, minBlock: number): number {
  if (threads <= 1) return Math.max(1, total);
  const per = Math.ceil(total / (threads * 4));
  return Math.max(minBlock, Math.ceil(per / align) * align);
}

/**
 * Throws a HeedError when a float argument is not finite (used for kernel scalars).
 *
 * @example
 * ```ts
 * checkFinite('layerNorm', 'eps', 1e-5);
 * ```
 */
export function checkFinite(op: string, name: string, value: number): void {
  if (!Number.isFinite(value)) throw new HeedError(op, `${name} must be a finite number, got ${value}.`);
}
