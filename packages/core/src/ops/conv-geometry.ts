// SPDX-License-Identifier: MIT
// Shared geometry of convolution and pooling (one source for the formulas): per-axis
// arguments (int or tuple), output sizes (PyTorch's, incl. ceil_mode), the window index
// tables that turn im2col / col2im into one indexSelect / scatterAdd, and both of them.
// Every table addresses the flattened spatial positions of one channel plus one extra slot
// (index = spatial size) that holds the padding value, so padding needs no padded copy.
import type { Backend } from '../backend.js';
import { HeedError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { checkInt, describeValue } from '../validate.js';
import { fromData } from './operands.js';
import { full, zeros } from './creation.js';
import { indexSelect, scatterAdd } from './indexing.js';
import { concat } from './join.js';
import { expand, narrow, reshape } from './views.js';
import { runKernel } from '../kernel-dispatch.js';

/** One spatial axis of a convolution or pooling window. */
export interface AxisGeom {
  /** Input size along the axis. */
  readonly size: number;
  /** Kernel (window) size. */
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  /** Padding before the first element. */
  readonly padBefore: number;
  /** Output size along the axis. */
  readonly out: number;
}

/**
 * An int, or a tuple of `n` ints, each >= `min`: returns the `n` values.
 * A 1-element tuple is accepted for any `n` (like PyTorch's `_ntuple`).
 */
export function tupleArg(op: string, name: string, value: unknown, n: number, min: number): number[] {
  if (typeof value === 'number') return new Array<number>(n).fill(checkInt(op, name, value, { min }));
  if (Array.isArray(value) && (value.length === n || value.length === 1)) {
    const vals = value.map((v: unknown, i) => checkInt(op, `${name}[${i}]`, v, { min }));
    return vals.length === n ? vals : new Array<number>(n).fill(vals[0]);
  }
  throw new HeedError(op, `${name} must be an integer or an array of ${n} integers (>= ${min}), got ${describeValue(value)}.`);
}

/** Checks `x` is float32 of rank `rank` (named layout in the message). */
export function checkInput(op: string, x: Tensor, rank: number, layout: string): void {
  if (x.rank !== rank) {
    throw new HeedError(op, `expects input ${layout} (rank ${rank}, or ${rank - 1} without the batch dimension), got ${fmtShape(x.shape)}; ` +
      'reshape it to that layout.');
  }
  if (x.dtype !== 'float32') throw new HeedError(op, `expects a float32 input, got ${x.dtype}; cast with .float().`);
}

/**
 * Output size of a sliding window: `floor((size + pads - dilation*(kernel-1) - 1) / stride) + 1`,
 * with ceil_mode rounding up but never starting a window inside the right padding (PyTorch).
 */
export function windowOut(size: number, kernel: number, stride: number, dilation: number, padBefore: number, padAfter: number, ceilMode = false): number {
  const span = size + padBefore + padAfter - dilation * (kernel - 1) - 1;
  let out = Math.floor((span + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  if (ceilMode && (out - 1) * stride >= size + padBefore) out--;
  return out;
}

/** Throws when an output size is below 1, naming the input, kernel and fix. */
export function checkOut(op: string, x: Tensor, axes: readonly AxisGeom[]): void {
  if (axes.some((a) => a.out < 1)) {
    throw new HeedError(op, `the input ${fmtShape(x.shape)} is too small for kernel [${axes.map((a) => a.kernel).join(', ')}] ` +
      `(dilation [${axes.map((a) => a.dilation).join(', ')}], padding [${axes.map((a) => a.padBefore).join(', ')}]): ` +
      `the output would be [${axes.map((a) => a.out).join(', ')}]; use a smaller kernel or more padding.`);
  }
}

function spatialSize(axes: readonly AxisGeom[]): number {
  return axes.reduce((p, a) => p * a.size, 1);
}

/**
 * im2col table for 2 axes, ordered `[k0, k1, o0, o1]`: the flat input position each kernel
 * tap of each output position reads (the padding slot when it falls outside the input).
 */
export function windowIndex(axes: readonly [AxisGeom, AxisGeom]): Int32Array {
  const [h, w] = axes;
  const pad = spatialSize(axes);
  const table = new Int32Array(h.kernel * w.kernel * h.out * w.out);
  let i = 0;
  for (let kh = 0; kh < h.kernel; kh++) {
    for (let kw = 0; kw < w.kernel; kw++) {
      for (let oh = 0; oh < h.out; oh++) {
        const ih = oh * h.stride - h.padBefore + kh * h.dilation;
        for (let ow = 0; ow < w.out; ow++) {
          const iw = ow * w.stride - w.padBefore + kw * w.dilation;
          table[i++] = ih >= 0 && ih < h.size && iw >= 0 && iw < w.size ? ih * w.size + iw : pad;
        }
      }
    }
  }
  return table;
}

/** A 1-D int32 tensor of `values` on `backend` (not tracked by autograd). */
export function indexTensor(backend: Backend, values: Int32Array): Tensor {
  return fromData(backend, runKernel(backend, 'upload', values, 'int32'), [values.length], 'int32');
}

/**
 * im2col of `x` `[N, C, H, W]`: `[N, C, k0*k1, o0*o1]`, reading `padValue` outside the input.
 * Differentiable in `x` (its gradient is the col2im scatter of indexSelect's rule).
 */
export function im2col(x: Tensor, axes: readonly [AxisGeom, AxisGeom], padValue: number): Tensor {
  const [n, c] = x.shape;
  const spatial = spatialSize(axes);
  const flat = reshape(x, [n, c, spatial]);
  const padSlot = full([n, c, 1], padValue, { backend: x.backend.name });
  const ext = concat([flat, padSlot], 2);
  const index = indexTensor(x.backend, windowIndex(axes));
  const cols = indexSelect(ext, 2, index);
  const out = reshape(cols, [n, c, axes[0].kernel * axes[1].kernel, axes[0].out * axes[1].out]);
  for (const t of [flat, padSlot, ext, index, cols]) if (t !== out) t.dispose();
  return out;
}

/**
 * col2im, the adjoint of {@link im2col}: `cols` `[N, C, k0*k1*o0*o1]` (ordered like im2col's
 * output) summed into `[N, C, H, W]` at the positions im2col read (padding taps dropped).
 * Differentiable in `cols` (its gradient is im2col's gather).
 */
export function col2im(cols: Tensor, axes: readonly [AxisGeom, AxisGeom]): Tensor {
  const [n, c, len] = cols.shape;
  const spatial = spatialSize(axes);
  const index = expand(reshape(indexTensor(cols.backend, windowIndex(axes)), [1, 1, len]), [n, c, len]);
  const summed = scatterAdd(zeros([n, c, spatial + 1], { backend: cols.backend.name }), 2, index, cols);
  return reshape(narrow(summed, 2, 0, spatial), [n, c, axes[0].size, axes[1].size]);
}
