// SPDX-License-Identifier: MIT
// Plain-JS versions of the fused kernels the fast path adds to CpuBackend (softmax,
// log-softmax, GELU, LayerNorm) and of the fused Adam update. They run when a fast kernel
// declines (heap exhausted, unusual layout), so a fused method always returns a result.
// They compute in float64 per row and store float32, like the reference kernels.
import type { DataId, StridedView } from '@heed/core';
import { arrayOf, wrap, type NumArray } from '../storage.js';
import { copyStrided, rowMajorStrides, sizeOf } from '../strided.js';
import { erf } from '../math.js';
import type { AdamStep } from './rows.js';

/** A contiguous float64 copy of any view. */
function dense(x: StridedView, op: string): Float64Array {
  const out = new Float64Array(sizeOf(x.shape));
  copyStrided(out, rowMajorStrides(x.shape), 0, arrayOf(x.data, op), x.strides, x.offset, x.shape);
  return out;
}

/**
 * Softmax or log-softmax over the last axis (float32 result).
 *
 * @example
 * ```ts
 * const id = softmaxReference(x, false);
 * ```
 */
export function softmaxReference(x: StridedView, log: boolean): DataId {
  const v = dense(x, log ? 'logSoftmax' : 'softmax');
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  const out = new Float32Array(v.length);
  for (let r = 0; n > 0 && r < v.length / n; r++) {
    const o = r * n;
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, v[o + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(v[o + j] - m);
    const ls = Math.log(s);
    for (let j = 0; j < n; j++) out[o + j] = log ? v[o + j] - m - ls : Math.exp(v[o + j] - m) / s;
  }
  return wrap(out, 'float32');
}

/**
 * GELU, exact (erf) or tanh form (float32 result).
 *
 * @example
 * ```ts
 * const id = geluReference(x, 'tanh');
 * ```
 */
export function geluReference(x: StridedView, approximate: 'none' | 'tanh'): DataId {
  const v = dense(x, 'gelu');
  const out = new Float32Array(v.length);
  const c = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < v.length; i++) {
    const t = v[i];
    out[i] = approximate === 'tanh' ? 0.5 * t * (1 + Math.tanh(c * (t + 0.044715 * t * t * t))) : 0.5 * t * (1 + erf(t * Math.SQRT1_2));
  }
  return wrap(out, 'float32');
}

/**
 * LayerNorm over the last axis with optional weight and bias (float32 result).
 *
 * @example
 * ```ts
 * const id = layerNormReference(x, w, b, 1e-5);
 * ```
 */
export function layerNormReference(x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number): DataId {
  const v = dense(x, 'layerNorm');
  const w = weight ? dense(weight, 'layerNorm') : null;
  const b = bias ? dense(bias, 'layerNorm') : null;
  const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  const out = new Float32Array(v.length);
  for (let r = 0; n > 0 && r < v.length / n; r++) {
    const o = r * n;
    let mean = 0;
    for (let j = 0; j < n; j++) mean += v[o + j];
    mean /= n;
    let q = 0;
    for (let j = 0; j < n; j++) q += (v[o + j] - mean) ** 2;
    const rstd = 1 / Math.sqrt(q / n + eps);
    for (let j = 0; j < n; j++) out[o + j] = (v[o + j] - mean) * rstd * (w ? w[j] : 1) + (b ? b[j] : 0);
  }
  return wrap(out, 'float32');
}

/**
 * The Adam update in place on float32 arrays (same formula as the fused WASM kernel).
 *
 * @example
 * ```ts
 * adamReference(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000 });
 * ```
 */
export function adamReference(p: NumArray, g: NumArray, m: NumArray, v: NumArray, size: number, h: AdamStep): void {
  for (let i = 0; i < size; i++) {
    const gi = g[i];
    const mi = h.beta1 * m[i] + (1 - h.beta1) * gi;
    const vi = h.beta2 * v[i] + (1 - h.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] - (h.lr * (mi * h.c1)) / (Math.sqrt(vi * h.c2) + h.eps);
  }
}
