// SPDX-License-Identifier: MIT
// Gradient rules at the points where a naive formula divides by zero or multiplies 0 by inf:
// prod at zeros (first and second order, any axes), pow at a = 0 and b = 0, maximum/minimum,
// relu and clamp with NaN, abs at NaN, rsqrt at -0 and -inf, div with huge/tiny divisors, std
// of a constant row, remainder's divisor gradient at infinities. Expected values are PyTorch 1.13's
// (float64 runs, quoted in each test) or, for second derivatives, the analytic Hessian.
import { describe, expect, it } from 'vitest';
import { expectValues } from './setup.js';
import { grad, maximum, minimum, pow, prod, remainder, std, tensor, valueAndGrad, type Tensor } from '@heed/core';

/** Gradient of sum(f(x)) at x. */
function gradOf(f: (x: Tensor) => Tensor, values: number[], shape?: number[]): Tensor {
  return grad((x: Tensor) => f(x).sum())(tensor(values, { shape }));
}

/** The analytic Hessian-vector product of prod over one slice: H_ij = prod_{k != i, j} x_k. */
function prodHvp(x: number[], v: number[]): number[] {
  return x.map((_, i) => {
    let s = 0;
    for (let j = 0; j < x.length; j++) {
      if (j === i) continue;
      let p = 1;
      for (let k = 0; k < x.length; k++) if (k !== i && k !== j) p *= x[k];
      s += p * v[j];
    }
    return s;
  });
}

describe('prod gradient at zeros', () => {
  it('is the product of the other entries (PyTorch: [0, 6, 0] and zeros for two zeros)', () => {
    expectValues(gradOf((x) => prod(x), [2, 0, 3]), [0, 6, 0]);
    expectValues(gradOf((x) => prod(x), [2, 0, 0]), [0, 0, 0]);
    expectValues(gradOf((x) => prod(x), [0]), [1]);
  });

  it('works per slice along an axis, with keepdim, and over several axes', () => {
    const rows = [2, 0, 3, 0, 0, 4, 1, 2, 3];
    // torch: x.prod(1).sum() -> [[0, 6, 0], [0, 0, 0], [6, 3, 2]]
    expectValues(gradOf((x) => prod(x, { axis: 1 }), rows, [3, 3]), [0, 6, 0, 0, 0, 0, 6, 3, 2]);
    expectValues(gradOf((x) => prod(x, { axis: -1, keepdim: true }), rows, [3, 3]), [0, 6, 0, 0, 0, 0, 6, 3, 2]);
    // columns: [2, 0, 1] -> [0, 2, 0], [0, 0, 2] -> [0, 0, 0], [3, 4, 3] -> [12, 9, 12]
    expectValues(gradOf((x) => prod(x, { axis: 0 }), rows, [3, 3]), [0, 0, 12, 2, 0, 9, 0, 0, 12]);
    expectValues(gradOf((x) => prod(x, { axis: [0, 1] }), [2, 0, 3, 5], [2, 2]), [0, 30, 0, 0]);
  });

  it('keeps prod / x where no entry is zero (PyTorch divides too: inf / inf = NaN)', () => {
    expectValues(gradOf((x) => prod(x), [2, -1, 3, 0.5]), [-1.5, 3, -1, -6]);
    expectValues(gradOf((x) => prod(x), [2, Infinity, 3]), [Infinity, NaN, Infinity]);
  });

  it('has exact second derivatives with 0, 1, 2 and 3 zeros in a slice', () => {
    const v = [1, -1, 2, 0.5];
    for (const x of [[2, -1, 3, 0.5], [2, 0, 3, 0.5], [2, 0, 0, 3], [0, 0, 0, 3]]) {
      const hvp = grad((t: Tensor) => grad((u: Tensor) => prod(u, { axis: 1 }).sum())(t).mul(tensor([v])).sum());
      expectValues(hvp(tensor([x])), prodHvp(x, v)); // torch (dim=1): e.g. [-1.5, 6.5, -1, -6] and [0, 12, -6, 0]
    }
  });
});

describe('pow gradients at a = 0 and b = 0 (PyTorch)', () => {
  it('the base gradient is 0 where the exponent is 0, also at a = 0 and with a scalar exponent', () => {
    expectValues(gradOf((x) => pow(x, 0), [0, -0, 2, NaN]), [0, 0, 0, 0]);
    const g = grad((a: Tensor, b: Tensor) => pow(a, b).sum());
    // torch: pow([0, 0, 0, -2, 0], [0, 2, -1, 0.5, 0]) -> base grad [0, 0, -inf, nan, 0]
    expectValues(g(tensor([0, 0, 0, -2, 0]), tensor([0, 2, -1, 0.5, 0])), [0, 0, -Infinity, NaN, 0]);
  });

  it('the exponent gradient is 0 at a = 0 with b >= 0, -inf at a = 0 with b < 0, NaN for a < 0', () => {
    const g = grad((b: Tensor, a: Tensor) => pow(a, b).sum());
    // torch, d/db: [0, 0, -inf, nan, 0, 4 log 2]
    expectValues(g(tensor([0, 2, -1, 0.5, 0, 2]), tensor([0, 0, 0, -2, -0, 2])), [0, 0, -Infinity, NaN, 0, 4 * Math.LN2]);
  });
});

describe('NaN, zero and extreme inputs', () => {
  it('maximum/minimum give dy to both sides at a NaN, dy / 2 at ties, 0 to the loser', () => {
    const a = [NaN, 1, 2, 1, NaN];
    const b = [1, NaN, 2, 3, NaN];
    const both = (f: typeof maximum) => valueAndGrad((x: Tensor, y: Tensor) => f(x, y).sum())(tensor(a), tensor(b)).grads;
    const [maxA, maxB] = both(maximum);
    expectValues(maxA, [1, 1, 0.5, 0, 1]); // torch: [1, 1, 0.5, 0, 1], [1, 1, 0.5, 1, 1]
    expectValues(maxB, [1, 1, 0.5, 1, 1]);
    const [minA, minB] = both(minimum);
    expectValues(minA, [1, 1, 0.5, 1, 1]);
    expectValues(minB, [1, 1, 0.5, 0, 1]);
  });

  it('relu passes dy at NaN, abs gives 0 at NaN and at 0', () => {
    expectValues(gradOf((x) => x.relu(), [-0, 0, NaN, 2]), [0, 0, 1, 1]); // torch: [0, 0, 1, 1]
    expectValues(gradOf((x) => x.abs(), [0, -0, NaN, -3]), [0, 0, 0, -1]); // torch: [0, 0, 0, -1]
  });

  it('clamp passes dy inside [min, max] (bounds included) and 0 outside and at NaN', () => {
    expectValues(gradOf((x) => x.clamp(-1, 1), [-1, 1, 0, 2, NaN, -Infinity]), [1, 1, 1, 0, 0, 0]); // torch
  });

  it('rsqrt keeps the sign at -0 and is NaN at -inf', () => {
    expectValues(gradOf((x) => x.rsqrt(), [-0, 0, -Infinity, 4]), [Infinity, -Infinity, NaN, -0.0625]); // torch
  });

  it('div by huge or tiny divisors does not overflow in b * b', () => {
    const g = grad((b: Tensor, a: Tensor) => a.div(b).sum());
    // torch: -(a / b) / b
    expectValues(g(tensor([1e-30, 1e30, 1e20]), tensor([1e-30, 1e30, 1e20])), [-1e30, -1e-30, -1e-20]);
  });

  it('std of a constant slice has gradient 0 (PyTorch masks std = 0)', () => {
    expectValues(gradOf((x) => std(x, { axis: 1 }), [1, 1, 1, 1, 2, 3], [2, 3]), [0, 0, 0, -0.5, 0, 0.5]);
    expectValues(gradOf((x) => std(x), [3, 3, 3]), [0, 0, 0]);
  });

  it("remainder's divisor gradient uses PyTorch's floor division", () => {
    const g = grad((b: Tensor, a: Tensor) => remainder(a, b).sum());
    // torch: [nan, 1, 1, -inf, -9]: inf // 1 = nan, 1 // -inf = -1, -1 // inf = -1, 5 // 0 = inf, 1 // 0.1 = 9
    expectValues(g(tensor([1, -Infinity, Infinity, 0, 0.1]), tensor([Infinity, 1, -1, 5, 1])), [NaN, 1, 1, -Infinity, -9]);
  });
});
