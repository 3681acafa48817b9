// SPDX-License-Identifier: MIT
// Additive positional encodings: fixed sinusoids (Vaswani et al., 2017) and a learned table
// (GPT-2 style). Both add the encoding of positions offset..offset+L-1 to the input, where
// `offset` lets incremental decoding continue from a kv-cache length.
// Invariants: the position axis is 0 (`[L, N, D]`, PyTorch's default layout) or 1 with
// `batchFirst` (`[N, L, D]`); unbatched `[L, D]` works in both; the sinusoid table is a
// non-persistent buffer (not in the state dict), the learned one a parameter `weight`.
import { HeedError, fmtShape, tensor, tidy, zeros, type Generator, type Tensor } from '@heed/core';
import { Module, buffer, parameter } from '../module.js';
import { normal_ } from '../init.js';
import { Dropout } from './activation.js';
import { checkPositive } from './linear.js';

/**
 * Options of the positional encodings' forward.
 *
 * @example
 * ```ts
 * pos.forward(x, { offset: cache.length });
 * ```
 */
export interface PositionalForwardOptions {
  /** Position of the first element (default 0). */
  offset?: number;
}

/**
 * The sinusoid table `[maxLen, dModel]`: `pe[p, 2i] = sin(p / 10000^(2i/d))`,
 * `pe[p, 2i+1] = cos(p / 10000^(2i/d))`, computed in float64 then rounded.
 *
 * @example
 * ```ts
 * sinusoidTable(4, 8)[8 + 1]; // cos(1 / 10000^0) = cos(1)
 * ```
 */
export function sinusoidTable(maxLen: number, dModel: number, base = 10000): Float32Array {
  const out = new Float32Array(maxLen * dModel);
  for (let p = 0; p < maxLen; p++) {
    for (let i = 0; i < dModel; i += 2) {
      const angle = p / Math.pow(base, i / dModel);
      out[p * dModel + i] = Math.sin(angle);
      if (i + 1 < dModel) out[p * dModel + i + 1] = Math.cos(angle);
    }
  }
  return out;
}

/** Adds `table[offset : offset + L]` to `x` along its position axis. */
function addPositions(op: string, x: Tensor, table: Tensor, batchFirst: boolean, offset: number): Tensor {
  const [maxLen, d] = table.shape;
  if (x.rank < 2 || x.rank > 3 || x.shape[x.rank - 1] !== d) {
    throw new HeedError(op, `expects [L, ${d}] or ${batchFirst ? `[N, L, ${d}]` : `[L, N, ${d}]`}, got ${fmtShape(x.shape)}.`);
  }
  const posAxis = x.rank === 3 && batchFirst ? 1 : 0;
  const len = x.shape[posAxis];
  if (!Number.isInteger(offset) || offset < 0 || offset + len > maxLen) {
    throw new HeedError(op, `positions ${offset}..${offset + len - 1} exceed the table of ${maxLen}; raise maxLen.`);
  }
  return tidy(() => {
    const rows = table.narrow(0, offset, len);
    return x.add(x.rank === 3 && !batchFirst ? rows.reshape([len, 1, d]) : rows);
  });
}

/**
 * Options of {@link SinusoidalPositionalEncoding}.
 *
 * @example
 * ```ts
 * new SinusoidalPositionalEncoding(64, { maxLen: 512, dropout: 0.1, batchFirst: true });
 * ```
 */
export interface SinusoidalOptions {
  /** Longest sequence (default 5000). */
  maxLen?: number;
  /** Dropout after the addition (default 0). */
  dropout?: number;
  /** Inputs are `[N, L, D]` instead of `[L, N, D]` (default false). */
  batchFirst?: boolean;
  /** Random stream of the dropout. */
  generator?: Generator;
}

/**
 * Adds the fixed sinusoidal encoding to `x`, then applies dropout.
 *
 * @example
 * ```ts
 * const pos = new SinusoidalPositionalEncoding(8, { batchFirst: true });
 * pos.forward(randn([2, 5, 8])).shape; // [2, 5, 8]
 * ```
 */
export class SinusoidalPositionalEncoding extends Module {
  /** The table `[maxLen, dModel]` (non-persistent buffer). */
  pe: Tensor;
  /** Dropout after the addition. */
  dropout: Dropout;
  /** Layout of 3-D inputs. */
  readonly batchFirst: boolean;

  constructor(readonly dModel: number, options: SinusoidalOptions = {}) {
    super();
    const maxLen = options.maxLen ?? 5000;
    checkPositive('SinusoidalPositionalEncoding', { dModel, maxLen });
    this.pe = buffer(tensor(sinusoidTable(maxLen, dModel), { shape: [maxLen, dModel] }), { persistent: false });
    this.dropout = new Dropout(options.dropout ?? 0, { generator: options.generator });
    this.batchFirst = options.batchFirst ?? false;
  }

  /**
   * Returns `dropout(x + pe[offset : offset + L])`.
   *
   * @example
   * ```ts
   * pos.forward(x, { offset: 3 });
   * ```
   */
  forward(x: Tensor, options: PositionalForwardOptions = {}): Tensor {
    return tidy(() => this.dropout.forward(addPositions('SinusoidalPositionalEncoding', x, this.pe, this.batchFirst, options.offset ?? 0)));
  }

  override extraRepr(): string {
    return `dModel=${this.dModel}, maxLen=${this.pe.shape[0]}`;
  }
}

/**
 * Options of {@link LearnedPositionalEmbedding}.
 *
 * @example
 * ```ts
 * new LearnedPositionalEmbedding(1024, 64, { batchFirst: true });
 * ```
 */
export interface LearnedPositionalOptions {
  /** Inputs are `[N, L, D]` instead of `[L, N, D]` (default false). */
  batchFirst?: boolean;
  /** Random stream of the `N(0, std²)` init. */
  generator?: Generator;
  /** Init standard deviation (default 1, like nn.Embedding; GPT-2 uses 0.01-0.02). */
  initStd?: number;
}

/**
 * A trained position table `weight [maxLen, dModel]` added to the input (GPT-2's `wpe`).
 *
 * @example
 * ```ts
 * const pos = new LearnedPositionalEmbedding(16, 8, { batchFirst: true });
 * pos.forward(randn([2, 5, 8])).shape; // [2, 5, 8]
 * ```
 */
export class LearnedPositionalEmbedding extends Module {
  /** The table `[maxLen, dModel]`. */
  weight: Tensor;
  /** Layout of 3-D inputs. */
  readonly batchFirst: boolean;

  constructor(readonly maxLen: number, readonly dModel: number, options: LearnedPositionalOptions = {}) {
    super();
    checkPositive('LearnedPositionalEmbedding', { maxLen, dModel });
    this.weight = normal_(parameter(zeros([maxLen, dModel])), 0, options.initStd ?? 1, options.generator);
    this.batchFirst = options.batchFirst ?? false;
  }

  /**
   * Returns `x + weight[offset : offset + L]`.
   *
   * @example
   * ```ts
   * pos.forward(x);
   * ```
   */
  forward(x: Tensor, options: PositionalForwardOptions = {}): Tensor {
    return addPositions('LearnedPositionalEmbedding', x, this.weight, this.batchFirst, options.offset ?? 0);
  }

  override extraRepr(): string {
    return `maxLen=${this.maxLen}, dModel=${this.dModel}`;
  }
}
