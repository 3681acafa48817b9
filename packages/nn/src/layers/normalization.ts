// SPDX-License-Identifier: MIT
// Normalisation layers: LayerNorm (torch.nn.LayerNorm, on core's fused-or-decomposed
// layerNorm) and RMSNorm (torch.nn.RMSNorm semantics: x / sqrt(mean(x²) + eps) * weight).
// Invariants: both normalise over the trailing `normalizedShape` dims; affine parameters have
// that shape and PyTorch's keys (`weight`, `bias`) and inits (ones, zeros).
import { HeedError, fmtShape, layerNorm, ones, tidy, zeros, type Tensor } from '@heed/core';
import { Module, parameter } from '../module.js';
import { checkPositive } from './linear.js';

/**
 * Options of {@link LayerNorm}.
 *
 * @example
 * ```ts
 * new LayerNorm(16, { eps: 1e-6, bias: false });
 * ```
 */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn `weight` (and `bias`) (default true). */
  elementwiseAffine?: boolean;
  /** Learn a bias when affine (default true). */
  bias?: boolean;
}

function toShape(op: string, shape: number | readonly number[]): number[] {
  const s = typeof shape === 'number' ? [shape] : [...shape];
  if (s.length === 0) throw new HeedError(op, 'normalizedShape must have at least one dimension.');
  s.forEach((d, i) => checkPositive(op, { [`normalizedShape[${i}]`]: d }));
  return s;
}

function checkTrailing(op: string, x: Tensor, shape: readonly number[]): void {
  const k = shape.length;
  if (x.rank < k || shape.some((d, i) => x.shape[x.rank - k + i] !== d)) {
    throw new HeedError(op, `expects input [..., ${shape.join(', ')}], got ${fmtShape(x.shape)}.`);
  }
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims:
 * `(x - mean) / sqrt(var + eps) * weight + bias` (biased variance, like PyTorch).
 *
 * @example
 * ```ts
 * const norm = new LayerNorm(8);
 * norm.forward(randn([2, 5, 8])).shape; // [2, 5, 8]
 * ```
 */
export class LayerNorm extends Module {
  /** Gain, shape `normalizedShape` (null without affine). */
  weight: Tensor | null = null;
  /** Shift, shape `normalizedShape` (null without affine or bias). */
  bias: Tensor | null = null;
  /** The normalised trailing shape. */
  readonly normalizedShape: readonly number[];
  /** Variance epsilon. */
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = toShape('LayerNorm', normalizedShape);
    this.eps = options.eps ?? 1e-5;
    if (options.elementwiseAffine ?? true) {
      this.weight = parameter(ones(this.normalizedShape));
      if (options.bias ?? true) this.bias = parameter(zeros(this.normalizedShape));
    }
  }

  /**
   * Normalises `x [..., ...normalizedShape]`.
   *
   * @example
   * ```ts
   * norm.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    checkTrailing('LayerNorm', x, this.normalizedShape);
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}], eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}

/**
 * Options of {@link RMSNorm}.
 *
 * @example
 * ```ts
 * new RMSNorm(16, { eps: 1e-6 });
 * ```
 */
export interface RMSNormOptions {
  /** Added to the mean square (default: float32 machine epsilon, like PyTorch's `eps=None`). */
  eps?: number;
  /** Learn `weight` (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Root-mean-square normalisation (Zhang & Sennrich, 2019) over the trailing dims:
 * `x / sqrt(mean(x²) + eps) * weight`. No mean subtraction, no bias (key `weight`).
 *
 * @example
 * ```ts
 * const norm = new RMSNorm(8, { eps: 1e-6 });
 * norm.forward(randn([2, 8])).shape; // [2, 8]
 * ```
 */
export class RMSNorm extends Module {
  /** Gain, shape `normalizedShape` (null without affine). */
  weight: Tensor | null = null;
  /** The normalised trailing shape. */
  readonly normalizedShape: readonly number[];
  /** Mean-square epsilon. */
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], options: RMSNormOptions = {}) {
    super();
    this.normalizedShape = toShape('RMSNorm', normalizedShape);
    this.eps = options.eps ?? 2 ** -23;
    if (options.elementwiseAffine ?? true) this.weight = parameter(ones(this.normalizedShape));
  }

  /**
   * Normalises `x [..., ...normalizedShape]`.
   *
   * @example
   * ```ts
   * norm.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    checkTrailing('RMSNorm', x, this.normalizedShape);
    const axes = this.normalizedShape.map((_, i) => x.rank - this.normalizedShape.length + i);
    return tidy(() => {
      const rms = x.square().mean({ axis: axes, keepdim: true }).add(this.eps).rsqrt();
      const y = x.mul(rms);
      return this.weight ? y.mul(this.weight) : y;
    });
  }

  override extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}], eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}
