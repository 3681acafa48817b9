// SPDX-License-Identifier: MIT
// The one error type Heed throws for bad input, and helpers that format shapes and dtypes.
// Invariant: every message names the op, the offending shapes/dtypes and how to fix it.

/**
 * Error raised for invalid use of an op. `op` names the operation that rejected its input.
 *
 * @example
 * ```ts
 * try { add(zeros([2]), zeros([3])); } catch (e) { if (e instanceof HeedError) console.log(e.op); }
 * ```
 */
export class HeedError extends Error {
  /** The op that raised the error, e.g. `'matmul'`. */
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'HeedError';
    this.op = op;
  }
}

/**
 * Formats a shape as `[2, 3]` for error messages.
 *
 * @example
 * ```ts
 * fmtShape([2, 3]); // '[2, 3]'
 * ```
 */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Throws a {@link HeedError} for `op` when `condition` is false.
 *
 * @example
 * ```ts
 * check(axis < rank, 'sum', `axis ${axis} is out of range for rank ${rank}`);
 * ```
 */
export function check(condition: boolean, op: string, message: string | (() => string)): asserts condition {
  if (!condition) throw new HeedError(op, typeof message === 'function' ? message() : message);
}
