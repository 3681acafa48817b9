// SPDX-License-Identifier: MIT
// conv2d / conv1d / convTranspose2d / pooling against independent oracles written here as
// plain loops (direct convolution, explicit window scans), the adjoint identity
// <conv2d(x, w), y> = <x, convTranspose2d(y, w)>, the fused-kernel decline path, zero-size
// batches and second-order gradients. (PyTorch's values are checked by the conformance suite's
// conv cases, fixtures/conv.json.)
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import {
  Generator, adaptiveAvgPool2d, avgPool1d, avgPool2d, conv1d, conv2d, convTranspose2d, getBackend, grad, maxPool1d, maxPool2d,
  memory, randn, tensor, valueAndGrad, zeros, type Tensor,
} from '@heed/core';

interface Geo { stride: [number, number]; pad: [number, number]; dil: [number, number]; groups: number }

/** Direct convolution by definition (float64 accumulation). */
function directConv(x: Float32Array, xs: number[], w: Float32Array, ws: number[], g: Geo, bias?: Float32Array): { out: number[]; shape: number[] } {
  const [n, c, h, wd] = xs;
  const [o, cg, kh, kw] = ws;
  const oh = Math.floor((h + 2 * g.pad[0] - g.dil[0] * (kh - 1) - 1) / g.stride[0]) + 1;
  const ow = Math.floor((wd + 2 * g.pad[1] - g.dil[1] * (kw - 1) - 1) / g.stride[1]) + 1;
  const og = o / g.groups;
  const out: number[] = [];
  for (let b = 0; b < n; b++) for (let oc = 0; oc < o; oc++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    let s = bias ? bias[oc] : 0;
    const grp = Math.floor(oc / og);
    for (let ci = 0; ci < cg; ci++) for (let a = 0; a < kh; a++) for (let q = 0; q < kw; q++) {
      const y = i * g.stride[0] - g.pad[0] + a * g.dil[0];
      const z = j * g.stride[1] - g.pad[1] + q * g.dil[1];
      if (y < 0 || y >= h || z < 0 || z >= wd) continue;
      s += x[((b * c + grp * cg + ci) * h + y) * wd + z] * w[((oc * cg + ci) * kh + a) * kw + q];
    }
    out.push(s);
  }
  return { out, shape: [n, o, oh, ow] };
}

const gen = new Generator(11);
const rand = (shape: number[]) => randn(shape, { generator: gen });

describe('conv2d against a direct convolution', () => {
  const geos: [string, number[], number[], Geo][] = [
    ['plain', [2, 3, 6, 5], [4, 3, 3, 3], { stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 1 }],
    ['stride, padding, dilation tuples', [1, 2, 9, 8], [3, 2, 3, 2], { stride: [2, 1], pad: [1, 2], dil: [2, 1], groups: 1 }],
    ['groups', [2, 6, 5, 5], [9, 2, 3, 3], { stride: [1, 2], pad: [1, 1], dil: [1, 1], groups: 3 }],
    ['depthwise', [1, 4, 7, 7], [4, 1, 3, 3], { stride: [2, 2], pad: [1, 1], dil: [1, 1], groups: 4 }],
  ];
  for (const [label, xs, ws, g] of geos) {
    it(label, () => {
      const x = rand(xs);
      const w = rand(ws);
      const b = rand([ws[0]]);
      const want = directConv(x.dataSync() as Float32Array, xs, w.dataSync() as Float32Array, ws, g, b.dataSync() as Float32Array);
      const got = conv2d(x, w, { bias: b, stride: g.stride, padding: g.pad, dilation: g.dil, groups: g.groups });
      expectClose(got, want.out, want.shape, 1e-4);
    });
  }

  it('the fused kernel declining gives the same values and gradients', () => {
    const backend = getBackend();
    const original = backend.conv2d;
    const x = rand([2, 3, 6, 6]);
    const w = rand([4, 3, 3, 3]);
    const run = () => {
      const out = conv2d(x, w, { padding: 1, stride: 2 });
      const gx = grad((t: Tensor) => conv2d(t, w, { padding: 1, stride: 2 }).square().sum())(x);
      return [Array.from(out.dataSync()), Array.from(gx.dataSync())];
    };
    const [withKernel, gradWith] = run();
    let calls = 0;
    backend.conv2d = () => { calls++; return null; };
    try {
      const [declined, gradDeclined] = run();
      expect(calls).toBeGreaterThan(0);
      declined.forEach((v, i) => expect(v).toBeCloseTo(withKernel[i], 4));
      gradDeclined.forEach((v, i) => expect(v).toBeCloseTo(gradWith[i], 4));
    } finally {
      if (original) backend.conv2d = original;
      else delete backend.conv2d;
    }
  });
});

describe('convTranspose2d', () => {
  it('is the adjoint of conv2d: <conv2d(x, w), y> = <x, convTranspose2d(y, w)>', () => {
    const x = rand([2, 4, 7, 6]);
    const w = rand([6, 2, 3, 2]);
    const opts = { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 } as const;
    const y = conv2d(x, w, opts);
    const v = rand(y.shape as number[]);
    // conv2d's weight [O, C/g, kH, kW] is convTranspose2d's [in = O, out/g = C/g, kH, kW]; outputPadding recovers H=7.
    const back = convTranspose2d(v, w, { ...opts, outputPadding: [0, 0] });
    expect([...back.shape]).toEqual([2, 4, 7, 6]);
    const lhs = y.mul(v).sum().dataSync()[0];
    const rhs = x.mul(back).sum().dataSync()[0];
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * (1 + Math.abs(lhs)));
  });

  it('outputPadding adds rows at the end: output size formula', () => {
    const out = convTranspose2d(zeros([1, 2, 4, 5]), zeros([2, 3, 3, 3]), { stride: [2, 3], padding: 1, outputPadding: [1, 2] });
    expect([...out.shape]).toEqual([1, 3, (4 - 1) * 2 - 2 + 2 + 1 + 1, (5 - 1) * 3 - 2 + 2 + 2 + 1]);
  });
});

describe('pooling against explicit window scans', () => {
  it('maxPool2d with padding and ceil mode; the gradient goes to the first maximum of each window', () => {
    // 1 x 1 x 3 x 4 with ties: windows 2x2, stride 2, ceilMode -> 2 x 2 outputs (last column window is 2 wide, last row 1 tall)
    const x = tensor([[[[1, 3, 3, 0], [3, 2, 5, 5], [4, 4, 1, 2]]]]);
    expectClose(maxPool2d(x, 2, { ceilMode: true }), [3, 5, 4, 2], [1, 1, 2, 2]);
    const g = grad((t: Tensor) => maxPool2d(t, 2, { ceilMode: true }).sum())(x);
    expectClose(g, [0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 1], [1, 1, 3, 4]);
  });

  it('avgPool2d divisors: countIncludePad and windows clipped by ceil mode', () => {
    const x = tensor([[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]);
    // kernel 2, stride 2, padding 1 -> windows over rows {-1,0}, {1,2} and the same columns.
    expectClose(avgPool2d(x, 2, { padding: 1 }), [1 / 4, 5 / 4, 11 / 4, 28 / 4], [1, 1, 2, 2]);
    expectClose(avgPool2d(x, 2, { padding: 1, countIncludePad: false }), [1, 5 / 2, 11 / 2, 28 / 4], [1, 1, 2, 2]);
    // ceil mode without padding: the last window holds only row/column 2 and divides by what it covers.
    expectClose(avgPool2d(x, 2, { ceilMode: true }), [3, 4.5, 7.5, 9], [1, 1, 2, 2]);
  });

  it('adaptiveAvgPool2d uses floor(i*H/oH) .. ceil((i+1)*H/oH)', () => {
    const x = tensor([[[[1, 2, 3, 4, 5]]]]);
    // W 5 -> 3: [0, 2), [1, 4), [3, 5)
    expectClose(adaptiveAvgPool2d(x, [1, 3]), [1.5, 3, 4.5], [1, 1, 1, 3]);
  });
});

describe('edge cases', () => {
  it('an empty batch gives an empty output and empty gradients', () => {
    const x = zeros([0, 3, 5, 5]).requiresGrad_();
    const w = rand([2, 3, 3, 3]).requiresGrad_();
    const y = conv2d(x, w, { padding: 1 });
    expect([...y.shape]).toEqual([0, 2, 5, 5]);
    y.sum().backward();
    expect([...(x.grad as Tensor).shape]).toEqual([0, 3, 5, 5]);
    expectClose(w.grad as Tensor, new Array<number>(54).fill(0), [2, 3, 3, 3]);
    expect([...maxPool2d(zeros([0, 2, 4, 4]), 2).shape]).toEqual([0, 2, 2, 2]);
  });

  it('second-order gradient: d/dw of |d conv/dx|^2 matches its closed form', () => {
    // f(x, w) = sum(conv1d(x, w)) is linear in x: df/dx = convT(1, w), so g(w) = sum((df/dx)^2)
    // and dg/dw_k = 2 * sum_i (df/dx)_i * d(df/dx)_i/dw_k; with one channel and stride 1,
    // (df/dx)_i = sum of the taps of w that cover i.
    const w = tensor([[[0.5, -1, 2]]]);
    const x = zeros([1, 1, 5]).requiresGrad_(); // so the inner grad records its graph
    const g2 = grad((ww: Tensor) => grad((xx: Tensor) => conv1d(xx, ww).sum())(x).square().sum())(w);
    // coverage: i=0 {w0}, 1 {w0,w1}, 2 {w0,w1,w2}, 3 {w1,w2}, 4 {w2} -> s = [0.5, -0.5, 1.5, 1, 2]
    const s = [0.5, -0.5, 1.5, 1, 2];
    expectClose(g2, [2 * (s[0] + s[1] + s[2]), 2 * (s[1] + s[2] + s[3]), 2 * (s[2] + s[3] + s[4])], [1, 1, 3], 1e-4);
  });

  it('every op frees its intermediates (forward alone, and forward + backward), fused or not', () => {
    const x = rand([2, 4, 7, 6]);
    const w = rand([6, 2, 3, 3]);
    const b = rand([6]);
    const wt = rand([4, 3, 2, 2]);
    const w2 = rand([6, 4, 3, 3]);
    const w1 = rand([6, 2, 3]);
    const x1 = rand([2, 4, 9]);
    const ops: [Tensor, (t: Tensor) => Tensor][] = [
      [x, (t) => conv2d(t, w, { bias: b, groups: 2, padding: 1 })],
      [x, (t) => conv2d(t, w2, { stride: 2, padding: 'valid' })],
      [x1, (t) => conv1d(t, w1, { groups: 2, padding: 'same' })],
      [x, (t) => convTranspose2d(t, wt, { stride: 2, outputPadding: 1 })],
      [x, (t) => maxPool2d(t, 2)],
      [x, (t) => maxPool2d(t, 3, { stride: 2, padding: 1, ceilMode: true })],
      [x, (t) => avgPool2d(t, 3, { stride: 1, countIncludePad: false, padding: 1 })],
      [x1, (t) => maxPool1d(t, 3)],
      [x1, (t) => avgPool1d(t, 2)],
      [x, (t) => adaptiveAvgPool2d(t, [3, 2])],
    ];
    const backend = getBackend();
    const original = backend.conv2d;
    try {
      for (const fused of [true, false]) {
        if (!fused) delete backend.conv2d;
        ops.forEach(([input, f], i) => {
          const before = memory();
          const y = f(input);
          expect(memory().numTensors, `op ${i} forward (fused ${fused})`).toBe(before.numTensors + 1);
          y.dispose();
          const { value, grads } = valueAndGrad((t: Tensor) => f(t).square().sum())(input);
          expect(memory().numTensors, `op ${i} forward + backward (fused ${fused})`).toBe(before.numTensors + 2);
          value.dispose();
          grads.forEach((g) => g.dispose());
          expect(memory().numBuffers, `op ${i} buffers (fused ${fused})`).toBe(before.numBuffers);
        });
      }
    } finally {
      if (original) backend.conv2d = original;
    }
  });
});
