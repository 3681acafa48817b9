// SPDX-License-Identifier: MIT
// Gradient hooks: registerHook (leaf and intermediate, replacing the gradient), post-accumulate
// hooks (run as each leaf's gradient becomes final, during backward), accumulation over two
// backward calls, removal, higher-order gradients, errors, and no leaked tensors.
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import { HeedError, grad, memory, tensor, type Tensor } from '@heed/core';

describe('registerHook', () => {
  it('replaces the gradient of a leaf before it reaches .grad', () => {
    const w = tensor([1, -2, 3], { requiresGrad: true });
    const seen: number[][] = [];
    w.registerHook((g) => { seen.push(Array.from(g.dataSync())); });
    w.registerHook((g) => g.mul(10));
    w.square().sum().backward();
    expect(seen).toEqual([[2, -4, 6]]); // hooks run in registration order, the first sees 2w
    expectClose(w.grad!, [20, -40, 60], [3]);
  });

  it('sees the summed gradient of an intermediate once and changes what flows further', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(3);
    let calls = 0;
    y.registerHook((g) => { calls++; expectClose(g, [5, 5], [2]); return g.mul(2); });
    y.mul(2).add(y.mul(3)).sum().backward(); // dL/dy = 5 (2 + 3), summed before the hook
    expect(calls).toBe(1);
    expectClose(x.grad!, [30, 30], [2]); // 3 * (2 * 5)
  });

  it('stops after remove() (twice is safe)', () => {
    const w = tensor([2], { requiresGrad: true });
    const h = w.registerHook((g) => g.mul(100));
    h.remove();
    h.remove();
    w.mul(3).sum().backward();
    expectClose(w.grad!, [3], [1]);
  });

  it('leaves higher-order gradients alone: functional grad runs no leaf hooks, createGraph keeps the graph', () => {
    const x = tensor([2], { requiresGrad: true });
    let calls = 0;
    x.registerHook((g) => { calls++; return g.mul(2); });
    const d2 = grad((a: Tensor) => grad((b: Tensor) => b.pow(3).sum())(a).sum())(x);
    expectClose(d2, [12], [1]); // 6x, untouched by the hook
    expect(calls).toBe(0);
    expect(x.grad).toBeNull();
    x.pow(3).sum().backward({ createGraph: true });
    expect(calls).toBe(1);
    const gx = x.grad!;
    expectClose(gx, [24], [1]); // 2 * 3x^2
    expect(gx.requiresGrad).toBe(true);
    x.grad = null;
    gx.sum().backward(); // d/dx (2 * 3x^2) = 12x = 24, doubled by the hook again (PyTorch does the same)
    expectClose(x.grad!, [48], [1]);
    gx.dispose();
  });

  it('rejects tensors without grad and hooks returning another shape, without leaking', () => {
    expect(() => tensor([1]).registerHook((g) => g)).toThrow(HeedError);
    expect(() => tensor([1]).registerHook((g) => g)).toThrow(/does not require grad/);
    const w = tensor([1, 2], { requiresGrad: true });
    w.registerHook(() => tensor([1, 2, 3]));
    const before = memory().numTensors;
    const sq = w.square();
    const loss = sq.sum();
    expect(() => loss.backward()).toThrow(/same shape and dtype/);
    sq.dispose();
    loss.dispose();
    expect(memory().numTensors).toBe(before);
    expect(w.grad).toBeNull();
  });
});

describe('registerPostAccumulateGradHook', () => {
  it('runs as each leaf becomes final, in that order, while backward is still running', () => {
    // a is created first but used last: its gradient is final before b's.
    const a = tensor([2], { requiresGrad: true });
    const b = tensor([3], { requiresGrad: true });
    const x = tensor([5]);
    const order: string[] = [];
    a.registerPostAccumulateGradHook((p) => {
      order.push('a');
      expect(p).toBe(a);
      expectClose(p.grad!, [15], [1]); // x * b
      expect(b.grad).toBeNull(); // b's gradient is not computed yet
    });
    b.registerPostAccumulateGradHook((p) => {
      order.push('b');
      expectClose(p.grad!, [10], [1]); // x * a
    });
    x.mul(b).mul(a).sum().backward();
    expect(order).toEqual(['a', 'b']);
  });

  it('runs once per backward for a leaf used several times, after all contributions, with the accumulated .grad', () => {
    const w = tensor([1, 2], { requiresGrad: true });
    const seen: number[][] = [];
    const pre: number[][] = [];
    w.registerHook((g) => { pre.push(Array.from(g.dataSync())); });
    const h = w.registerPostAccumulateGradHook((p) => { seen.push(Array.from(p.grad!.dataSync())); });
    w.mul(2).add(w.square()).sum().backward(); // 2 + 2w
    w.mul(3).sum().backward(); // + 3
    expect(pre).toEqual([[4, 6], [3, 3]]); // the hook sees this backward's gradient
    expect(seen).toEqual([[4, 6], [7, 9]]); // the post hook sees the accumulated .grad
    h.remove();
    w.sum().backward();
    expect(seen.length).toBe(2);
  });

  it('is refused on non-leaf tensors and on tensors without grad', () => {
    const x = tensor([1], { requiresGrad: true });
    expect(() => x.mul(2).registerPostAccumulateGradHook(() => {})).toThrow(/only be registered on leaf tensors/);
    expect(() => tensor([1]).registerPostAccumulateGradHook(() => {})).toThrow(HeedError);
  });
});
