// SPDX-License-Identifier: MIT
// Per-channel normalisation layers over `[N, C, ...]` inputs: BatchNorm1d/BatchNorm2d
// (torch.nn.BatchNorm*, batch statistics in training, running statistics in eval) and
// GroupNorm (torch.nn.GroupNorm, statistics per sample over groups of channels).
// Invariants: PyTorch's state-dict keys (`weight`, `bias`, `running_mean`, `running_var`,
// `num_batches_tracked`) and inits (ones, zeros; running mean 0, running var 1); the batch
// variance normalises with the biased estimate and updates the running variance with the
// unbiased one; running statistics change only in training mode, on the device, under
// noGrad, and never on input the layer rejects; forward passes leave no temporaries.
import {
  HeedError, cast, checkBoolean, checkNumber, checkOptions, fmtShape, noGrad, ones, tensor, tidy, zeros,
  type OptionKeys, type Tensor,
} from '@heed/core';
import { Module, buffer, parameter } from '../module.js';
import { checkPositive } from './linear.js';

/**
 * Options of {@link BatchNorm1d} and {@link BatchNorm2d} (PyTorch's defaults).
 *
 * @example
 * ```ts
 * new BatchNorm2d(16, { momentum: null, eps: 1e-3 });
 * ```
 */
export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /**
   * Weight of the new batch in the running statistics, in [0, 1] (default 0.1); `null` gives
   * the cumulative average over all batches seen (`1 / numBatchesTracked`).
   */
  momentum?: number | null;
  /** Learn a per-channel `weight` and `bias` (default true). */
  affine?: boolean;
  /**
   * Keep running statistics and use them in eval mode (default true). Without them the layer
   * normalises with the batch statistics in both modes and has no buffers.
   */
  trackRunningStats?: boolean;
}

const BATCH_NORM_KEYS: OptionKeys<BatchNormOptions> = { eps: true, momentum: true, affine: true, trackRunningStats: true };

/** Axes `[0, 2, 3, ...]` of a rank-`rank` input (all but the channel axis). */
function statAxes(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** `[1, C, 1, ...]`: per-channel values broadcast over a rank-`rank` input. */
function channelShape(channels: number, rank: number): number[] {
  return [1, channels, ...Array.from({ length: rank - 2 }, () => 1)];
}

function checkFloat(op: string, x: Tensor): void {
  if (x.dtype !== 'float32') throw new HeedError(op, `expects a float32 input, got ${x.dtype} ${fmtShape(x.shape)}; cast with .float().`);
}

/**
 * Shared implementation of {@link BatchNorm1d} and {@link BatchNorm2d}: normalises each channel
 * (axis 1) over the batch and spatial axes. Subclasses only say which input ranks they accept.
 *
 * @example
 * ```ts
 * const bn: BatchNorm = new BatchNorm2d(8);
 * bn.runningMean?.shape; // [8]
 * ```
 */
export abstract class BatchNorm extends Module {
  /** Per-channel gain `[numFeatures]` (ones; null without affine). */
  weight: Tensor | null = null;
  /** Per-channel shift `[numFeatures]` (zeros; null without affine). */
  bias: Tensor | null = null;
  /** Running mean `[numFeatures]` (key `running_mean`; null without trackRunningStats). */
  runningMean: Tensor | null = null;
  /** Running (unbiased) variance `[numFeatures]` (key `running_var`; null without trackRunningStats). */
  runningVar: Tensor | null = null;
  /** Training batches seen, an int32 scalar (key `num_batches_tracked`; null without trackRunningStats). */
  numBatchesTracked: Tensor | null = null;
  /** Variance epsilon. */
  readonly eps: number;
  /** Running-statistics momentum (null: cumulative average). */
  readonly momentum: number | null;
  /** Whether `weight` and `bias` are learnt. */
  readonly affine: boolean;
  /** Whether running statistics are kept. */
  readonly trackRunningStats: boolean;

  /** The input ranks this layer accepts (e.g. `[2, 3]` for BatchNorm1d). */
  protected abstract readonly ranks: readonly number[];

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    const op = new.target.name;
    checkPositive(op, { numFeatures });
    const o = checkOptions(op, options, BATCH_NORM_KEYS);
    this.eps = o.eps === undefined ? 1e-5 : checkNumber(op, 'eps', o.eps, { min: 0 });
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum === null ? null : checkNumber(op, 'momentum', o.momentum, { min: 0, max: 1 });
    this.affine = checkBoolean(op, 'affine', o.affine) ?? true;
    this.trackRunningStats = checkBoolean(op, 'trackRunningStats', o.trackRunningStats) ?? true;
    if (this.affine) {
      this.weight = parameter(ones([numFeatures]));
      this.bias = parameter(zeros([numFeatures]));
    }
    if (this.trackRunningStats) {
      this.runningMean = buffer(zeros([numFeatures]));
      this.runningVar = buffer(ones([numFeatures]));
      this.numBatchesTracked = buffer(tensor(0, { dtype: 'int32' }));
    }
  }

  /**
   * Normalises `x [N, numFeatures, ...]`. In training mode (or without running statistics)
   * with the batch's per-channel mean and biased variance, updating the running statistics
   * when kept; in eval mode with the running statistics.
   *
   * @example
   * ```ts
   * const bn = new BatchNorm1d(4);
   * bn.forward(randn([8, 4])).shape; // [8, 4]
   * bn.eval().forward(randn([2, 4])); // uses running_mean / running_var
   * ```
   */
  forward(x: Tensor): Tensor {
    const op = this.constructor.name;
    x.assertLive(op);
    checkFloat(op, x);
    if (!this.ranks.includes(x.rank)) {
      throw new HeedError(op, `expects a ${this.ranks.map((r) => `${r}D`).join(' or ')} input [N, ${this.numFeatures}${x.rank > 2 ? ', ...' : ''}], ` +
        `got ${x.rank}D ${fmtShape(x.shape)}.`);
    }
    if (x.shape[1] !== this.numFeatures) {
      throw new HeedError(op, `expects ${this.numFeatures} channels on axis 1, got ${fmtShape(x.shape)}.`);
    }
    const n = x.size / this.numFeatures;
    const useBatch = this.training || this.runningMean === null;
    if (useBatch && n <= 1) {
      throw new HeedError(op, `expects more than 1 value per channel when normalising with batch statistics, got ${fmtShape(x.shape)}; ` +
        `use a larger batch${this.runningMean ? ' or call eval() to use the running statistics' : ''}.`);
    }
    const shape = channelShape(this.numFeatures, x.rank);
    return tidy(() => {
      let centred: Tensor;
      let variance: Tensor;
      if (useBatch) {
        const axes = statAxes(x.rank);
        const mean = x.mean({ axis: axes, keepdim: true });
        centred = x.sub(mean);
        variance = centred.square().mean({ axis: axes, keepdim: true });
        if (this.training) this.updateRunningStats(mean, variance, n);
      } else {
        centred = x.sub((this.runningMean as Tensor).reshape(shape));
        variance = (this.runningVar as Tensor).reshape(shape);
      }
      let y = centred.mul(variance.add(this.eps).rsqrt());
      if (this.weight) y = y.mul(this.weight.reshape(shape));
      if (this.bias) y = y.add(this.bias.reshape(shape));
      return y;
    });
  }

  /** PyTorch's update: `r = (1 - f) r + f s`, f the momentum (or 1 / batches seen), s the batch value. */
  private updateRunningStats(mean: Tensor, biasedVar: Tensor, n: number): void {
    const rm = this.runningMean;
    const rv = this.runningVar;
    const count = this.numBatchesTracked;
    if (!rm || !rv || !count) return;
    noGrad(() => tidy(() => {
      count.assign(count.add(1));
      const f: Tensor | number = this.momentum === null ? cast(count, 'float32').reciprocal() : this.momentum;
      const batchMean = mean.reshape([this.numFeatures]);
      const batchVar = biasedVar.reshape([this.numFeatures]).mul(n / (n - 1));
      rm.assign(rm.add(batchMean.sub(rm).mul(f)));
      rv.assign(rv.add(batchVar.sub(rv).mul(f)));
    }));
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

/**
 * Batch normalisation (Ioffe & Szegedy, 2015) of `[N, C]` or `[N, C, L]` inputs over the batch
 * (and length) axis, per channel: `(x - mean) / sqrt(var + eps) * weight + bias`. Keys
 * `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`, like torch.nn.BatchNorm1d.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm1d(3);
 * bn.forward(randn([16, 3, 10])).shape; // [16, 3, 10]
 * [...bn.stateDict().keys()]; // ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  /** `[N, C]` or `[N, C, L]`. */
  protected readonly ranks = [2, 3] as const;
}

/**
 * Batch normalisation of `[N, C, H, W]` inputs over the batch and spatial axes, per channel
 * (torch.nn.BatchNorm2d; same options, keys and train/eval behaviour as {@link BatchNorm1d}).
 *
 * @example
 * ```ts
 * const bn = new BatchNorm2d(8, { momentum: 0.01 });
 * bn.forward(randn([4, 8, 5, 5])).shape; // [4, 8, 5, 5]
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  /** `[N, C, H, W]`. */
  protected readonly ranks = [4] as const;
}

/**
 * Options of {@link GroupNorm}.
 *
 * @example
 * ```ts
 * new GroupNorm(4, 16, { eps: 1e-6, affine: false });
 * ```
 */
export interface GroupNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-channel `weight` and `bias` (default true). */
  affine?: boolean;
}

const GROUP_NORM_KEYS: OptionKeys<GroupNormOptions> = { eps: true, affine: true };

/**
 * Group normalisation (Wu & He, 2018) of `[N, C, ...]` inputs: the channels are split into
 * `numGroups` groups and each sample's group is normalised over its channels and spatial
 * positions (biased variance), then scaled and shifted per channel. Same in train and eval.
 * Keys `weight`, `bias`, like torch.nn.GroupNorm.
 *
 * @example
 * ```ts
 * const gn = new GroupNorm(2, 6);
 * gn.forward(randn([3, 6, 4, 4])).shape; // [3, 6, 4, 4]
 * ```
 */
export class GroupNorm extends Module {
  /** Per-channel gain `[numChannels]` (ones; null without affine). */
  weight: Tensor | null = null;
  /** Per-channel shift `[numChannels]` (zeros; null without affine). */
  bias: Tensor | null = null;
  /** Variance epsilon. */
  readonly eps: number;
  /** Whether `weight` and `bias` are learnt. */
  readonly affine: boolean;

  constructor(readonly numGroups: number, readonly numChannels: number, options: GroupNormOptions = {}) {
    super();
    checkPositive('GroupNorm', { numGroups, numChannels });
    if (numChannels % numGroups !== 0) {
      throw new HeedError('GroupNorm', `numChannels (${numChannels}) must be divisible by numGroups (${numGroups}).`);
    }
    const o = checkOptions('GroupNorm', options, GROUP_NORM_KEYS);
    this.eps = o.eps === undefined ? 1e-5 : checkNumber('GroupNorm', 'eps', o.eps, { min: 0 });
    this.affine = checkBoolean('GroupNorm', 'affine', o.affine) ?? true;
    if (this.affine) {
      this.weight = parameter(ones([numChannels]));
      this.bias = parameter(zeros([numChannels]));
    }
  }

  /**
   * Normalises `x [N, numChannels, ...]` (rank >= 2).
   *
   * @example
   * ```ts
   * gn.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    x.assertLive('GroupNorm');
    checkFloat('GroupNorm', x);
    if (x.rank < 2 || x.shape[1] !== this.numChannels) {
      throw new HeedError('GroupNorm', `expects input [N, ${this.numChannels}, ...], got ${fmtShape(x.shape)}.`);
    }
    const shape = channelShape(this.numChannels, x.rank);
    return tidy(() => {
      const grouped = x.reshape([x.shape[0], this.numGroups, x.size / (x.shape[0] * this.numGroups) || 0]);
      const centred = grouped.sub(grouped.mean({ axis: 2, keepdim: true }));
      const variance = centred.square().mean({ axis: 2, keepdim: true });
      let y = centred.mul(variance.add(this.eps).rsqrt()).reshape(x.shape);
      if (this.weight) y = y.mul(this.weight.reshape(shape));
      if (this.bias) y = y.add(this.bias.reshape(shape));
      return y;
    });
  }

  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${this.affine}`;
  }
}
