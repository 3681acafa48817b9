// SPDX-License-Identifier: MIT
// softplus, logaddexp, hardtanh, leakyRelu, elu and mish at ±inf, NaN, 0, the bounds and large
// magnitudes: values and first derivatives against PyTorch 1.13 (float32 runs, quoted), plus
// argument errors. The finite-range cases also run in the shared conformance suite.
import { describe, expect, it } from 'vitest';
import { expectClose, expectValues } from './setup.js';
import { elu, grad, hardtanh, leakyRelu, logaddexp, mish, softplus, tensor, valueAndGrad, type Tensor } from '@heed/core';

/** Values against PyTorch to 1e-5 relative, with no absolute slack (tiny gradients must not round to 0). */
const expectActivation = (t: Tensor, want: number[]): void => expectValues(t, want, { atol: 1e-30 });

const X = [-Infinity, -30, -1.5, 0, 0.5, 25, Infinity, NaN];

/** Values and the gradient of sum(f(x)) at X. */
function check(f: (x: Tensor) => Tensor, values: number[], grads: number[]): void {
  const x = tensor(X);
  const y = f(x);
  expectActivation(y, values);
  expectActivation(grad((t: Tensor) => f(t).sum())(x), grads);
}

describe('activations match PyTorch at special values', () => {
  it('softplus (default and beta 2, threshold 5)', () => {
    check((x) => softplus(x), [0, 9.3576229e-14, 0.20141329, 0.69314718, 0.97407699, 25, Infinity, NaN],
      [0, 9.3576229e-14, 0.18242551, 0.5, 0.62245935, 1, 1, NaN]);
    check((x) => x.softplus({ beta: 2, threshold: 5 }), [0, 4.3782554e-27, 0.024293676, 0.34657359, 0.65663081, 25, Infinity, NaN],
      [0, 8.7565109e-27, 0.047425874, 0.5, 0.7310586, 1, 1, NaN]);
  });

  it('mish', () => {
    check((x) => mish(x), [NaN, -2.807287e-12, -0.29809976, 0, 0.37524524, 25, Infinity, NaN],
      [NaN, -2.713711e-12, -0.064097814, 0.60000002, 0.88642442, 1, NaN, NaN]);
  });

  it('elu (alpha 1 and 2): gradient alpha at 0, 1 at NaN', () => {
    check((x) => elu(x), [-1, -1, -0.77686983, 0, 0.5, 25, Infinity, NaN], [0, 9.3576229e-14, 0.22313017, 1, 1, 1, 1, 1]);
    check((x) => x.elu(2), [-2, -2, -1.5537397, 0, 0.5, 25, Infinity, NaN], [0, 1.8715246e-13, 0.44626033, 2, 1, 1, 1, 1]);
  });

  it('leakyRelu: the slope at 0 and NaN', () => {
    check((x) => leakyRelu(x, 0.2), [-Infinity, -6, -0.3, 0, 0.5, 25, Infinity, NaN], [0.2, 0.2, 0.2, 0.2, 1, 1, 1, 0.2]);
    expectClose(leakyRelu(tensor([-100, 3])), [-1, 3]);
  });

  it('hardtanh: gradient 0 at the bounds, 1 at NaN', () => {
    check((x) => hardtanh(x, -1.5, 0.5), [-1.5, -1.5, -1.5, 0, 0.5, 0.5, 0.5, NaN], [0, 0, 0, 1, 0, 0, 0, 1]);
    expectClose(tensor([-3, 0.25, 3]).hardtanh(), [-1, 0.25, 1]);
  });

  it('logaddexp: equal infinities, huge equal values, broadcasting', () => {
    const a = tensor([Infinity, -Infinity, Infinity, 1, 1000, -1000, 2, NaN]);
    const b = tensor([Infinity, -Infinity, -Infinity, 1, 1000, -1000, -3, 0]);
    expectActivation(logaddexp(a, b), [Infinity, -Infinity, Infinity, 1.6931472, 1000.6932, -999.30682, 2.0067153, NaN]);
    const [ga, gb] = valueAndGrad((p: Tensor, q: Tensor) => logaddexp(p, q).sum())(a, b).grads;
    expectActivation(ga, [NaN, NaN, 1, 0.5, 0.5, 0.5, 0.99330717, NaN]);
    expectActivation(gb, [NaN, NaN, 0, 0.5, 0.5, 0.5, 0.006692851, NaN]);
    // [2, 1] with a number and with [3]: log(e^x + e^0) and the summed gradient of the broadcast side.
    expectClose(tensor([[0], [1]]).logaddexp(0), [Math.LN2, Math.log(Math.E + 1)], [2, 1]);
    const col = tensor([[0], [1]]);
    const row = tensor([0, 1, 2]);
    const gRow = valueAndGrad((p: Tensor, q: Tensor) => logaddexp(p, q).sum())(col, row).grads[1];
    const want = [0, 1, 2].map((r) => [0, 1].reduce((s, c) => s + 1 / (1 + Math.exp(c - r)), 0));
    expectClose(gRow, want, [3]);
  });
});

describe('activation argument errors', () => {
  it('rejects int tensors and bad parameters with the op name', () => {
    const i = tensor([1, 2], { dtype: 'int32' });
    for (const f of [() => softplus(i), () => mish(i), () => elu(i), () => leakyRelu(i), () => hardtanh(i), () => logaddexp(i, i)]) {
      expect(f).toThrow(/expects a float tensor, got int32/);
    }
    const x = tensor([1]);
    expect(() => softplus(x, { beta: 0 })).toThrow(/softplus: beta must be nonzero/);
    expect(() => softplus(x, { threshold: NaN })).toThrow(/softplus/);
    expect(() => softplus(x, { beta: 1, limit: 3 } as never)).toThrow(/softplus.*limit/);
    expect(() => hardtanh(x, 1, -1)).toThrow(/hardtanh: minVal \(1\) must not exceed maxVal \(-1\)/);
    expect(() => elu(x, Number.NaN)).toThrow(/elu/);
    expect(() => logaddexp(tensor([[1, 2, 3]]), tensor([1, 2]))).toThrow(/logaddexp.*\[1, 3\].*\[2\]/);
  });
});
