// SPDX-License-Identifier: MIT
// Pointwise activations composed from core primitives: softplus, logaddexp, hardtanh,
// leakyRelu, elu, mish. Each matches PyTorch's values and gradients, also at ±inf and NaN:
// softplus, logaddexp, hardtanh and elu carry hand-written gradients (customGrad) so that an
// overflowing branch never multiplies 0 by inf and tiny derivatives are not rounded away;
// leakyRelu and mish are plain compositions.
import { isFloatDType } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { customGrad } from '../autograd/api.js';
import { tidy } from '../scope.js';
import { checkNumber, checkOptions, type OptionKeys } from '../validate.js';
import { commonBackend, toTensors, type TensorLike } from './operands.js';
import { binary, clamp, unary, where } from './elementwise.js';

function checkFloat(op: string, x: unknown): Tensor {
  const t = x as Tensor;
  commonBackend(op, [t]);
  if (!isFloatDType(t.dtype)) {
    throw new HeedError(op, `expects a float tensor, got ${t.dtype} ${fmtShape(t.shape)}; cast it with .float().`);
  }
  return t;
}

/** log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|)). */
function stableSoftplus(z: Tensor): Tensor {
  return tidy(() => binary('add', binary('maximum', z, 0), unary('log1p', unary('exp', unary('neg', unary('abs', z))))));
}

const softplusOp = (beta: number, threshold: number) => customGrad((x: Tensor) => {
  const value = tidy(() => {
    const bx = binary('mul', x, beta);
    return where(binary('gt', bx, threshold), x, binary('div', stableSoftplus(bx), beta));
  });
  return {
    value,
    // d/dx = sigmoid(beta x) below the threshold, 1 above it (PyTorch's softplus_backward).
    backward: (dy, [input]) => [tidy(() => {
      const bx = binary('mul', input, beta);
      return binary('mul', dy, where(binary('gt', bx, threshold), 1, unary('sigmoid', bx)));
    })],
  };
});

/**
 * Options of {@link softplus}.
 *
 * @example
 * ```ts
 * const o: SoftplusOptions = { beta: 2, threshold: 10 };
 * ```
 */
export interface SoftplusOptions {
  /** The sharpness (default 1, nonzero). */
  beta?: number;
  /** Where `beta x` exceeds it, the result is `x` (default 20). */
  threshold?: number;
}

const SOFTPLUS_KEYS: OptionKeys<SoftplusOptions> = { beta: true, threshold: true };

/**
 * Softplus `log(1 + exp(beta x)) / beta`, and `x` itself where `beta x > threshold` (like
 * `torch.nn.functional.softplus`). Never overflows: `softplus(1000) = 1000`, `softplus(-inf) = 0`.
 *
 * @example
 * ```ts
 * softplus(tensor([0, 30])); // [0.6931, 30]
 * softplus(tensor([1]), { beta: 2 }); // [0.5 * log(1 + e^2)] = [1.0635]
 * ```
 */
export function softplus(x: Tensor, options?: SoftplusOptions): Tensor {
  checkFloat('softplus', x);
  const o = checkOptions('softplus', options, SOFTPLUS_KEYS);
  const beta = checkNumber('softplus', 'beta', o.beta ?? 1);
  const threshold = checkNumber('softplus', 'threshold', o.threshold ?? 20);
  if (beta === 0) throw new HeedError('softplus', 'beta must be nonzero (softplus divides by beta), got 0.');
  return softplusOp(beta, threshold)(x);
}

const logaddexpOp = customGrad((a: Tensor, b: Tensor) => {
  const value = tidy(() => {
    const m = binary('maximum', a, b);
    const general = binary('add', m, unary('log1p', unary('exp', unary('neg', unary('abs', binary('sub', a, b))))));
    // a == b (also both +inf or both -inf, where a - b is NaN): max + log(2).
    return where(binary('eq', a, b), binary('add', m, Math.LN2), general);
  });
  return {
    value,
    // d/da = 1 / (1 + exp(b - a)) = sigmoid(a - b), as PyTorch (NaN when both are the same infinity).
    backward: (dy, [x, y]) => tidy(() => [
      binary('mul', dy, unary('sigmoid', binary('sub', x, y))),
      binary('mul', dy, unary('sigmoid', binary('sub', y, x))),
    ]),
  };
});

/**
 * `log(exp(a) + exp(b))`, computed stably (like `torch.logaddexp`), with broadcasting.
 *
 * @example
 * ```ts
 * logaddexp(tensor([1000, -1000]), tensor([1000, -1000])); // [1000.6931, -999.3069]
 * ```
 */
export function logaddexp(a: Tensor, b: TensorLike): Tensor {
  checkFloat('logaddexp', a);
  const { tensors, temps } = toTensors('logaddexp', [b], a.backend);
  try {
    const other = checkFloat('logaddexp', tensors[0]);
    commonBackend('logaddexp', [a, other]);
    broadcastShapes('logaddexp', a.shape, other.shape);
    return logaddexpOp(a, other);
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * Clamps to `[minVal, maxVal]` (default `[-1, 1]`), like `torch.nn.functional.hardtanh`: the
 * gradient is 0 at and beyond the bounds, 1 strictly inside them (and at NaN).
 *
 * @example
 * ```ts
 * hardtanh(tensor([-2, 0.5, 3])); // [-1, 0.5, 1]
 * ```
 */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  checkFloat('hardtanh', x);
  checkNumber('hardtanh', 'minVal', minVal, {}, true);
  checkNumber('hardtanh', 'maxVal', maxVal, {}, true);
  if (!(minVal <= maxVal)) throw new HeedError('hardtanh', `minVal (${minVal}) must not exceed maxVal (${maxVal}).`);
  return customGrad((t: Tensor) => ({
    value: clamp(t, minVal, maxVal),
    backward: (dy, [input]) => [tidy(() => {
      const outside = binary('or', binary('le', input, minVal), binary('ge', input, maxVal));
      return where(outside, 0, dy);
    })],
  }))(x);
}

/**
 * `x` where `x > 0`, `negativeSlope * x` elsewhere (like `torch.nn.functional.leaky_relu`).
 *
 * @example
 * ```ts
 * leakyRelu(tensor([-2, 3]), 0.1); // [-0.2, 3]
 * ```
 */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  checkFloat('leakyRelu', x);
  checkNumber('leakyRelu', 'negativeSlope', negativeSlope);
  return tidy(() => where(binary('gt', x, 0), x, binary('mul', x, negativeSlope)));
}

/**
 * ELU: `x` where `x > 0`, `alpha * (exp(x) - 1)` elsewhere (like `torch.nn.functional.elu`).
 *
 * @example
 * ```ts
 * elu(tensor([-1, 2])); // [-0.6321, 2]
 * ```
 */
export function elu(x: Tensor, alpha = 1): Tensor {
  checkFloat('elu', x);
  checkNumber('elu', 'alpha', alpha);
  return customGrad((t: Tensor) => ({
    value: tidy(() => {
      const negative = binary('le', t, 0);
      return where(negative, binary('mul', unary('expm1', where(negative, t, 0)), alpha), t);
    }),
    // alpha * exp(x) at x <= 0 (from exp, not expm1 + 1, which rounds to 0 for x < -17), 1 elsewhere and at NaN.
    backward: (dy, [input]) => [tidy(() => {
      const negative = binary('le', input, 0);
      return binary('mul', dy, where(negative, binary('mul', unary('exp', where(negative, input, 0)), alpha), 1));
    })],
  }))(x);
}

/**
 * Mish, `x * tanh(softplus(x))` (like `torch.nn.functional.mish`).
 *
 * @example
 * ```ts
 * mish(tensor([1])); // [0.8651]
 * ```
 */
export function mish(x: Tensor): Tensor {
  checkFloat('mish', x);
  return tidy(() => binary('mul', x, unary('tanh', softplus(x))));
}
