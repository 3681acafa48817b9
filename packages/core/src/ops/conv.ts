// SPDX-License-Identifier: MIT
// Convolutions with PyTorch semantics: conv1d / conv2d (NCL / NCHW or unbatched; stride, padding incl.
// 'same' and 'valid', dilation, groups, bias) and convTranspose2d (stride, padding,
// outputPadding, groups, dilation). conv2d is im2col (one indexSelect through a precomputed
// table) + one batched matmul; convTranspose2d is one batched matmul + col2im (one scatterAdd).
// Both are composites of differentiable primitives, so every backend runs them and the
// gradients for input, weight and bias come from the primitives' rules. conv1d is conv2d
// with a height of 1.
import { checkBufferLimit, type Conv2dParams } from '../backend.js';
import { HeedError, fmtShape } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { customGrad } from '../autograd/api.js';
import { tidy } from '../scope.js';
import { checkInt, checkOptions, describeValue, type OptionKeys } from '../validate.js';
import { commonBackend, fromData } from './operands.js';
import { binary } from './elementwise.js';
import { matmul } from './matmul.js';
import { sum } from './reduce.js';
import { flip } from './reorder.js';
import { contiguous, permute, reshape, squeeze, transpose, unsqueeze } from './views.js';
import { type AxisGeom, checkInput, checkOut, col2im, im2col, tupleArg, windowOut } from './conv-geometry.js';
import { hasFusedKernel, runFusedKernel } from '../kernel-dispatch.js';

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

/** `f` of an unbatched input (one dimension less, like PyTorch's): a batch of one, removed again. */
function unbatched(x: Tensor, f: (xb: Tensor) => Tensor): Tensor {
  return tidy(() => squeeze(f(unsqueeze(x, 0)), 0));
}

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

/** What core's conv2d computes: the geometry of both axes and the channel groups. */
interface ConvPlan {
  readonly axes: readonly [AxisGeom, AxisGeom];
  readonly groups: number;
}

/** conv2d without autograd: the backend's fused kernel, or (declined / absent) im2col + one batched matmul. */
function convForward(x: Tensor, weight: Tensor, bias: Tensor | null, plan: ConvPlan): Tensor {
  const { axes, groups } = plan;
  const [n, c] = x.shape;
  const outCh = weight.shape[0];
  const shape = [n, outCh, axes[0].out, axes[1].out];
  checkBufferLimit(x.backend, 'conv2d', shape, 'float32');
  const backend = x.backend;
  if (hasFusedKernel(backend, 'conv2d') && sizeOf(shape) > 0) {
    const params: Conv2dParams = {
      stride: [axes[0].stride, axes[1].stride], pad: [axes[0].padBefore, axes[1].padBefore],
      dilation: [axes[0].dilation, axes[1].dilation], groups, out: [axes[0].out, axes[1].out],
    };
    const views = [x, weight, ...(bias ? [bias] : [])].map((t) => contiguous(t));
    try {
      const data = runFusedKernel(backend, 'conv2d', views[0].stridedView('conv2d'), views[1].stridedView('conv2d'), bias ? views[2].stridedView('conv2d') : null, params);
      if (data !== null) return fromData(backend, data, shape, 'float32');
    } finally {
      for (const v of views) v.dispose();
    }
  }
  return tidy(() => {
    const taps = axes[0].kernel * axes[1].kernel;
    const cols = reshape(im2col(x, axes, 0), [n, groups, (c / groups) * taps, axes[0].out * axes[1].out]);
    const w = reshape(weight, [groups, outCh / groups, (c / groups) * taps]);
    const y = reshape(matmul(w, cols), shape);
    return bias ? binary('add', y, reshape(bias, [1, outCh, 1, 1])) : y;
  });
}

/**
 * The transposed convolution of `y` `[N, O, oH, oW]` through `weight` `[O, C/groups, kH, kW]`
 * (conv2d's layout) for the conv2d geometry `plan`: `[N, C, H, W]` (col2im of weight^T @ y).
 * The input gradient of conv2d, and convTranspose2d itself. Differentiable.
 */
function convTransposeCore(y: Tensor, weight: Tensor, plan: ConvPlan, inChannels: number): Tensor {
  const { axes, groups } = plan;
  const [n, o] = y.shape;
  const taps = axes[0].kernel * axes[1].kernel;
  const positions = axes[0].out * axes[1].out;
  const wt = transpose(reshape(weight, [groups, o / groups, (inChannels / groups) * taps]), 1, 2);
  const cols = matmul(wt, reshape(y, [n, groups, o / groups, positions]));
  return col2im(reshape(cols, [n, inChannels, taps * positions]), axes);
}

/**
 * conv2d's input gradient as a stride-1 conv2d of `dy` with the transposed, spatially flipped
 * kernel (so a fused conv2d kernel runs the backward pass too), or null where that does not
 * apply (stride > 1, or padding beyond the dilated kernel's extent): col2im runs then.
 */
function inputGradAsConv(dy: Tensor, weight: Tensor, plan: ConvPlan, inChannels: number): Tensor | null {
  const { axes, groups } = plan;
  if (!axes.every((a) => a.stride === 1 && a.padBefore <= a.dilation * (a.kernel - 1))) return null;
  const [o, cg, kh, kw] = weight.shape;
  const og = o / groups;
  // wt[g*Cg + c, o', i, j] = weight[g*Og + o', c, kH-1-i, kW-1-j]
  const wt = flip(reshape(permute(reshape(weight, [groups, og, cg, kh, kw]), [0, 2, 1, 3, 4]), [inChannels, og, kh, kw]), [2, 3]);
  const back = axes.map((a): AxisGeom => ({
    size: a.out, kernel: a.kernel, stride: 1, dilation: a.dilation, padBefore: a.dilation * (a.kernel - 1) - a.padBefore, out: a.size,
  })) as [AxisGeom, AxisGeom];
  return conv2dPlanned(dy, wt, null, { axes: back, groups });
}

/** conv2d's weight gradient `[O, C/groups, kH, kW]`: the correlation of `x` with `dy`. */
function convWeightGrad(x: Tensor, dy: Tensor, weightShape: readonly number[], plan: ConvPlan): Tensor {
  const { axes, groups } = plan;
  const [n, c] = x.shape;
  const o = dy.shape[1];
  if (groups === 1) {
    // dW^T [C, O, kH, kW] = conv2d(x^T [C, N, H, W], dy^T [O, N, oH, oW]) with stride and dilation swapped.
    const swapped = axes.map((a): AxisGeom => ({
      size: a.size, kernel: a.out, stride: a.dilation, dilation: a.stride, padBefore: a.padBefore, out: a.kernel,
    })) as [AxisGeom, AxisGeom];
    return transpose(conv2dPlanned(transpose(x, 0, 1), transpose(dy, 0, 1), null, { axes: swapped, groups: 1 }), 0, 1);
  }
  const taps = axes[0].kernel * axes[1].kernel;
  const positions = axes[0].out * axes[1].out;
  const cg = (c / groups) * taps;
  // [g, O/g, N*L] @ [g, N*L, C/g*taps], summing over images and positions in one product.
  const dyg = reshape(permute(reshape(dy, [n, groups, o / groups, positions]), [1, 2, 0, 3]), [groups, o / groups, n * positions]);
  const cols = reshape(permute(reshape(im2col(x, axes, 0), [n, groups, cg, positions]), [1, 0, 3, 2]), [groups, n * positions, cg]);
  return reshape(matmul(dyg, cols), weightShape);
}

/**
 * conv2d for a checked plan, with core's gradients (so they never depend on which path ran
 * the forward): dX by the transposed convolution (a stride-1 conv2d with the flipped kernel
 * where the geometry allows, else col2im), dW by the correlation of x with dY (a conv2d when
 * groups is 1), dB by a sum; so a fused conv2d kernel speeds up the backward pass too.
 */
function conv2dPlanned(x: Tensor, weight: Tensor, bias: Tensor | null, plan: ConvPlan): Tensor {
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const f = customGrad((...ts: Tensor[]) => ({
    value: convForward(ts[0], ts[1], ts[2] ?? null, plan),
    backward: (dy: Tensor, saved: Tensor[]) => [
      saved[0].requiresGrad ? inputGradAsConv(dy, saved[1], plan, saved[0].shape[1]) ?? convTransposeCore(dy, saved[1], plan, saved[0].shape[1]) : null,
      saved[1].requiresGrad ? convWeightGrad(saved[0], dy, saved[1].shape, plan) : null,
      ...(saved.length > 2 ? [saved[2].requiresGrad ? sum(dy, { axis: [0, 2, 3] }) : null] : []),
    ],
  }));
  return f(...inputs);
}

/**
 * 2-D convolution (cross-correlation, like `torch.nn.functional.conv2d`) of `x` `[N, C, H, W]`
 * (or unbatched `[C, H, W]`) with `weight` `[O, C/groups, kH, kW]`: returns `[N, O, H', W']`. Runs the backend's fused
 * kernel when it has one, else im2col + one batched matmul; gradients are core's either way.
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
  if (x.rank === 3) return unbatched(x, (xb) => conv2d(xb, weight, options));
  checkInput(op, x, 4, '[N, C, H, W]');
  const groups = checkParams(op, x, weight, o.bias, o.groups, false);
  return conv2dPlanned(x, weight, o.bias ?? null, { axes: convAxes(op, x, weight, o), groups });
}

/**
 * 1-D convolution (like `torch.nn.functional.conv1d`) of `x` `[N, C, L]` (or unbatched
 * `[C, L]`) with `weight` `[O, C/groups, k]`: returns `[N, O, L']`.
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
  if (x.rank === 2) return unbatched(x, (xb) => conv1d(xb, weight, options));
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
 * conv2d with respect to its input) of `x` `[N, C, H, W]` (or unbatched `[C, H, W]`) with
 * `weight` `[C, O/groups, kH, kW]`:
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
  if (x.rank === 3) return unbatched(x, (xb) => convTranspose2d(xb, weight, options));
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
  const [n, cin, h, w] = x.shape;
  const outCh = weight.shape[1] * groups;
  checkBufferLimit(x.backend, op, [n, outCh, ...outSize], 'float32');
  // The conv2d whose input gradient this is: input outSize, output [h, w], weight [C, O/g, kH, kW].
  const axes = [0, 1].map((i): AxisGeom => ({
    size: outSize[i], kernel: k[i], stride: stride[i], dilation: dilation[i], padBefore: padding[i], out: [h, w][i],
  })) as [AxisGeom, AxisGeom];
  return tidy(() => {
    const y = convTransposeCore(x, weight, { axes, groups }, outCh);
    return o.bias ? binary('add', y, reshape(o.bias, [1, outCh, 1, 1])) : y;
  });
}
