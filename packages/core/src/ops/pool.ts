// SPDX-License-Identifier: MIT
// Pooling with PyTorch semantics on NCHW / NCL (or unbatched CHW / CL) inputs: maxPool1d/2d
// (kernel, stride, padding, dilation, ceilMode), avgPool1d/2d (countIncludePad, ceilMode,
// divisorOverride) and adaptiveAvgPool2d. Windows come from the shared im2col (one
// indexSelect), or, when they tile the input, from one strided copy; max pooling takes argmax over each window and gathers it, so the gradient
// goes to the first maximum of each window like PyTorch's; adaptive pooling is two matmuls
// with averaging matrices built from PyTorch's start/end index formula.
import { HeedError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { tidy } from '../scope.js';
import { checkBoolean, checkInt, checkOptions, describeValue, type OptionKeys } from '../validate.js';
import { commonBackend, fromData } from './operands.js';
import { binary } from './elementwise.js';
import { matmul } from './matmul.js';
import { gather } from './indexing.js';
import { argmax, sum } from './reduce.js';
import { permute, reshape, slice, squeeze, unsqueeze } from './views.js';
import { type AxisGeom, checkOut, im2col, tupleArg, windowOut } from './conv-geometry.js';
import { runKernel } from '../kernel-dispatch.js';

/**
 * Options of {@link maxPool2d} / {@link maxPool1d} (PyTorch's `max_pool2d` arguments; one int or
 * one per spatial axis).
 *
 * @example
 * ```ts
 * const opts: MaxPoolOptions = { stride: 2, padding: 1, ceilMode: true };
 * ```
 */
export interface MaxPoolOptions {
  /** Step of the window (default: the kernel size). */
  stride?: number | readonly number[];
  /** Implicit -Infinity padding on both sides (default 0; at most half the kernel size). */
  padding?: number | readonly number[];
  /** Spacing between window taps (default 1). */
  dilation?: number | readonly number[];
  /** Round the output size up (default false). */
  ceilMode?: boolean;
}

/**
 * Options of {@link avgPool2d} / {@link avgPool1d} (PyTorch's `avg_pool2d` arguments).
 *
 * @example
 * ```ts
 * const opts: AvgPoolOptions = { stride: 1, padding: 1, countIncludePad: false };
 * ```
 */
export interface AvgPoolOptions {
  /** Step of the window (default: the kernel size). */
  stride?: number | readonly number[];
  /** Implicit zero padding on both sides (default 0; at most half the kernel). */
  padding?: number | readonly number[];
  /** Round the output size up (default false). */
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (default true). */
  countIncludePad?: boolean;
  /** Divide every window by this instead (default: the window size). */
  divisorOverride?: number;
}

const MAX_KEYS: OptionKeys<MaxPoolOptions> = { stride: true, padding: true, dilation: true, ceilMode: true };
const AVG_KEYS: OptionKeys<AvgPoolOptions> = { stride: true, padding: true, ceilMode: true, countIncludePad: true, divisorOverride: true };

interface PoolArgs {
  readonly stride?: number | readonly number[];
  readonly padding?: number | readonly number[];
  readonly dilation?: number | readonly number[];
  readonly ceilMode?: boolean;
}

/** Runs `f` on `x` as batched 2-D `[N, C, H, W]`: unbatched inputs get N = 1, 1-D ones H = 1. */
function as2d(op: string, x: Tensor, dims: 1 | 2, f: (x4: Tensor) => Tensor): Tensor {
  commonBackend(op, [x]);
  const layout = dims === 2 ? '[N, C, H, W] or [C, H, W]' : '[N, C, L] or [C, L]';
  if (x.rank !== dims + 1 && x.rank !== dims + 2) throw new HeedError(op, `expects input ${layout}, got ${fmtShape(x.shape)}.`);
  if (x.dtype !== 'float32') throw new HeedError(op, `expects a float32 input, got ${x.dtype}; cast with .float().`);
  const batched = x.rank === dims + 2;
  return tidy(() => {
    let x4 = batched ? x : unsqueeze(x, 0);
    if (dims === 1) x4 = unsqueeze(x4, 2);
    let y = f(x4);
    if (dims === 1) y = squeeze(y, 2);
    return batched ? y : squeeze(y, 0);
  });
}

/** Window geometry of a pooling op on `[N, C, H, W]`; 1-D ops pass `dims` 1 (H axis is 1 wide). */
function poolAxes(op: string, x: Tensor, dims: 1 | 2, kernelSize: unknown, o: PoolArgs): [AxisGeom, AxisGeom] {
  const lift = (v: number[], fill: number): number[] => (dims === 2 ? v : [fill, v[0]]);
  const kernel = lift(tupleArg(op, 'kernelSize', kernelSize, dims, 1), 1);
  const stride = o.stride === undefined || (Array.isArray(o.stride) && o.stride.length === 0) ? kernel : lift(tupleArg(op, 'stride', o.stride, dims, 1), 1);
  const padding = lift(tupleArg(op, 'padding', o.padding ?? 0, dims, 0), 0);
  const dilation = lift(tupleArg(op, 'dilation', o.dilation ?? 1, dims, 1), 1);
  const ceil = checkBoolean(op, 'ceilMode', o.ceilMode) ?? false;
  padding.forEach((p, i) => {
    if (p > Math.floor(kernel[i] / 2)) {
      throw new HeedError(op, `padding [${padding.slice(2 - dims).join(', ')}] must be at most half the kernel size ` +
        `[${kernel.slice(2 - dims).join(', ')}].`);
    }
  });
  const axes = [0, 1].map((i): AxisGeom => ({
    size: x.shape[2 + i], kernel: kernel[i], stride: stride[i], dilation: dilation[i], padBefore: padding[i],
    out: windowOut(x.shape[2 + i], kernel[i], stride[i], dilation[i], padding[i], padding[i], ceil),
  })) as [AxisGeom, AxisGeom];
  checkOut(op, x, axes);
  return axes;
}

/**
 * The windows as the last axis, `[N, C, oH, oW, kH*kW]` (taps in scan order), when they tile
 * the input (stride = kernel, no padding or dilation, no partial window): one strided copy
 * instead of im2col's table. Null otherwise.
 */
function tiledWindows(x4: Tensor, axes: readonly [AxisGeom, AxisGeom]): Tensor | null {
  if (!axes.every((a) => a.stride === a.kernel && a.padBefore === 0 && a.dilation === 1 && a.out * a.kernel <= a.size)) return null;
  const [n, c] = x4.shape;
  const [h, w] = axes;
  const fits = h.out * h.kernel === h.size && w.out * w.kernel === w.size;
  const body = fits ? x4 : slice(x4, [null, null, [0, h.out * h.kernel], [0, w.out * w.kernel]]);
  const grid = reshape(body, [n, c, h.out, h.kernel, w.out, w.kernel]);
  return reshape(permute(grid, [0, 1, 2, 4, 3, 5]), [n, c, h.out, w.out, h.kernel * w.kernel]);
}

function maxPool(op: string, x: Tensor, dims: 1 | 2, kernelSize: number | readonly number[], options: MaxPoolOptions | undefined): Tensor {
  const o = checkOptions(op, options, MAX_KEYS);
  return as2d(op, x, dims, (x4) => {
    const axes = poolAxes(op, x4, dims, kernelSize, o);
    const tiled = tiledWindows(x4, axes);
    const cols = tiled ?? im2col(x4, axes, -Infinity);
    const axis = tiled ? 4 : 2;
    const best = gather(cols, axis, argmax(cols, axis, true));
    return reshape(best, [x4.shape[0], x4.shape[1], axes[0].out, axes[1].out]);
  });
}

function avgPool(op: string, x: Tensor, dims: 1 | 2, kernelSize: number | readonly number[], options: AvgPoolOptions | undefined): Tensor {
  const o = checkOptions(op, options, AVG_KEYS);
  const includePad = checkBoolean(op, 'countIncludePad', o.countIncludePad) ?? true;
  const override = o.divisorOverride === undefined ? undefined : checkInt(op, 'divisorOverride', o.divisorOverride, { min: 1 });
  return as2d(op, x, dims, (x4) => {
    const axes = poolAxes(op, x4, dims, kernelSize, o);
    const tiled = tiledWindows(x4, axes);
    const summed = reshape(tiled ? sum(tiled, 4) : sum(im2col(x4, axes, 0), 2), [x4.shape[0], x4.shape[1], axes[0].out * axes[1].out]);
    const divisor = fromData(x4.backend, runKernel(x4.backend, 'upload', avgDivisors(axes, includePad, override), 'float32'), [axes[0].out * axes[1].out], 'float32');
    return reshape(binary('div', summed, divisor), [x4.shape[0], x4.shape[1], axes[0].out, axes[1].out]);
  });
}

/** PyTorch's avg_pool divisor per output position: the window clipped to the padded input, or to the input. */
function avgDivisors(axes: readonly [AxisGeom, AxisGeom], includePad: boolean, override: number | undefined): Float32Array {
  const per = axes.map((a) => Array.from({ length: a.out }, (_, i) => {
    const start = i * a.stride - a.padBefore;
    const end = Math.min(start + a.kernel, a.size + a.padBefore);
    return includePad ? end - start : Math.min(end, a.size) - Math.max(start, 0);
  }));
  const out = new Float32Array(axes[0].out * axes[1].out);
  for (let i = 0; i < axes[0].out; i++) for (let j = 0; j < axes[1].out; j++) out[i * axes[1].out + j] = override ?? per[0][i] * per[1][j];
  return out;
}

/**
 * 2-D max pooling (like `torch.nn.functional.max_pool2d`) of `[N, C, H, W]` or `[C, H, W]`.
 * The gradient goes to the first maximum of each window (PyTorch's choice on ties).
 *
 * @example
 * ```ts
 * maxPool2d(randn([1, 3, 8, 8]), 2).shape; // [1, 3, 4, 4]
 * maxPool2d(randn([1, 3, 7, 7]), 3, { stride: 2, padding: 1, ceilMode: true }).shape; // [1, 3, 4, 4]
 * ```
 */
export function maxPool2d(x: Tensor, kernelSize: number | readonly number[], options?: MaxPoolOptions): Tensor {
  return maxPool('maxPool2d', x, 2, kernelSize, options);
}

/**
 * 1-D max pooling (like `torch.nn.functional.max_pool1d`) of `[N, C, L]` or `[C, L]`.
 *
 * @example
 * ```ts
 * maxPool1d(randn([2, 4, 10]), 2).shape; // [2, 4, 5]
 * ```
 */
export function maxPool1d(x: Tensor, kernelSize: number | readonly number[], options?: MaxPoolOptions): Tensor {
  return maxPool('maxPool1d', x, 1, kernelSize, options);
}

/**
 * 2-D average pooling (like `torch.nn.functional.avg_pool2d`) of `[N, C, H, W]` or `[C, H, W]`.
 *
 * @example
 * ```ts
 * avgPool2d(ones([1, 1, 4, 4]), 2); // [[[[1, 1], [1, 1]]]]
 * avgPool2d(ones([1, 1, 3, 3]), 3, { stride: 1, padding: 1, countIncludePad: false }).shape; // [1, 1, 3, 3]
 * ```
 */
export function avgPool2d(x: Tensor, kernelSize: number | readonly number[], options?: AvgPoolOptions): Tensor {
  return avgPool('avgPool2d', x, 2, kernelSize, options);
}

/**
 * 1-D average pooling (like `torch.nn.functional.avg_pool1d`) of `[N, C, L]` or `[C, L]`.
 *
 * @example
 * ```ts
 * avgPool1d(tensor([[[1, 2, 3, 4]]]), 2); // [[[1.5, 3.5]]]
 * ```
 */
export function avgPool1d(x: Tensor, kernelSize: number | readonly number[], options?: AvgPoolOptions): Tensor {
  return avgPool('avgPool1d', x, 1, kernelSize, options);
}

/**
 * Adaptive 2-D average pooling (like `torch.nn.functional.adaptive_avg_pool2d`): output
 * `[..., oH, oW]`, where output row i averages input rows `floor(i*H/oH)` to `ceil((i+1)*H/oH)`
 * (exclusive). `null` in `outputSize` keeps that input size.
 *
 * @example
 * ```ts
 * adaptiveAvgPool2d(randn([2, 16, 7, 7]), 1).shape; // [2, 16, 1, 1]
 * adaptiveAvgPool2d(randn([2, 16, 7, 9]), [3, null]).shape; // [2, 16, 3, 9]
 * ```
 */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number | readonly (number | null)[]): Tensor {
  const op = 'adaptiveAvgPool2d';
  const sizes = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  if (!Array.isArray(sizes) || sizes.length !== 2) {
    throw new HeedError(op, `outputSize must be an integer or [h, w] (integers or null), got ${describeValue(outputSize)}.`);
  }
  return as2d(op, x, 2, (x4) => {
    const [h, w] = [x4.shape[2], x4.shape[3]];
    const [oh, ow] = sizes.map((s: unknown, i) => (s === null ? x4.shape[2 + i] : checkInt(op, `outputSize[${i}]`, s, { min: 1 })));
    if ((oh > 0 && h === 0) || (ow > 0 && w === 0)) throw new HeedError(op, `cannot pool an empty spatial input ${fmtShape(x.shape)}.`);
    const rows = fromData(x4.backend, runKernel(x4.backend, 'upload', adaptiveMatrix(h, oh, false), 'float32'), [oh, h], 'float32');
    const colsT = fromData(x4.backend, runKernel(x4.backend, 'upload', adaptiveMatrix(w, ow, true), 'float32'), [w, ow], 'float32');
    return matmul(matmul(rows, x4), colsT);
  });
}

/** `[out, size]` averaging matrix of adaptive pooling (or its transpose `[size, out]`). */
function adaptiveMatrix(size: number, out: number, transposed: boolean): Float32Array {
  const m = new Float32Array(size * out);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    for (let j = start; j < end; j++) m[transposed ? j * out + i : i * size + j] = 1 / (end - start);
  }
  return m;
}
