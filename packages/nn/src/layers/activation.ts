// SPDX-License-Identifier: MIT
// Parameter-free layers: Dropout and the activation modules (ReLU, GELU, SiLU, Tanh,
// Sigmoid), plus the typed table of activation functions the transformer layers pick from.
// Invariants: Dropout is the identity in eval mode (and when p = 0) and scales kept values
// by 1/(1-p) in training; no module here has parameters or keeps tensors.
import { HeedError, dropout, gelu, type Generator, type Tensor } from '@heed/core';
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
