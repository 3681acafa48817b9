// SPDX-License-Identifier: MIT
// Pooling and flattening layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d
// (torch.nn's, on core's functional maxPool*, avgPool*, adaptiveAvgPool2d) and Flatten.
// Invariants: no parameters or buffers (empty state dict, like PyTorch); options are checked
// when the layer is built (keys and types here, the geometry against each input by core);
// batched and unbatched inputs are accepted where core accepts them.
import {
  adaptiveAvgPool2d, avgPool1d, avgPool2d, checkBoolean, checkInt, checkNumber, checkOptions, describeValue, HeedError, maxPool1d, maxPool2d,
  type AvgPoolOptions, type MaxPoolOptions, type OptionKeys, type Tensor,
} from '@heed/core';
import { Module } from '../module.js';

const MAX_POOL_KEYS: OptionKeys<MaxPoolOptions> = { stride: true, padding: true, dilation: true, ceilMode: true };
const AVG_POOL_KEYS: OptionKeys<AvgPoolOptions> = { stride: true, padding: true, ceilMode: true, countIncludePad: true, divisorOverride: true };

/** Checks that `value` is an integer >= `min` or an array of `n` of them (undefined passes). */
function checkSizes(op: string, name: string, value: unknown, n: number, min: number): void {
  if (value === undefined) return;
  if (typeof value === 'number') { checkInt(op, name, value, { min }); return; }
  if (Array.isArray(value) && value.length === n) { value.forEach((v: unknown, i) => checkInt(op, `${name}[${i}]`, v, { min })); return; }
  throw new HeedError(op, `${name} must be an integer or an array of ${n} integers (>= ${min}), got ${describeValue(value)}.`);
}

function checkMaxPool(op: string, n: number, kernelSize: unknown, options: MaxPoolOptions | undefined): MaxPoolOptions {
  const o = checkOptions(op, options, MAX_POOL_KEYS);
  checkSizes(op, 'kernelSize', kernelSize, n, 1);
  checkSizes(op, 'stride', o.stride, n, 1);
  checkSizes(op, 'padding', o.padding, n, 0);
  checkSizes(op, 'dilation', o.dilation, n, 1);
  checkBoolean(op, 'ceilMode', o.ceilMode);
  return { ...o };
}

function checkAvgPool(op: string, n: number, kernelSize: unknown, options: AvgPoolOptions | undefined): AvgPoolOptions {
  const o = checkOptions(op, options, AVG_POOL_KEYS);
  checkSizes(op, 'kernelSize', kernelSize, n, 1);
  checkSizes(op, 'stride', o.stride, n, 1);
  checkSizes(op, 'padding', o.padding, n, 0);
  checkBoolean(op, 'ceilMode', o.ceilMode);
  checkBoolean(op, 'countIncludePad', o.countIncludePad);
  if (o.divisorOverride !== undefined) checkNumber(op, 'divisorOverride', o.divisorOverride);
  return { ...o };
}

/** `kernelSize=2, stride=1, ...`: the given options only, like PyTorch's summaries. */
function poolRepr(kernelSize: number | readonly number[], options: object): string {
  const show = (v: unknown) => (Array.isArray(v) ? `[${v.join(', ')}]` : String(v));
  return [['kernelSize', kernelSize], ...Object.entries(options).filter(([, v]) => v !== undefined)].map(([k, v]) => `${String(k)}=${show(v)}`).join(', ');
}

/**
 * 1-D max pooling of `[N, C, L]` (or `[C, L]`) inputs (torch.nn.MaxPool1d; stride defaults to
 * the kernel size).
 *
 * @example
 * ```ts
 * new MaxPool1d(2).forward(randn([1, 3, 8])).shape; // [1, 3, 4]
 * ```
 */
export class MaxPool1d extends Module {
  /** The pooling options (stride, padding, dilation, ceilMode). */
  readonly options: MaxPoolOptions;

  constructor(readonly kernelSize: number | readonly number[], options: MaxPoolOptions = {}) {
    super();
    this.options = checkMaxPool('MaxPool1d', 1, kernelSize, options);
  }

  /**
   * Pools `x`.
   *
   * @example
   * ```ts
   * pool.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return maxPool1d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    return poolRepr(this.kernelSize, this.options);
  }
}

/**
 * 2-D max pooling of `[N, C, H, W]` (or `[C, H, W]`) inputs (torch.nn.MaxPool2d; stride
 * defaults to the kernel size).
 *
 * @example
 * ```ts
 * new MaxPool2d(2).forward(randn([1, 3, 8, 8])).shape; // [1, 3, 4, 4]
 * new MaxPool2d(3, { stride: 2, padding: 1 });
 * ```
 */
export class MaxPool2d extends Module {
  /** The pooling options (stride, padding, dilation, ceilMode). */
  readonly options: MaxPoolOptions;

  constructor(readonly kernelSize: number | readonly number[], options: MaxPoolOptions = {}) {
    super();
    this.options = checkMaxPool('MaxPool2d', 2, kernelSize, options);
  }

  /**
   * Pools `x`.
   *
   * @example
   * ```ts
   * pool.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    return poolRepr(this.kernelSize, this.options);
  }
}

/**
 * 1-D average pooling of `[N, C, L]` (or `[C, L]`) inputs (torch.nn.AvgPool1d; stride
 * defaults to the kernel size; padded zeros count in the divisor unless `countIncludePad: false`).
 *
 * @example
 * ```ts
 * new AvgPool1d(2).forward(randn([1, 3, 8])).shape; // [1, 3, 4]
 * ```
 */
export class AvgPool1d extends Module {
  /** The pooling options (stride, padding, ceilMode, countIncludePad, divisorOverride). */
  readonly options: AvgPoolOptions;

  constructor(readonly kernelSize: number | readonly number[], options: AvgPoolOptions = {}) {
    super();
    this.options = checkAvgPool('AvgPool1d', 1, kernelSize, options);
  }

  /**
   * Pools `x`.
   *
   * @example
   * ```ts
   * pool.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return avgPool1d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    return poolRepr(this.kernelSize, this.options);
  }
}

/**
 * 2-D average pooling of `[N, C, H, W]` (or `[C, H, W]`) inputs (torch.nn.AvgPool2d).
 *
 * @example
 * ```ts
 * new AvgPool2d(2).forward(randn([1, 3, 8, 8])).shape; // [1, 3, 4, 4]
 * new AvgPool2d(3, { stride: 1, padding: 1, countIncludePad: false });
 * ```
 */
export class AvgPool2d extends Module {
  /** The pooling options (stride, padding, ceilMode, countIncludePad, divisorOverride). */
  readonly options: AvgPoolOptions;

  constructor(readonly kernelSize: number | readonly number[], options: AvgPoolOptions = {}) {
    super();
    this.options = checkAvgPool('AvgPool2d', 2, kernelSize, options);
  }

  /**
   * Pools `x`.
   *
   * @example
   * ```ts
   * pool.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }

  override extraRepr(): string {
    return poolRepr(this.kernelSize, this.options);
  }
}

/**
 * Adaptive 2-D average pooling to a fixed output size (torch.nn.AdaptiveAvgPool2d):
 * `outputSize` is one integer for both axes or `[h, w]`, where `null` keeps that input size.
 * `new AdaptiveAvgPool2d(1)` is global average pooling.
 *
 * @example
 * ```ts
 * new AdaptiveAvgPool2d([2, 3]).forward(randn([1, 4, 9, 10])).shape; // [1, 4, 2, 3]
 * new AdaptiveAvgPool2d(1).forward(randn([2, 8, 5, 5])).shape; // [2, 8, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | readonly (number | null)[]) {
    super();
    const op = 'AdaptiveAvgPool2d';
    if (typeof outputSize === 'number') checkInt(op, 'outputSize', outputSize, { min: 1 });
    else if (Array.isArray(outputSize) && outputSize.length === 2) {
      outputSize.forEach((v: unknown, i) => { if (v !== null) checkInt(op, `outputSize[${i}]`, v, { min: 1 }); });
    } else {
      throw new HeedError(op, `outputSize must be an integer or [h, w] (integers >= 1 or null), got ${describeValue(outputSize)}.`);
    }
  }

  /**
   * Pools `x [N, C, H, W]` (or `[C, H, W]`) to `[..., h, w]`.
   *
   * @example
   * ```ts
   * pool.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }

  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}

/**
 * Flattens axes `startDim..endDim` into one (torch.nn.Flatten; defaults 1 and -1, so a batch
 * `[N, C, H, W]` becomes `[N, C*H*W]`). A view where possible.
 *
 * @example
 * ```ts
 * new Flatten().forward(randn([2, 3, 4, 4])).shape; // [2, 48]
 * new Flatten(0, 1).forward(randn([2, 3, 4])).shape; // [6, 4]
 * ```
 */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
    checkInt('Flatten', 'startDim', startDim);
    checkInt('Flatten', 'endDim', endDim);
  }

  /**
   * Flattens `x`.
   *
   * @example
   * ```ts
   * flatten.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `startDim=${this.startDim}, endDim=${this.endDim}`;
  }
}
