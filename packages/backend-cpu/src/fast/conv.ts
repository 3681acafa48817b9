// SPDX-License-Identifier: MIT
// Fused conv2d on the fast path: im2col straight into the WASM heap (row by row, no index table), one batched call of the
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
    // im2col: row (ci*kH + i)*kW + j, column image*positions + l; one output row at a time, the
    // valid columns as one range, zeros around it.
    const src = bufferOf(x.data, 'conv2d').array('conv2d');
    const dst = colBuf.array('conv2d');
    const [oh, ow] = p.out;
    const [sh, sw] = p.stride;
    const plane = h * w;
    for (let ci = 0; ci < c; ci++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const row = ((ci * kh + i) * kw + j) * cols;
          const off = j * p.dilation[1] - p.pad[1];
          // output columns whose input column ow*sw + off lies in [0, w)
          const lo = Math.min(ow, Math.max(0, Math.ceil(-off / sw)));
          const hi = Math.max(lo, Math.min(ow, Math.floor((w - 1 - off) / sw) + 1));
          for (let img = 0; img < n; img++) {
            const base = x.offset + (img * c + ci) * plane;
            for (let y = 0; y < oh; y++) {
              const seg = row + img * positions + y * ow;
              const ih = y * sh - p.pad[0] + i * p.dilation[0];
              if (ih < 0 || ih >= h) {
                for (let q = 0; q < ow; q++) dst[seg + q] = 0;
                continue;
              }
              for (let q = 0; q < lo; q++) dst[seg + q] = 0;
              for (let q = hi; q < ow; q++) dst[seg + q] = 0;
              const from = base + ih * w + off;
              // plain loops (short rows would pay more for subarray objects than they save)
              if (sw === 1 && hi - lo >= 64) dst.set(src.subarray(from + lo, from + hi), seg + lo);
              else for (let q = lo; q < hi; q++) dst[seg + q] = src[from + q * sw];
            }
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
