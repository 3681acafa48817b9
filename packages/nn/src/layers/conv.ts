// SPDX-License-Identifier: MIT
// Convolution layers: Conv1d, Conv2d (torch.nn.Conv1d/Conv2d, with padding modes zeros,
// reflect, replicate and circular) and ConvTranspose2d, on core's functional conv1d, conv2d
// and convTranspose2d. Non-zero padding modes pad explicitly (one indexSelect per padded axis,
// so gradients come from core's rules) and then convolve without padding, like PyTorch.
// Invariants: PyTorch's weight layouts (`[out, in/groups, ...kernel]`, transposed
// `[in, out/groups, ...kernel]`), keys (`weight`, `bias`) and default init (kaiming uniform
// with a = sqrt(5), bias U(±1/sqrt(fanIn))); every argument is checked in the constructor;
// inputs may be batched or not (`[N, C, ...]` or `[C, ...]`); no temporaries are left.
import {
  HeedError, checkBoolean, checkInt, checkOptions, conv1d, conv2d, convTranspose2d, describeValue, fmtShape, tensor, tidy, zeros,
  type Generator, type OptionKeys, type Tensor,
} from '@heed/core';
import { Module, parameter } from '../module.js';
import { calculateFanInAndFanOut, kaimingUniform, uniform_ } from '../init.js';
import { checkPositive } from './linear.js';

/**
 * How a convolution pads its input (PyTorch's `padding_mode`): with zeros, by mirroring
 * without repeating the edge (`reflect`), by repeating the edge (`replicate`), or by wrapping
 * around (`circular`).
 *
 * @example
 * ```ts
 * const mode: PaddingMode = 'reflect';
 * ```
 */
export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';

const PADDING_MODES: Readonly<Record<PaddingMode, true>> = { zeros: true, reflect: true, replicate: true, circular: true };

/**
 * Options of {@link Conv1d} and {@link Conv2d} (PyTorch's constructor arguments; each of
 * `stride`, `padding` and `dilation` is one integer for every spatial axis or one per axis).
 *
 * @example
 * ```ts
 * new Conv2d(3, 16, 3, { stride: 2, padding: 1, bias: false });
 * new Conv1d(8, 8, 5, { padding: 'same', groups: 8, paddingMode: 'reflect' });
 * ```
 */
export interface ConvOptions {
  /** Step of the window (default 1). */
  stride?: number | readonly number[];
  /** Padding on both sides (default 0), or `'same'` (output size = input size; stride 1) or `'valid'` (none). */
  padding?: number | readonly number[] | 'same' | 'valid';
  /** Spacing between kernel taps (default 1). */
  dilation?: number | readonly number[];
  /** Channel groups; both channel counts must be divisible by it (default 1). */
  groups?: number;
  /** Learn an additive per-channel bias (default true). */
  bias?: boolean;
  /** How to pad (default `'zeros'`). */
  paddingMode?: PaddingMode;
  /** Random stream for the init (default: the global generator). */
  generator?: Generator;
}

const CONV_KEYS: OptionKeys<ConvOptions> = {
  stride: true, padding: true, dilation: true, groups: true, bias: true, paddingMode: true, generator: true,
};

/**
 * Options of {@link ConvTranspose2d} (PyTorch's constructor arguments).
 *
 * @example
 * ```ts
 * new ConvTranspose2d(16, 8, 3, { stride: 2, padding: 1, outputPadding: 1 });
 * ```
 */
export interface ConvTransposeOptions {
  /** Stride of the convolution this transposes (default 1). */
  stride?: number | readonly number[];
  /** Implicit padding removed from both sides of the output (default 0). */
  padding?: number | readonly number[];
  /** Extra size added to one side of the output (default 0; smaller than stride or dilation). */
  outputPadding?: number | readonly number[];
  /** Channel groups (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number | readonly number[];
  /** Learn an additive per-channel bias (default true). */
  bias?: boolean;
  /** Random stream for the init (default: the global generator). */
  generator?: Generator;
}

const CONV_TRANSPOSE_KEYS: OptionKeys<ConvTransposeOptions> = {
  stride: true, padding: true, outputPadding: true, groups: true, dilation: true, bias: true, generator: true,
};

/** `value` as `n` integers >= `min` (one integer is repeated), or a HeedError naming `op` and `name`. */
function tuple(op: string, name: string, value: unknown, n: number, min: number): number[] {
  if (typeof value === 'number') return new Array<number>(n).fill(checkInt(op, name, value, { min }));
  if (Array.isArray(value) && value.length === n) return value.map((v: unknown, i) => checkInt(op, `${name}[${i}]`, v, { min }));
  throw new HeedError(op, `${name} must be an integer or an array of ${n} integers (>= ${min}), got ${describeValue(value)}.`);
}

/**
 * A convolution's weight and bias (`[biasLength]`, or none when null), initialised like
 * PyTorch: kaiming uniform with a = sqrt(5), then the bias uniform in ±1/sqrt(fanIn) of the weight.
 */
function initParams(weightShape: number[], biasLength: number | null, generator: Generator | undefined): [Tensor, Tensor | null] {
  const weight = kaimingUniform(parameter(zeros(weightShape)), { a: Math.sqrt(5), generator });
  if (biasLength === null) return [weight, null];
  const [fanIn] = calculateFanInAndFanOut(weightShape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return [weight, uniform_(parameter(zeros([biasLength])), -bound, bound, generator)];
}

/** Source index of every padded position along one axis of length `size`. */
function padIndex(size: number, before: number, after: number, mode: Exclude<PaddingMode, 'zeros'>): Int32Array {
  const out = new Int32Array(size + before + after);
  for (let j = 0; j < out.length; j++) {
    const i = j - before;
    if (mode === 'replicate') out[j] = Math.min(Math.max(i, 0), size - 1);
    else if (mode === 'circular') out[j] = ((i % size) + size) % size;
    else out[j] = i < 0 ? -i : i >= size ? 2 * (size - 1) - i : i;
  }
  return out;
}

/**
 * Shared implementation of {@link Conv1d} and {@link Conv2d}.
 *
 * @example
 * ```ts
 * const conv: ConvNd = new Conv2d(1, 4, 3);
 * conv.kernelSize; // [3, 3]
 * ```
 */
export abstract class ConvNd extends Module {
  /** Kernel `[outChannels, inChannels / groups, ...kernelSize]`. */
  weight: Tensor;
  /** Bias `[outChannels]`, or null. */
  bias: Tensor | null;
  /** Kernel size per spatial axis. */
  readonly kernelSize: readonly number[];
  /** Stride per spatial axis. */
  readonly stride: readonly number[];
  /** Padding per spatial axis (both sides), or `'same'` / `'valid'`. */
  readonly padding: readonly number[] | 'same' | 'valid';
  /** Dilation per spatial axis. */
  readonly dilation: readonly number[];
  /** Channel groups. */
  readonly groups: number;
  /** How the input is padded. */
  readonly paddingMode: PaddingMode;
  /** `[before, after]` padding per spatial axis (asymmetric for `'same'` with an even extent). */
  private readonly pads: readonly (readonly [number, number])[];

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | readonly number[],
    spatial: number, options: ConvOptions) {
    super();
    const op = new.target.name;
    checkPositive(op, { inChannels, outChannels });
    const o = checkOptions(op, options, CONV_KEYS);
    this.kernelSize = tuple(op, 'kernelSize', kernelSize, spatial, 1);
    this.stride = tuple(op, 'stride', o.stride ?? 1, spatial, 1);
    this.dilation = tuple(op, 'dilation', o.dilation ?? 1, spatial, 1);
    this.groups = checkInt(op, 'groups', o.groups ?? 1, { min: 1 });
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new HeedError(op, `inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${this.groups}).`);
    }
    const mode = o.paddingMode ?? 'zeros';
    if (!Object.prototype.hasOwnProperty.call(PADDING_MODES, mode)) {
      throw new HeedError(op, `paddingMode must be one of ${Object.keys(PADDING_MODES).join(', ')}, got ${describeValue(mode)}.`);
    }
    this.paddingMode = mode;
    const padding = o.padding ?? 0;
    if (padding === 'same' || padding === 'valid') {
      if (padding === 'same' && this.stride.some((s) => s !== 1)) {
        throw new HeedError(op, `padding 'same' needs stride 1, got stride [${this.stride.join(', ')}]; give the padding as numbers.`);
      }
      this.padding = padding;
      this.pads = this.kernelSize.map((k, i) => {
        const total = padding === 'valid' ? 0 : this.dilation[i] * (k - 1);
        return [Math.floor(total / 2), total - Math.floor(total / 2)] as const;
      });
    } else {
      this.padding = tuple(op, 'padding', padding, spatial, 0);
      this.pads = this.padding.map((p) => [p, p] as const);
    }
    const withBias = checkBoolean(op, 'bias', o.bias) ?? true;
    [this.weight, this.bias] = initParams([outChannels, inChannels / this.groups, ...this.kernelSize], withBias ? outChannels : null, o.generator);
  }

  /** The functional convolution of one batched input with the given options. */
  protected abstract convolve(x: Tensor, padding: readonly number[] | 'same' | 'valid'): Tensor;

  /**
   * Convolves `x [N, inChannels, ...spatial]` (or unbatched `[inChannels, ...spatial]`).
   *
   * @example
   * ```ts
   * new Conv2d(3, 8, 3, { padding: 1 }).forward(randn([2, 3, 16, 16])).shape; // [2, 8, 16, 16]
   * ```
   */
  forward(x: Tensor): Tensor {
    const op = this.constructor.name;
    x.assertLive(op);
    const spatial = this.kernelSize.length;
    const layout = `[N, ${this.inChannels}, ${spatial === 1 ? 'L' : 'H, W'}]`;
    if ((x.rank !== spatial + 2 && x.rank !== spatial + 1) || x.shape[x.rank - spatial - 1] !== this.inChannels) {
      throw new HeedError(op, `expects input ${layout} or unbatched [${this.inChannels}, ...], got ${fmtShape(x.shape)}.`);
    }
    return tidy(() => {
      const unbatched = x.rank === spatial + 1;
      let input = unbatched ? x.unsqueeze(0) : x;
      if (this.paddingMode === 'zeros') {
        const y = this.convolve(input, this.padding);
        return unbatched ? y.squeeze(0) : y;
      }
      for (let i = 0; i < spatial; i++) {
        const [before, after] = this.pads[i];
        if (before === 0 && after === 0) continue;
        const axis = i + 2;
        const size = input.shape[axis];
        const limit = this.paddingMode === 'reflect' ? size - 1 : this.paddingMode === 'circular' ? size : Infinity;
        if (Math.max(before, after) > limit) {
          throw new HeedError(op, `${this.paddingMode} padding of [${before}, ${after}] needs an input of size > ${Math.max(before, after)}` +
            `${this.paddingMode === 'circular' ? ' - 1' : ''} on axis ${axis}, got ${fmtShape(x.shape)}.`);
        }
        const index = tensor(padIndex(size, before, after, this.paddingMode), { dtype: 'int32', backend: input.backend.name });
        input = input.indexSelect(axis, index);
      }
      const y = this.convolve(input, 'valid');
      return unbatched ? y.squeeze(0) : y;
    });
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}]`,
      `stride=[${this.stride.join(', ')}]`];
    if (typeof this.padding === 'string' || this.padding.some((p) => p !== 0)) parts.push(`padding=${typeof this.padding === 'string' ? `'${this.padding}'` : `[${this.padding.join(', ')}]`}`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=[${this.dilation.join(', ')}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (this.bias === null) parts.push('bias=false');
    if (this.paddingMode !== 'zeros') parts.push(`paddingMode='${this.paddingMode}'`);
    return parts.join(', ');
  }
}

/**
 * 1-D convolution over `[N, C, L]` inputs (torch.nn.Conv1d). Weight `[out, in/groups, k]`,
 * bias `[out]`, keys `weight` and `bias`.
 *
 * @example
 * ```ts
 * const conv = new Conv1d(4, 8, 3, { padding: 1 });
 * conv.forward(randn([2, 4, 10])).shape; // [2, 8, 10]
 * ```
 */
export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], options: ConvOptions = {}) {
    super(inChannels, outChannels, kernelSize, 1, options);
  }

  protected convolve(x: Tensor, padding: readonly number[] | 'same' | 'valid'): Tensor {
    return conv1d(x, this.weight, { bias: this.bias, stride: this.stride, padding, dilation: this.dilation, groups: this.groups });
  }
}

/**
 * 2-D convolution over `[N, C, H, W]` inputs (torch.nn.Conv2d). Weight
 * `[out, in/groups, kH, kW]`, bias `[out]`, keys `weight` and `bias`.
 *
 * @example
 * ```ts
 * const conv = new Conv2d(1, 8, 3, { stride: 2, padding: 1 });
 * conv.forward(randn([4, 1, 16, 16])).shape; // [4, 8, 8, 8]
 * ```
 */
export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernelSize: number | readonly number[], options: ConvOptions = {}) {
    super(inChannels, outChannels, kernelSize, 2, options);
  }

  protected convolve(x: Tensor, padding: readonly number[] | 'same' | 'valid'): Tensor {
    return conv2d(x, this.weight, { bias: this.bias, stride: this.stride, padding, dilation: this.dilation, groups: this.groups });
  }
}

/**
 * 2-D transposed convolution (torch.nn.ConvTranspose2d, the gradient of Conv2d with respect
 * to its input; "deconvolution"). Weight `[in, out/groups, kH, kW]`, bias `[out]`, keys
 * `weight` and `bias`. Output size per axis: `(in - 1) * stride - 2 * padding +
 * dilation * (kernel - 1) + outputPadding + 1`.
 *
 * @example
 * ```ts
 * const up = new ConvTranspose2d(8, 4, 3, { stride: 2, padding: 1, outputPadding: 1 });
 * up.forward(randn([2, 8, 7, 7])).shape; // [2, 4, 14, 14]
 * ```
 */
export class ConvTranspose2d extends Module {
  /** Kernel `[inChannels, outChannels / groups, kH, kW]`. */
  weight: Tensor;
  /** Bias `[outChannels]`, or null. */
  bias: Tensor | null;
  /** Kernel size `[kH, kW]`. */
  readonly kernelSize: readonly number[];
  /** Stride `[sH, sW]`. */
  readonly stride: readonly number[];
  /** Padding `[pH, pW]` removed from both sides of the output. */
  readonly padding: readonly number[];
  /** Extra output size `[oH, oW]` on one side. */
  readonly outputPadding: readonly number[];
  /** Dilation `[dH, dW]`. */
  readonly dilation: readonly number[];
  /** Channel groups. */
  readonly groups: number;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | readonly number[], options: ConvTransposeOptions = {}) {
    super();
    const op = 'ConvTranspose2d';
    checkPositive(op, { inChannels, outChannels });
    const o = checkOptions(op, options, CONV_TRANSPOSE_KEYS);
    this.kernelSize = tuple(op, 'kernelSize', kernelSize, 2, 1);
    this.stride = tuple(op, 'stride', o.stride ?? 1, 2, 1);
    this.padding = tuple(op, 'padding', o.padding ?? 0, 2, 0);
    this.outputPadding = tuple(op, 'outputPadding', o.outputPadding ?? 0, 2, 0);
    this.dilation = tuple(op, 'dilation', o.dilation ?? 1, 2, 1);
    this.groups = checkInt(op, 'groups', o.groups ?? 1, { min: 1 });
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new HeedError(op, `inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${this.groups}).`);
    }
    this.outputPadding.forEach((p, i) => {
      if (p >= this.stride[i] && p >= this.dilation[i]) {
        throw new HeedError(op, `outputPadding[${i}] (${p}) must be smaller than stride (${this.stride[i]}) or dilation (${this.dilation[i]}).`);
      }
    });
    const withBias = checkBoolean(op, 'bias', o.bias) ?? true;
    [this.weight, this.bias] = initParams([inChannels, outChannels / this.groups, ...this.kernelSize], withBias ? outChannels : null, o.generator);
  }

  /**
   * Applies the transposed convolution to `x [N, inChannels, H, W]` (or unbatched `[inChannels, H, W]`).
   *
   * @example
   * ```ts
   * up.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    x.assertLive('ConvTranspose2d');
    if ((x.rank !== 4 && x.rank !== 3) || x.shape[x.rank - 3] !== this.inChannels) {
      throw new HeedError('ConvTranspose2d', `expects input [N, ${this.inChannels}, H, W] or unbatched [${this.inChannels}, H, W], got ${fmtShape(x.shape)}.`);
    }
    return tidy(() => {
      const unbatched = x.rank === 3;
      const y = convTranspose2d(unbatched ? x.unsqueeze(0) : x, this.weight, {
        bias: this.bias, stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, groups: this.groups, dilation: this.dilation,
      });
      return unbatched ? y.squeeze(0) : y;
    });
  }

  override extraRepr(): string {
    const parts = [`${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}]`, `stride=[${this.stride.join(', ')}]`];
    if (this.padding.some((p) => p !== 0)) parts.push(`padding=[${this.padding.join(', ')}]`);
    if (this.outputPadding.some((p) => p !== 0)) parts.push(`outputPadding=[${this.outputPadding.join(', ')}]`);
    if (this.dilation.some((d) => d !== 1)) parts.push(`dilation=[${this.dilation.join(', ')}]`);
    if (this.groups !== 1) parts.push(`groups=${this.groups}`);
    if (this.bias === null) parts.push('bias=false');
    return parts.join(', ');
  }
}
