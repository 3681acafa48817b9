// SPDX-License-Identifier: MIT
// Autograd engine: backward into .grad, accumulation, broadcasting reductions, functional
// grad/valueAndGrad, higher-order gradients, noGrad, customGrad, detach, retainGraph errors.
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import {
  HeedError, customGrad, detach, grad, noGrad, tensor, valueAndGrad, zeros, matmul, type Tensor,
} from '@heed/core';

describe('backward()', () => {
  it('computes d/dx sum(x*x) = 2x on a leaf', () => {
    const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    x.mul(x).sum().backward();
    expectClose(x.grad!, [2, 4, 6, 8], [2, 2]);
  });

  it('accumulates across calls and un-broadcasts to the input shape', () => {
    const b = tensor([1, 2, 3], { requiresGrad: true });
    const x = tensor([[1, 1, 1], [2, 2, 2]]);
    x.add(b).sum().backward();
    x.mul(b).sum().backward();
    expectClose(b.grad!, [2 + 3, 2 + 3, 2 + 3], [3]);
  });

  it('flows through views, matmul and reductions', () => {
    const w = tensor([[1, 2], [3, 4], [5, 6]], { requiresGrad: true });
    const x = tensor([[1, 0, -1]]);
    const y = matmul(x, w).transpose().reshape([2]).mean();
    y.backward();
    // dy/dw[i][j] = x[i] / 2
    expectClose(w.grad!, [0.5, 0.5, 0, 0, -0.5, -0.5], [3, 2]);
  });

  it('refuses a second backward without retainGraph, allows it with', () => {
    const x = tensor([3], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward({ retainGraph: true });
    y.backward();
    expectClose(x.grad!, [2 * Math.exp(3)], [1], 1e-5);
    expect(() => y.backward()).toThrow(/second time/);
  });

  it('rejects non-scalar outputs without a gradient and tensors without grad', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(HeedError);
    expect(() => tensor([1]).sum().backward()).toThrow(/does not require grad/);
  });
});

describe('functional API', () => {
  it('grad and valueAndGrad are pure', () => {
    const f = (x: Tensor) => x.pow(3).sum();
    const x = tensor([2, -1]);
    const { value, grads } = valueAndGrad(f)(x);
    expectClose(value, [7], []);
    expectClose(grads[0], [12, 3], [2]);
    expect(x.grad).toBeNull();
  });

  it('nests for higher-order derivatives', () => {
    const d1 = (x: Tensor) => grad((y: Tensor) => y.pow(3).sum())(x);
    const d2 = grad((x: Tensor) => d1(x).sum());
    expectClose(d2(tensor([2, 3])), [12, 18], [2]);
    const d3 = grad((x: Tensor) => grad((z: Tensor) => d1(z).sum())(x).sum());
    expectClose(d3(tensor([5])), [6], [1]);
  });

  it('backward with createGraph gives differentiable gradients', () => {
    const x = tensor([1.5], { requiresGrad: true });
    const y = x.sin().sum();
    y.backward({ createGraph: true });
    const g = x.grad!; // cos(x)
    x.grad = null;
    g.sum().backward();
    expectClose(x.grad!, [-Math.sin(1.5)], [1]);
  });

  it('returns zeros for inputs the output does not depend on', () => {
    const g = grad((_a: Tensor, b: Tensor) => b.sum())(tensor([1, 2]), tensor([3]));
    expectClose(g, [0, 0], [2]);
  });
});

describe('graph control', () => {
  it('noGrad stops recording; detach cuts the graph', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    expect(noGrad(() => w.mul(2)).requiresGrad).toBe(false);
    const d = detach(w.mul(3));
    expect(d.requiresGrad).toBe(false);
    expect(w.mul(d).sum().requiresGrad).toBe(true);
  });

  it('customGrad uses the provided backward', () => {
    const clipped = customGrad((x: Tensor) => ({ value: x.mul(1), backward: (dy: Tensor) => [dy.clamp(-1, 1)] }));
    const x = tensor([1, 2], { requiresGrad: true });
    clipped(x).mul(10).sum().backward();
    expectClose(x.grad!, [1, 1], [2]);
  });

  it('gradients of max split ties evenly', () => {
    const x = tensor([1, 3, 3], { requiresGrad: true });
    x.max().backward();
    expectClose(x.grad!, [0, 0.5, 0.5], [3]);
  });

  it('only float tensors can require grad', () => {
    expect(() => zeros([2], { dtype: 'int32' }).requiresGrad_()).toThrow(/float/);
  });
});

describe('clamp and creation details', () => {
  it('clamp passes the gradient at the bounds like torch', () => {
    const x = tensor([0, 0.5, 1, 2], { requiresGrad: true });
    x.clamp(0, 1).sum().backward();
    expectClose(x.grad!, [1, 1, 1, 0], [4]);
  });

  it('tensor() accepts a flat plain array with a shape', () => {
    expectClose(tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }), [1, 2, 3, 4, 5, 6], [2, 3]);
  });
});

describe('attention masks', () => {
  it('fully masked rows give zeros (bool and -Infinity float masks), with finite gradients', async () => {
    const { scaledDotProductAttention } = await import('@heed/core');
    const q = tensor([[[1, 0], [0, 1]]], { requiresGrad: true });
    const kv = tensor([[[1, 2], [3, 4]]]);
    const boolMask = tensor([[true, true], [false, false]]);
    const floatMask = tensor([[0, 0], [-Infinity, -Infinity]]);
    for (const m of [boolMask, floatMask]) {
      const out = scaledDotProductAttention(q, kv, kv, { attnMask: m });
      const values = Array.from(out.dataSync());
      expect(values.slice(2)).toEqual([0, 0]);
      out.sum().backward();
      expect(Array.from(q.grad!.dataSync()).every(Number.isFinite)).toBe(true);
      q.grad = null;
    }
  });
});
