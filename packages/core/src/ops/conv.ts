// SPDX-License-Identifier: MIT
// Convolutions with PyTorch semantics: conv1d / conv2d (NCL / NCHW; stride, padding incl.
// 'same' and 'valid', dilation, groups, bias) and convTranspose2d (stride, padding,
// outputPadding, groups, dilation). conv2d is im2col (one indexSelect through a precomputed
// table) + one batched matmul; convTranspose2d is one batched matmul + col2im (one scatterAdd).
// Both are composites of differentiable primitives, so every backend runs them and the
// gradients for input, weight and bias come from the primitives' rules. conv1d is conv2d
// with a height of 1.
import { HeedError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { tidy } from '../scope.js';
import { checkInt, checkOptions, describeValue, type OptionKeys } from '../validate.js';
import { commonBackend } from './dispatch.js';
import { binary } from './elementwise.js';
import { matmul } from './matmul.js';
import { scatterAdd } from './indexing.js';
import { zeros } from './creation.js';
import { expand, narrow, reshape, squeeze, transpose, unsqueeze } from './views.js';
import { type AxisGeom, checkInput, checkOut, im2col, indexTensor, tupleArg, windowOut } from './conv-geometry.js';

/**
 * Options of {@link conv2d} (PyTorch's `torch.nn.functional.conv2d` arguments). Each of
 * `stride`, `padding` and `dilation` is one int for both axes or `[h, w]`.
 *
 * @example
 * ```ts
 * const opts: Conv2dOptions = { stride: 2, padding: 'same', dilation: [1, 2], groups: 4 };
 * ```
 */
export interface Conv2dOptions {
  /** Added per output channel, shape `[outChannels]`. */
  bias?: Tensor | null;
  /** Step of the window (default 1). */
  stride?: number | readonly number[];
  /** Zero padding on both sides (default 0), or `'same'` (stride 1 only) / `'valid'` (no padding). */
  padding?: number | readonly number[] | 'same' | 'valid';
  /** Spacing between kernel taps (default 1). */
  dilation?: number | readonly number[];
  /** Channel groups: input and output channels must be divisible by it (default 1). */
  groups?: number;
}

/**
 * Options of {@link conv1d}: like {@link Conv2dOptions} with one spatial axis.
 *
 * @example
 * ```ts
 * const opts: Conv1dOptions = { padding: 'same', dilation: 2 };
 * ```
 */
export type Conv1dOptions = Conv2dOptions;

/**
 * Options of {@link convTranspose2d} (PyTorch's `conv_transpose2d` arguments).
 *
 * @example
 * ```ts
 * const opts: ConvTranspose2dOptions = { stride: 2, padding: 1, outputPadding: 1 };
 * ```
 */
export interface ConvTranspose2dOptions {
  /** Added per output channel, shape `[outChannels]`. */
  bias?: Tensor | null;
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
}

const CONV_KEYS: OptionKeys<Conv2dOptions> = { bias: true, stride: true, padding: true, dilation: true, groups: true };
const CONVT_KEYS: OptionKeys<ConvTranspose2dOptions> = {
  bias: true, stride: true, padding: true, outputPadding: true, groups: true, dilation: true,
};

/** Checks weight / bias / groups against the input; returns groups. */
function checkParams(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, groups: unknown, transposed: boolean): number {
  const g = groups === undefined ? 1 : checkInt(op, 'groups', groups, { min: 1 });
  if (weight.rank !== x.rank || weight.dtype !== 'float32') {
    throw new HeedError(op, `weight must be float32 ${transposed ? '[inChannels, outChannels/groups, ...kernel]' : '[outChannels, inChannels/groups, ...kernel]'} ` +
      `of rank ${x.rank}, got ${weight.dtype} ${fmtShape(weight.shape)}.`);
  }
  const cin = x.shape[1];
  const [w0, w1] = weight.shape;
  const outCh = transposed ? w1 * g : w0;
  const ok = transposed ? w0 === cin && cin % g === 0 : cin % g === 0 && w0 % g === 0 && w1 * g === cin;
  if (!ok) {
    throw new HeedError(op, `input ${fmtShape(x.shape)} (${cin} channels), weight ${fmtShape(weight.shape)} and groups ${g} do not fit: ` +
      (transposed ? 'weight[0] must equal the input channels, divisible by groups.' : 'weight[1] * groups must equal the input channels, and weight[0] be divisible by groups.'));
  }
  if (bias !== undefined && bias !== null && (bias.rank !== 1 || bias.shape[0] !== outCh || bias.dtype !== 'float32')) {
    throw new HeedError(op, `bias must be float32 [${outCh}] (one per output channel), got ${bias.dtype} ${fmtShape(bias.shape)}.`);
  }
  return g;
}

/** Geometry of conv2d's two axes (padding 'same' may be asymmetric: the extra pad goes after). */
function convAxes(op: string, x: Tensor, weight: Tensor, o: Partial<Conv2dOptions>): [AxisGeom, AxisGeom] {
  const stride = tupleArg(op, 'stride', o.stride ?? 1, 2, 1);
  const dilation = tupleArg(op, 'dilation', o.dilation ?? 1, 2, 1);
  const k = [weight.shape[2], weight.shape[3]];
  let before: number[];
  let after: number[];
  if (o.padding === 'same') {
    if (stride.some((s) => s !== 1)) {
      throw new HeedError(op, `padding 'same' needs stride 1, got stride [${stride.join(', ')}]; pass explicit padding instead.`);
    }
    before = k.map((kk, i) => Math.floor((dilation[i] * (kk - 1)) / 2));
    after = k.map((kk, i) => dilation[i] * (kk - 1) - before[i]);
  } else if (o.padding === 'valid') {
    before = after = [0, 0];
  } else if (typeof o.padding === 'string') {
    throw new HeedError(op, `padding must be an integer, an array of 2 integers, 'same' or 'valid'; got ${describeValue(o.padding)}.`);
  } else {
    before = after = tupleArg(op, 'padding', o.padding ?? 0, 2, 0);
  }
  const axes = [0, 1].map((i): AxisGeom => ({
    size: x.shape[2 + i], kernel: k[i], stride: stride[i], dilation: dilation[i], padBefore: before[i],
    out: windowOut(x.shape[2 + i], k[i], stride[i], dilation[i], before[i], after[i]),
  })) as [AxisGeom, AxisGeom];
  checkOut(op, x, axes);
  return axes;
}

function addBias(y: Tensor, bias: Tensor | null | undefined): Tensor {
  return bias ? binary('add', y, reshape(bias, [1, bias.shape[0], 1, 1])) : y;
}

/**
 * 2-D convolution (cross-correlation, like `torch.nn.functional.conv2d`) of `x` `[N, C, H, W]`
 * with `weight` `[O, C/groups, kH, kW]`: returns `[N, O, H', W']`.
 *
 * @example
 * ```ts
 * const x = randn([1, 3, 8, 8]);
 * const w = randn([16, 3, 3, 3]);
 * conv2d(x, w, { padding: 1 }).shape; // [1, 16, 8, 8]
 * conv2d(x, w, { stride: 2, bias: zeros([16]) }).shape; // [1, 16, 3, 3]
 * ```
 */
export function conv2d(x: Tensor, weight: Tensor, options?: Conv2dOptions): Tensor {
  const op = 'conv2d';
  commonBackend(op, options?.bias ? [x, weight, options.bias] : [x, weight]);
  const o = checkOptions(op, options, CONV_KEYS);
  checkInput(op, x, 4, '[N, C, H, W]');
  const groups = checkParams(op, x, weight, o.bias, o.groups, false);
  const axes = convAxes(op, x, weight, o);
  return tidy(() => {
    const [n, c] = x.shape;
    const outCh = weight.shape[0];
    const taps = axes[0].kernel * axes[1].kernel;
    const positions = axes[0].out * axes[1].out;
    // cols [N, g, C/g * taps, L] @ ... ; weight [g, O/g, C/g * taps]
    const cols = reshape(im2col(x, axes, 0), [n, groups, (c / groups) * taps, positions]);
    const w = reshape(weight, [groups, outCh / groups, (c / groups) * taps]);
    const y = reshape(matmul(w, cols), [n, outCh, axes[0].out, axes[1].out]);
    return addBias(y, o.bias);
  });
}

/**
 * 1-D convolution (like `torch.nn.functional.conv1d`) of `x` `[N, C, L]` with `weight`
 * `[O, C/groups, k]`: returns `[N, O, L']`.
 *
 * @example
 * ```ts
 * conv1d(randn([2, 4, 10]), randn([8, 4, 3]), { padding: 'same' }).shape; // [2, 8, 10]
 * ```
 */
export function conv1d(x: Tensor, weight: Tensor, options?: Conv1dOptions): Tensor {
  const op = 'conv1d';
  commonBackend(op, options?.bias ? [x, weight, options.bias] : [x, weight]);
  const o = checkOptions(op, options, CONV_KEYS);
  checkInput(op, x, 3, '[N, C, L]');
  if (weight.rank !== 3) throw new HeedError(op, `weight must be [outChannels, inChannels/groups, kernel], got ${fmtShape(weight.shape)}.`);
  // The height axis is 1 wide: stride/dilation 1 and no padding there.
  const one = (v: Conv2dOptions['stride'], name: string, min: number) => (v === undefined ? undefined : [min, tupleArg(op, name, v, 1, min)[0]]);
  const padding = typeof o.padding === 'string' ? o.padding : one(o.padding, 'padding', 0);
  return tidy(() => squeeze(conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), {
    bias: o.bias, stride: one(o.stride, 'stride', 1), padding, dilation: one(o.dilation, 'dilation', 1), groups: o.groups,
  }), 2));
}

/**
 * Transposed 2-D convolution (like `torch.nn.functional.conv_transpose2d`, the gradient of
 * conv2d with respect to its input) of `x` `[N, C, H, W]` with `weight` `[C, O/groups, kH, kW]`:
 * returns `[N, O, H', W']` with `H' = (H-1)*stride - 2*padding + dilation*(kH-1) + outputPadding + 1`.
 *
 * @example
 * ```ts
 * convTranspose2d(randn([1, 8, 4, 4]), randn([8, 3, 4, 4]), { stride: 2, padding: 1 }).shape; // [1, 3, 8, 8]
 * ```
 */
export function convTranspose2d(x: Tensor, weight: Tensor, options?: ConvTranspose2dOptions): Tensor {
  const op = 'convTranspose2d';
  commonBackend(op, options?.bias ? [x, weight, options.bias] : [x, weight]);
  const o = checkOptions(op, options, CONVT_KEYS);
  checkInput(op, x, 4, '[N, C, H, W]');
  const groups = checkParams(op, x, weight, o.bias, o.groups, true);
  const stride = tupleArg(op, 'stride', o.stride ?? 1, 2, 1);
  const padding = tupleArg(op, 'padding', o.padding ?? 0, 2, 0);
  const dilation = tupleArg(op, 'dilation', o.dilation ?? 1, 2, 1);
  const outPad = tupleArg(op, 'outputPadding', o.outputPadding ?? 0, 2, 0);
  if (outPad.some((p, i) => p >= Math.max(stride[i], dilation[i]))) {
    throw new HeedError(op, `outputPadding [${outPad.join(', ')}] must be smaller than stride [${stride.join(', ')}] or dilation [${dilation.join(', ')}].`);
  }
  const k = [weight.shape[2], weight.shape[3]];
  const outSize = [0, 1].map((i) => (x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (k[i] - 1) + outPad[i] + 1);
  if (outSize.some((s) => s < 1)) {
    throw new HeedError(op, `the output would be [${outSize.join(', ')}] for input ${fmtShape(x.shape)}, kernel [${k.join(', ')}] and padding ` +
      `[${padding.join(', ')}]; use less padding.`);
  }
  return tidy(() => {
    const [n, cin, h, w] = x.shape;
    const outCh = weight.shape[1] * groups;
    const taps = k[0] * k[1];
    // cols [N, g, O/g * taps, H*W] = weight_g^T @ x_g, then every (tap, input position) adds into its output position.
    const wg = transpose(reshape(weight, [groups, cin / groups, (outCh / groups) * taps]), 1, 2);
    const cols = reshape(matmul(wg, reshape(x, [n, groups, cin / groups, h * w])), [n, outCh, taps * h * w]);
    const table = col2imIndex([h, w], k, stride, padding, dilation, outSize);
    const index = expand(reshape(indexTensor(x.backend, table), [1, 1, table.length]), [n, outCh, table.length]);
    const spatial = outSize[0] * outSize[1];
    const summed = scatterAdd(zeros([n, outCh, spatial + 1], { backend: x.backend.name }), 2, index, cols);
    const y = reshape(narrow(summed, 2, 0, spatial), [n, outCh, outSize[0], outSize[1]]);
    return addBias(y, o.bias);
  });
}

/** col2im table ordered `[kh, kw, ih, iw]`: the flat output position each tap of each input lands on (or the dump slot). */
function col2imIndex(size: number[], k: number[], stride: number[], padding: number[], dilation: number[], out: number[]): Int32Array {
  const dump = out[0] * out[1];
  const table = new Int32Array(k[0] * k[1] * size[0] * size[1]);
  let i = 0;
  for (let kh = 0; kh < k[0]; kh++) {
    for (let kw = 0; kw < k[1]; kw++) {
      for (let ih = 0; ih < size[0]; ih++) {
        const oh = ih * stride[0] - padding[0] + kh * dilation[0];
        for (let iw = 0; iw < size[1]; iw++) {
          const ow = iw * stride[1] - padding[1] + kw * dilation[1];
          table[i++] = oh >= 0 && oh < out[0] && ow >= 0 && ow < out[1] ? oh * out[1] + ow : dump;
        }
      }
    }
  }
  return table;
}
