// SPDX-License-Identifier: MIT
// The public unary math functions: thin, documented wrappers over `unary` in elementwise.ts
// (dtype rules and gradients live there).
import type { Tensor } from '../tensor.js';
import { unary } from './elementwise.js';

/**
 * Negation, `-x`.
 *
 * @example
 * ```ts
 * neg(tensor([1, -2])); // [-1, 2]
 * ```
 */
export function neg(x: Tensor): Tensor {
  return unary('neg', x);
}

/**
 * Absolute value.
 *
 * @example
 * ```ts
 * abs(tensor([-1, 2])); // [1, 2]
 * ```
 */
export function abs(x: Tensor): Tensor {
  return unary('abs', x);
}

/**
 * Sign: -1, 0 or 1.
 *
 * @example
 * ```ts
 * sign(tensor([-3, 0, 2])); // [-1, 0, 1]
 * ```
 */
export function sign(x: Tensor): Tensor {
  return unary('sign', x);
}

/**
 * Exponential, e^x.
 *
 * @example
 * ```ts
 * exp(tensor([0, 1])); // [1, 2.718...]
 * ```
 */
export function exp(x: Tensor): Tensor {
  return unary('exp', x);
}

/**
 * `exp(x) - 1`, accurate near 0.
 *
 * @example
 * ```ts
 * expm1(tensor([1e-8])); // [1e-8]
 * ```
 */
export function expm1(x: Tensor): Tensor {
  return unary('expm1', x);
}

/**
 * Natural logarithm.
 *
 * @example
 * ```ts
 * log(tensor([1, Math.E])); // [0, 1]
 * ```
 */
export function log(x: Tensor): Tensor {
  return unary('log', x);
}

/**
 * `log(1 + x)`, accurate near 0.
 *
 * @example
 * ```ts
 * log1p(tensor([1e-8])); // [1e-8]
 * ```
 */
export function log1p(x: Tensor): Tensor {
  return unary('log1p', x);
}

/**
 * Square root.
 *
 * @example
 * ```ts
 * sqrt(tensor([4, 9])); // [2, 3]
 * ```
 */
export function sqrt(x: Tensor): Tensor {
  return unary('sqrt', x);
}

/**
 * Reciprocal square root, `1 / sqrt(x)`.
 *
 * @example
 * ```ts
 * rsqrt(tensor([4])); // [0.5]
 * ```
 */
export function rsqrt(x: Tensor): Tensor {
  return unary('rsqrt', x);
}

/**
 * `x * x`.
 *
 * @example
 * ```ts
 * square(tensor([3])); // [9]
 * ```
 */
export function square(x: Tensor): Tensor {
  return unary('square', x);
}

/**
 * `1 / x`.
 *
 * @example
 * ```ts
 * reciprocal(tensor([4])); // [0.25]
 * ```
 */
export function reciprocal(x: Tensor): Tensor {
  return unary('reciprocal', x);
}

/**
 * Sine (radians).
 *
 * @example
 * ```ts
 * sin(tensor([0])); // [0]
 * ```
 */
export function sin(x: Tensor): Tensor {
  return unary('sin', x);
}

/**
 * Cosine (radians).
 *
 * @example
 * ```ts
 * cos(tensor([0])); // [1]
 * ```
 */
export function cos(x: Tensor): Tensor {
  return unary('cos', x);
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * tanh(tensor([0])); // [0]
 * ```
 */
export function tanh(x: Tensor): Tensor {
  return unary('tanh', x);
}

/**
 * Logistic sigmoid, `1 / (1 + exp(-x))`.
 *
 * @example
 * ```ts
 * sigmoid(tensor([0])); // [0.5]
 * ```
 */
export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', x);
}

/**
 * Rectified linear unit, `max(x, 0)`.
 *
 * @example
 * ```ts
 * relu(tensor([-1, 2])); // [0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor {
  return unary('relu', x);
}

/**
 * Gauss error function.
 *
 * @example
 * ```ts
 * erf(tensor([0])); // [0]
 * ```
 */
export function erf(x: Tensor): Tensor {
  return unary('erf', x);
}

/**
 * Rounds down.
 *
 * @example
 * ```ts
 * floor(tensor([1.5, -1.5])); // [1, -2]
 * ```
 */
export function floor(x: Tensor): Tensor {
  return unary('floor', x);
}

/**
 * Rounds up.
 *
 * @example
 * ```ts
 * ceil(tensor([1.5, -1.5])); // [2, -1]
 * ```
 */
export function ceil(x: Tensor): Tensor {
  return unary('ceil', x);
}

/**
 * Rounds to nearest, ties to even (like torch.round).
 *
 * @example
 * ```ts
 * round(tensor([0.5, 1.5, 2.5])); // [0, 2, 2]
 * ```
 */
export function round(x: Tensor): Tensor {
  return unary('round', x);
}

/**
 * Whether each element is NaN (bool result).
 *
 * @example
 * ```ts
 * isnan(tensor([NaN, 1])); // [true, false]
 * ```
 */
export function isnan(x: Tensor): Tensor {
  return unary('isnan', x);
}

/**
 * Logical not of a bool tensor.
 *
 * @example
 * ```ts
 * logicalNot(tensor([1, 0]).ne(0)); // [false, true]
 * ```
 */
export function logicalNot(x: Tensor): Tensor {
  return unary('not', x);
}

