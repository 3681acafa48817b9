// SPDX-License-Identifier: MIT
// Fused conv2d (core's FusedKernels.conv2d) in WGSL: a direct convolution, one invocation per
// output element, which walks its input window in place (the implicit im2col row) and takes
// the dot product with its filter, padding taps skipped; the bias is added last, like core's
// fallback. No im2col buffer is materialised. Declines (null) non-float32 or non-contiguous
// views and empty outputs; core passes contiguous views (offset allowed).
import { isContiguous, sizeOf, type Conv2dParams, type DataId, type StridedView } from '@heed/core';
import type { OpKit } from './fused-ops.js';
import { memoKernel } from './kernel-cache.js';

/** md = [N, C, H, W, O, Cg, KH, KW, OH, OW, strideH, strideW, padH, padW, dilH, dilW, groups, xOff, wOff, bOff, hasBias]. */
function convKernelRaw(): string {
  return `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read> Wt: array<f32>;
@group(0) @binding(4) var<storage, read> Bs: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 64u;
  let C = md[1]; let H = md[2]; let W = md[3]; let O = md[4]; let Cg = md[5];
  let KH = md[6]; let KW = md[7]; let OH = md[8]; let OW = md[9];
  if (e >= md[0] * O * OH * OW) { return; }
  let ow = e % OW; let r1 = e / OW; let oh = r1 % OH; let r2 = r1 / OH; let oc = r2 % O; let b = r2 / O;
  let g = oc / (O / md[16]);
  let h0 = i32(oh * md[10]) - i32(md[12]);
  let w0 = i32(ow * md[11]) - i32(md[13]);
  var acc = 0.0;
  for (var ci = 0u; ci < Cg; ci = ci + 1u) {
    let xc = md[17] + (b * C + g * Cg + ci) * H * W;
    let wc = md[18] + (oc * Cg + ci) * KH * KW;
    for (var kh = 0u; kh < KH; kh = kh + 1u) {
      let ih = h0 + i32(kh * md[14]);
      if (ih < 0 || ih >= i32(H)) { continue; }
      for (var kw = 0u; kw < KW; kw = kw + 1u) {
        let iw = w0 + i32(kw * md[15]);
        if (iw < 0 || iw >= i32(W)) { continue; }
        acc = fma(X[xc + u32(ih) * W + u32(iw)], Wt[wc + kh * KW + kw], acc);
      }
    }
  }
  if (md[20] != 0u) { acc = acc + Bs[md[19] + oc]; }
  outBuf[e] = acc;
}`;
}

const convKernel = memoKernel(convKernelRaw);

/**
 * conv2d of contiguous float32 views with core's checked geometry: a new `[N, O, outH, outW]`
 * buffer, or null to decline.
 *
 * @example
 * ```ts
 * const id = conv2dOp(backend, x, w, null, { stride: [1, 1], pad: [1, 1], dilation: [1, 1], groups: 1, out: [8, 8] });
 * ```
 */
export function conv2dOp(kit: OpKit, x: StridedView, weight: StridedView, bias: StridedView | null, p: Conv2dParams): DataId | null {
  kit.views('conv2d', x, weight, bias);
  const views = bias ? [x, weight, bias] : [x, weight];
  if (views.some((v) => v.dtype !== 'float32' || !isContiguous(v.shape, v.strides))) return null;
  const [n, c, h, w] = x.shape;
  const [o, cg, kh, kw] = weight.shape;
  const size = n * o * p.out[0] * p.out[1];
  if (size === 0 || sizeOf(weight.shape) === 0) return null;
  return kit.produce(size, 'float32', 'conv2d', (out) => {
    const xd = kit.data(x.data, 'conv2d').buffer;
    const meta = Uint32Array.from([
      n, c, h, w, o, cg, kh, kw, p.out[0], p.out[1], p.stride[0], p.stride[1], p.pad[0], p.pad[1], p.dilation[0], p.dilation[1],
      p.groups, x.offset, weight.offset, bias?.offset ?? 0, bias ? 1 : 0,
    ]);
    const buffers = [out.buffer, xd, kit.data(weight.data, 'conv2d').buffer, bias ? kit.data(bias.data, 'conv2d').buffer : xd];
    kit.runtime.dispatch('conv2d', convKernel(), buffers, meta, kit.perOutput(size, 'conv2d'));
  });
}
