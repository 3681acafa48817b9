// SPDX-License-Identifier: MIT
// Fused conv2d on the fast path: im2col straight into the WASM heap, one batched call of the
// WASM GEMM (asm/gemm.ts through fastMatmul) over the channel groups, then one pass that
// reorders the product to NCHW and adds the bias. The im2col matrix is laid out
// `[C * kH * kW, N * oH * oW]` (rows: channel-major taps; columns: every image's output
// positions side by side), so groups are a batch of the GEMM and all images share one
// product. Returns null (core's fallback runs) for non-float32 input or a full heap; frees
// every block it took either way.
import type { Conv2dParams, DataId, StridedView } from '@heed/core';
import { bufferOf } from '../storage.js';
import { HeapBuffer } from './buffer.js';
import { fastMatmul } from './matmul.js';
import type { FastRuntime } from './runtime.js';

/**
 * For each kernel tap t and output position l (row-major `[t, l]`), the offset of the input
 * element it reads within one channel plane, or -1 for padding.
 *
 * @example
 * ```ts
 * convTapTable([3, 3], [3, 3], { stride: [1, 1], pad: [1, 1], dilation: [1, 1], groups: 1, out: [3, 3] })[0]; // -1
 * ```
 */
export function convTapTable(size: readonly [number, number], kernel: readonly [number, number], p: Conv2dParams): Int32Array {
  const [h, w] = size;
  const [oh, ow] = p.out;
  const table = new Int32Array(kernel[0] * kernel[1] * oh * ow);
  let i = 0;
  for (let kh = 0; kh < kernel[0]; kh++) {
    for (let kw = 0; kw < kernel[1]; kw++) {
      for (let y = 0; y < oh; y++) {
        const ih = y * p.stride[0] - p.pad[0] + kh * p.dilation[0];
        for (let x = 0; x < ow; x++) {
          const iw = x * p.stride[1] - p.pad[1] + kw * p.dilation[1];
          table[i++] = ih >= 0 && ih < h && iw >= 0 && iw < w ? ih * w + iw : -1;
        }
      }
    }
  }
  return table;
}

/**
 * conv2d of contiguous float32 views (core's {@link Conv2dParams} geometry), or null to decline.
 *
 * @example
 * ```ts
 * const id = fastConv2d(rt, x, w, null, params) ?? null; // null: core's im2col fallback runs
 * ```
 */
export function fastConv2d(rt: FastRuntime, x: StridedView, weight: StridedView, bias: StridedView | null, p: Conv2dParams): DataId | null {
  if (x.dtype !== 'float32' || weight.dtype !== 'float32' || (bias !== null && bias.dtype !== 'float32')) return null;
  const [n, c, h, w] = x.shape;
  const [o, cg, kh, kw] = weight.shape;
  const g = p.groups;
  const taps = kh * kw;
  const positions = p.out[0] * p.out[1];
  const cols = n * positions;
  if (n * o * positions === 0 || cg * taps === 0) return null;
  const colBuf = HeapBuffer.alloc(rt.heap, c * taps * cols);
  if (colBuf === null) return null;
  let product: HeapBuffer | null = null;
  try {
    // im2col: row ci*taps + t, column image*positions + l.
    const src = bufferOf(x.data, 'conv2d').array('conv2d');
    const dst = colBuf.array('conv2d');
    const table = convTapTable([h, w], [kh, kw], p);
    const plane = h * w;
    for (let ci = 0; ci < c; ci++) {
      for (let t = 0; t < taps; t++) {
        const row = (ci * taps + t) * cols;
        const tab = t * positions;
        for (let img = 0; img < n; img++) {
          const base = x.offset + (img * c + ci) * plane;
          const at = row + img * positions;
          for (let l = 0; l < positions; l++) {
            const idx = table[tab + l];
            dst[at + l] = idx < 0 ? 0 : src[base + idx];
          }
        }
      }
    }
    const k = cg * taps;
    const og = o / g;
    const a: StridedView = { data: weight.data, dtype: 'float32', shape: [g, og, k], strides: [og * k, k, 1], offset: weight.offset };
    const b: StridedView = { data: colBuf, dtype: 'float32', shape: [g, k, cols], strides: [k * cols, cols, 1], offset: 0 };
    product = fastMatmul(rt, a, b) as HeapBuffer | null; // [g, O/g, N*L] = [O, N, L]
    if (product === null) return null;
    const out = HeapBuffer.alloc(rt.heap, n * o * positions);
    if (out === null) return null;
    const prod = product.array('conv2d');
    const res = out.array('conv2d');
    const bv = bias === null ? null : bufferOf(bias.data, 'conv2d').array('conv2d');
    const boff = bias?.offset ?? 0;
    for (let oc = 0; oc < o; oc++) {
      const add = bv === null ? 0 : bv[boff + oc];
      for (let img = 0; img < n; img++) {
        const from = (oc * n + img) * positions;
        const to = (img * o + oc) * positions;
        if (add === 0) res.set(prod.subarray(from, from + positions), to);
        else for (let l = 0; l < positions; l++) res[to + l] = prod[from + l] + add;
      }
    }
    return out;
  } finally {
    colBuf.release();
    product?.release();
  }
}
