// SPDX-License-Identifier: MIT
// Affine and lookup layers: Linear (torch.nn.Linear), Identity and Embedding (with paddingIdx).
// Invariants: weights use PyTorch's layouts ([out, in] for Linear, [num, dim] for Embedding)
// and default inits, so state dicts load both ways; forward passes leave no temporaries.
import { HeedError, arange, detach, fmtShape, linear, noGrad, tidy, where, zeros, type Generator, type Tensor } from '@heed/core';
import { Module, parameter } from '../module.js';
import { kaimingUniform, normal_, uniform_ } from '../init.js';

/**
 * Options of {@link Linear}.
 *
 * @example
 * ```ts
 * new Linear(4, 2, { bias: false, generator: new Generator(0) });
 * ```
 */
export interface LinearOptions {
  /** Whether to learn an additive bias (default true). */
  bias?: boolean;
  /** Random stream for the init (default: the global generator). */
  generator?: Generator;
}

/**
 * `y = x Wᵀ + b` over the last axis. Weight `[outFeatures, inFeatures]`, bias `[outFeatures]`,
 * both initialised like PyTorch (`U(-1/sqrt(in), 1/sqrt(in))`). Keys `weight`, `bias`.
 *
 * @example
 * ```ts
 * const fc = new Linear(4, 3);
 * fc.forward(randn([2, 4])).shape; // [2, 3]
 * ```
 */
export class Linear extends Module {
  /** Weight `[outFeatures, inFeatures]`. */
  weight: Tensor;
  /** Bias `[outFeatures]`, or null. */
  bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions = {}) {
    super();
    checkPositive('Linear', { inFeatures, outFeatures });
    this.weight = parameter(zeros([outFeatures, inFeatures]));
    kaimingUniform(this.weight, { a: Math.sqrt(5), generator: options.generator });
    this.bias = null;
    if (options.bias ?? true) {
      const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
      this.bias = uniform_(parameter(zeros([outFeatures])), -bound, bound, options.generator);
    }
  }

  /**
   * Applies the layer to `x [..., inFeatures]`, giving `[..., outFeatures]`.
   *
   * @example
   * ```ts
   * fc.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    if (x.shape.at(-1) !== this.inFeatures) {
      throw new HeedError('Linear', `expects input [..., ${this.inFeatures}], got ${fmtShape(x.shape)}.`);
    }
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * Returns its input unchanged (a new handle on the same data, in the graph).
 *
 * @example
 * ```ts
 * new Identity().forward(x); // same values as x
 * ```
 */
export class Identity extends Module {
  /**
   * Returns `x` as a new tensor handle (disposing it does not dispose `x`).
   *
   * @example
   * ```ts
   * new Identity().forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return x.reshape(x.shape);
  }
}

/**
 * Options of {@link Embedding}.
 *
 * @example
 * ```ts
 * new Embedding(100, 16, { paddingIdx: 0 });
 * ```
 */
export interface EmbeddingOptions {
  /** Row that stays zero-initialised and receives no gradient (negative counts from the end). */
  paddingIdx?: number;
  /** Random stream for the `N(0, 1)` init (default: the global generator). */
  generator?: Generator;
}

/**
 * A lookup table `[numEmbeddings, embeddingDim]` (key `weight`): int32 ids of any shape give
 * vectors `[...ids.shape, embeddingDim]`. The `paddingIdx` row starts at zero and never gets
 * a gradient, like PyTorch.
 *
 * @example
 * ```ts
 * const emb = new Embedding(10, 4, { paddingIdx: 0 });
 * emb.forward(tensor([[1, 0, 3]], { dtype: 'int32' })).shape; // [1, 3, 4]
 * ```
 */
export class Embedding extends Module {
  /** The table `[numEmbeddings, embeddingDim]`. */
  weight: Tensor;
  /** The padding row (normalised to be non-negative), or null. */
  readonly paddingIdx: number | null;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, options: EmbeddingOptions = {}) {
    super();
    checkPositive('Embedding', { numEmbeddings, embeddingDim });
    let pad = options.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad >= numEmbeddings || pad < -numEmbeddings) {
        throw new HeedError('Embedding', `paddingIdx must be an integer in [-${numEmbeddings}, ${numEmbeddings}), got ${pad}.`);
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.weight = normal_(parameter(zeros([numEmbeddings, embeddingDim])), 0, 1, options.generator);
    if (pad !== null) {
      const row = pad;
      noGrad(() => tidy(() => {
        const isPadRow = arange(numEmbeddings, undefined, 1, { backend: this.weight.backend.name }).eq(row).reshape([numEmbeddings, 1]);
        this.weight.assign(where(isPadRow, 0, this.weight));
      }));
    }
  }

  /**
   * Looks up `ids` (int32, any shape, values in `[0, numEmbeddings)`).
   *
   * @example
   * ```ts
   * emb.forward(tokenIds); // [..., embeddingDim]
   * ```
   */
  forward(ids: Tensor): Tensor {
    if (ids.dtype !== 'int32') throw new HeedError('Embedding', `ids must be int32, got ${ids.dtype}; cast with .int().`);
    return tidy(() => {
      const flat = ids.reshape([ids.size]);
      const rows = this.weight.indexSelect(0, flat);
      let out = rows;
      if (this.paddingIdx !== null && this.weight.requiresGrad) {
        // Same values, but positions holding the padding id take the detached row: no gradient.
        const isPad = flat.eq(this.paddingIdx).reshape([ids.size, 1]);
        out = where(isPad, detach(rows), rows);
      }
      return out.reshape([...ids.shape, this.embeddingDim]);
    });
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}

/**
 * Throws a HeedError for `op` unless every value is a positive integer (constructor checks).
 *
 * @example
 * ```ts
 * checkPositive('Linear', { inFeatures: 4, outFeatures: 3 });
 * ```
 */
export function checkPositive(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0) throw new HeedError(op, `${name} must be a positive integer, got ${v}.`);
  }
}
