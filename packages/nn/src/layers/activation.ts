// SPDX-License-Identifier: MIT
// Parameter-free layers: Dropout and the activation modules (ReLU, GELU, SiLU, Tanh,
// Sigmoid, Softplus, Hardtanh, LeakyReLU, ELU, Mish), plus the typed table of activation
// functions the transformer layers pick from.
// Invariants: Dropout is the identity in eval mode (and when p = 0) and scales kept values
// by 1/(1-p) in training; no module here has parameters or keeps tensors.
import { HeedError, checkNumber, dropout, elu, gelu, hardtanh, leakyRelu, mish, softplus, type Generator, type Tensor } from '@heed/core';
import { Module } from '../module.js';

/**
 * Activation functions by name, as used by the transformer layers' `activation` option.
 *
 * @example
 * ```ts
 * ACTIVATIONS.gelu(x);
 * ```
 */
export const ACTIVATIONS = {
  relu: (x: Tensor) => x.relu(),
  gelu: (x: Tensor) => gelu(x),
  gelu_tanh: (x: Tensor) => gelu(x, 'tanh'),
  silu: (x: Tensor) => x.silu(),
  tanh: (x: Tensor) => x.tanh(),
  sigmoid: (x: Tensor) => x.sigmoid(),
  leaky_relu: (x: Tensor) => leakyRelu(x),
  elu: (x: Tensor) => elu(x),
  softplus: (x: Tensor) => softplus(x),
  mish: (x: Tensor) => mish(x),
} as const satisfies Record<string, (x: Tensor) => Tensor>;

/**
 * A name of {@link ACTIVATIONS}.
 *
 * @example
 * ```ts
 * const a: ActivationName = 'gelu';
 * ```
 */
export type ActivationName = keyof typeof ACTIVATIONS;

/**
 * Looks up an activation by name or passes a function through; throws on unknown names.
 *
 * @example
 * ```ts
 * resolveActivation('relu')(x);
 * ```
 */
export function resolveActivation(op: string, a: ActivationName | ((x: Tensor) => Tensor)): (x: Tensor) => Tensor {
  if (typeof a === 'function') return a;
  const fn = (ACTIVATIONS as Record<string, ((x: Tensor) => Tensor) | undefined>)[a];
  if (!fn) throw new HeedError(op, `unknown activation '${String(a)}'; use one of ${Object.keys(ACTIVATIONS).join(', ')}, or a function.`);
  return fn;
}

/**
 * Options of {@link Dropout}.
 *
 * @example
 * ```ts
 * new Dropout(0.1, { generator: new Generator(0) });
 * ```
 */
export interface DropoutOptions {
  /** Random stream for the masks (default: the global generator). */
  generator?: Generator;
}

/**
 * Zeroes each element with probability `p` in training mode, scaling the others by
 * `1/(1-p)`; the identity in eval mode.
 *
 * @example
 * ```ts
 * const drop = new Dropout(0.5);
 * drop.eval().forward(x); // equals x
 * ```
 */
export class Dropout extends Module {
  /** Random stream of the masks. */
  generator: Generator | undefined;

  constructor(readonly p = 0.5, options: DropoutOptions = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new HeedError('Dropout', `p must be in [0, 1], got ${p}.`);
    this.generator = options.generator;
  }

  /**
   * Applies dropout (training) or returns `x`'s values (eval).
   *
   * @example
   * ```ts
   * drop.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.generator);
  }

  override extraRepr(): string {
    return `p=${this.p}`;
  }
}

/**
 * `max(x, 0)`.
 *
 * @example
 * ```ts
 * new ReLU().forward(tensor([-1, 2])); // [0, 2]
 * ```
 */
export class ReLU extends Module {
  /**
   * Applies ReLU.
   *
   * @example
   * ```ts
   * new ReLU().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/**
 * GELU, exact (`x Φ(x)`, default) or with the tanh approximation.
 *
 * @example
 * ```ts
 * new GELU({ approximate: 'tanh' }).forward(x);
 * ```
 */
export class GELU extends Module {
  /** `'none'` (exact erf form) or `'tanh'`. */
  readonly approximate: 'none' | 'tanh';

  constructor(options: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    this.approximate = options.approximate ?? 'none';
  }

  /**
   * Applies GELU.
   *
   * @example
   * ```ts
   * new GELU().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return gelu(x, this.approximate);
  }

  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/**
 * SiLU / swish, `x σ(x)`.
 *
 * @example
 * ```ts
 * new SiLU().forward(x);
 * ```
 */
export class SiLU extends Module {
  /**
   * Applies SiLU.
   *
   * @example
   * ```ts
   * new SiLU().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return x.silu();
  }
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * new Tanh().forward(x);
 * ```
 */
export class Tanh extends Module {
  /**
   * Applies tanh.
   *
   * @example
   * ```ts
   * new Tanh().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/**
 * Logistic sigmoid `1 / (1 + e^-x)`.
 *
 * @example
 * ```ts
 * new Sigmoid().forward(x);
 * ```
 */
export class Sigmoid extends Module {
  /**
   * Applies the sigmoid.
   *
   * @example
   * ```ts
   * new Sigmoid().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/**
 * Softplus `log(1 + exp(beta x)) / beta`, linear where `beta x > threshold` (like `torch.nn.Softplus`).
 *
 * @example
 * ```ts
 * new Softplus({ beta: 2 }).forward(x);
 * ```
 */
export class Softplus extends Module {
  /** The sharpness (default 1). */
  readonly beta: number;
  /** Above `beta x > threshold` the output is `x` (default 20). */
  readonly threshold: number;

  constructor(options: { beta?: number; threshold?: number } = {}) {
    super();
    this.beta = checkNumber('Softplus', 'beta', options.beta ?? 1);
    this.threshold = checkNumber('Softplus', 'threshold', options.threshold ?? 20);
    if (this.beta === 0) throw new HeedError('Softplus', 'beta must be nonzero, got 0.');
  }

  /**
   * Applies softplus.
   *
   * @example
   * ```ts
   * new Softplus().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return softplus(x, { beta: this.beta, threshold: this.threshold });
  }

  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/**
 * Clamps to `[minVal, maxVal]` (default `[-1, 1]`, like `torch.nn.Hardtanh`).
 *
 * @example
 * ```ts
 * new Hardtanh(-2, 2).forward(x);
 * ```
 */
export class Hardtanh extends Module {
  /** The lower bound (default -1). */
  readonly minVal: number;
  /** The upper bound (default 1). */
  readonly maxVal: number;

  constructor(minVal = -1, maxVal = 1) {
    super();
    this.minVal = checkNumber('Hardtanh', 'minVal', minVal, {}, true);
    this.maxVal = checkNumber('Hardtanh', 'maxVal', maxVal, {}, true);
    if (!(minVal <= maxVal)) throw new HeedError('Hardtanh', `minVal (${minVal}) must not exceed maxVal (${maxVal}).`);
  }

  /**
   * Applies hardtanh.
   *
   * @example
   * ```ts
   * new Hardtanh().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return hardtanh(x, this.minVal, this.maxVal);
  }

  override extraRepr(): string {
    return `minVal=${this.minVal}, maxVal=${this.maxVal}`;
  }
}

/**
 * `x` for `x > 0`, `negativeSlope * x` otherwise (default slope 0.01, like `torch.nn.LeakyReLU`).
 *
 * @example
 * ```ts
 * new LeakyReLU(0.2).forward(x);
 * ```
 */
export class LeakyReLU extends Module {
  /** The slope for `x <= 0` (default 0.01). */
  readonly negativeSlope: number;

  constructor(negativeSlope = 0.01) {
    super();
    this.negativeSlope = checkNumber('LeakyReLU', 'negativeSlope', negativeSlope);
  }

  /**
   * Applies leaky ReLU.
   *
   * @example
   * ```ts
   * new LeakyReLU().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }

  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

/**
 * ELU: `x` for `x > 0`, `alpha (exp(x) - 1)` otherwise (like `torch.nn.ELU`).
 *
 * @example
 * ```ts
 * new ELU(1.0).forward(x);
 * ```
 */
export class ELU extends Module {
  /** The scale of the negative part (default 1). */
  readonly alpha: number;

  constructor(alpha = 1) {
    super();
    this.alpha = checkNumber('ELU', 'alpha', alpha);
  }

  /**
   * Applies ELU.
   *
   * @example
   * ```ts
   * new ELU().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }

  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}

/**
 * Mish, `x tanh(softplus(x))` (like `torch.nn.Mish`).
 *
 * @example
 * ```ts
 * new Mish().forward(x);
 * ```
 */
export class Mish extends Module {
  /**
   * Applies mish.
   *
   * @example
   * ```ts
   * new Mish().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return mish(x);
  }
}
