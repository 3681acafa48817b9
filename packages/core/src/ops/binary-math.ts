// SPDX-License-Identifier: MIT
// The public binary math functions: thin, documented wrappers over `binary` in elementwise.ts
// (broadcasting, dtype promotion and gradients live there).
import type { Tensor } from '../tensor.js';
import { binary, unary } from './elementwise.js';
import type { TensorLike } from './operands.js';

/**
 * Elementwise `a + b` with broadcasting.
 *
 * @example
 * ```ts
 * add(tensor([1, 2]), 10); // [11, 12]
 * ```
 */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary('add', a, b);
}

/**
 * Elementwise `a - b` with broadcasting.
 *
 * @example
 * ```ts
 * sub(tensor([5]), tensor([1, 2])); // [4, 3]
 * ```
 */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary('sub', a, b);
}

/**
 * Elementwise `a * b` with broadcasting.
 *
 * @example
 * ```ts
 * mul(tensor([1, 2]), tensor([[3], [4]])); // [[3, 6], [4, 8]]
 * ```
 */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary('mul', a, b);
}

/**
 * Elementwise true division `a / b` (int inputs give float32).
 *
 * @example
 * ```ts
 * div(tensor([1, 3], { dtype: "int32" }), 2); // [0.5, 1.5]
 * ```
 */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary('div', a, b);
}

/**
 * Elementwise power `a ** b`.
 *
 * @example
 * ```ts
 * pow(tensor([2, 3]), 2); // [4, 9]
 * ```
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  // PyTorch computes x ** 0.5 as sqrt(x) (sqrt(-0) = -0 and sqrt(-inf) = NaN, where C pow gives +0 and +inf).
  if (b === 0.5 && typeof a !== 'number') return unary('sqrt', a);
  return binary('pow', a, b);
}

/**
 * Elementwise maximum (NaN propagates).
 *
 * @example
 * ```ts
 * maximum(tensor([1, 5]), 3); // [3, 5]
 * ```
 */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary('maximum', a, b);
}

/**
 * Elementwise minimum (NaN propagates).
 *
 * @example
 * ```ts
 * minimum(tensor([1, 5]), 3); // [1, 3]
 * ```
 */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary('minimum', a, b);
}

/**
 * Python-style remainder: the result has the sign of the divisor (torch.remainder).
 *
 * @example
 * ```ts
 * remainder(tensor([-3, 3]), 2); // [1, 1]
 * ```
 */
export function remainder(a: TensorLike, b: TensorLike): Tensor {
  return binary('mod', a, b);
}

/**
 * Elementwise `atan2(a, b)` (angle of the point (b, a)).
 *
 * @example
 * ```ts
 * atan2(tensor([1]), tensor([1])); // [0.785...]
 * ```
 */
export function atan2(a: TensorLike, b: TensorLike): Tensor {
  return binary('atan2', a, b);
}

/**
 * Elementwise `a == b` (bool result).
 *
 * @example
 * ```ts
 * eq(tensor([1, 2]), 2); // [false, true]
 * ```
 */
export function eq(a: TensorLike, b: TensorLike): Tensor {
  return binary('eq', a, b);
}

/**
 * Elementwise `a != b` (bool result).
 *
 * @example
 * ```ts
 * ne(tensor([1, 2]), 2); // [true, false]
 * ```
 */
export function ne(a: TensorLike, b: TensorLike): Tensor {
  return binary('ne', a, b);
}

/**
 * Elementwise `a < b` (bool result).
 *
 * @example
 * ```ts
 * lt(tensor([1, 2]), 2); // [true, false]
 * ```
 */
export function lt(a: TensorLike, b: TensorLike): Tensor {
  return binary('lt', a, b);
}

/**
 * Elementwise `a <= b` (bool result).
 *
 * @example
 * ```ts
 * le(tensor([1, 2]), 2); // [true, true]
 * ```
 */
export function le(a: TensorLike, b: TensorLike): Tensor {
  return binary('le', a, b);
}

/**
 * Elementwise `a > b` (bool result).
 *
 * @example
 * ```ts
 * gt(tensor([1, 2]), 1); // [false, true]
 * ```
 */
export function gt(a: TensorLike, b: TensorLike): Tensor {
  return binary('gt', a, b);
}

/**
 * Elementwise `a >= b` (bool result).
 *
 * @example
 * ```ts
 * ge(tensor([1, 2]), 2); // [false, true]
 * ```
 */
export function ge(a: TensorLike, b: TensorLike): Tensor {
  return binary('ge', a, b);
}

/**
 * Elementwise logical and of bool tensors.
 *
 * @example
 * ```ts
 * logicalAnd(x.gt(0), x.lt(1));
 * ```
 */
export function logicalAnd(a: TensorLike, b: TensorLike): Tensor {
  return binary('and', a, b);
}

/**
 * Elementwise logical or of bool tensors.
 *
 * @example
 * ```ts
 * logicalOr(x.lt(0), x.gt(1));
 * ```
 */
export function logicalOr(a: TensorLike, b: TensorLike): Tensor {
  return binary('or', a, b);
}

/**
 * Elementwise logical xor of bool tensors.
 *
 * @example
 * ```ts
 * logicalXor(a, b);
 * ```
 */
export function logicalXor(a: TensorLike, b: TensorLike): Tensor {
  return binary('xor', a, b);
}
