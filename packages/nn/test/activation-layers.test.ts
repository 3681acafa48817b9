// SPDX-License-Identifier: MIT
// The activation modules Softplus, Hardtanh, LeakyReLU, ELU and Mish against torch.nn's modules
// (PyTorch 1.13 float32 outputs for x = [-3, -0.5, 0, 0.7, 4], quoted), their reprs and argument errors.
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { ACTIVATIONS, ELU, Hardtanh, LeakyReLU, Mish, Softplus, resolveActivation, type Module } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const cases: [string, () => Module & { forward(x: ReturnType<typeof tensor>): ReturnType<typeof tensor> }, number[], string][] = [
  ['Softplus', () => new Softplus({ beta: 2, threshold: 3 }), [0.0012378426, 0.15663084, 0.34657359, 0.81020874, 4], 'beta=2, threshold=3'],
  ['Hardtanh', () => new Hardtanh(-2, 0.5), [-2, -0.5, 0, 0.5, 0.5], 'minVal=-2, maxVal=0.5'],
  ['LeakyReLU', () => new LeakyReLU(0.3), [-0.90000004, -0.15000001, 0, 0.69999999, 4], 'negativeSlope=0.3'],
  ['ELU', () => new ELU(0.5), [-0.47510648, -0.19673467, 0, 0.69999999, 4], 'alpha=0.5'],
  ['Mish', () => new Mish(), [-0.14564747, -0.22074376, 0, 0.56114835, 3.9974129], ''],
];

describe('activation modules match torch.nn', () => {
  for (const [name, make, want, repr] of cases) {
    it(name, () => {
      const m = make();
      const got = Array.from(m.forward(tensor([-3, -0.5, 0, 0.7, 4])).dataSync());
      got.forEach((g, i) => expect(Math.abs(g - want[i]), `${name}[${i}]: ${g} vs ${want[i]}`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(want[i]))));
      expect(m.extraRepr()).toBe(repr);
      expect([...m.parameters()]).toEqual([]);
    });
  }

  it('are in the activation table the transformer layers pick from (PyTorch default parameters)', () => {
    const x = tensor([-3, -0.5, 0, 0.7, 4]);
    const same = (a: ReturnType<typeof tensor>, b: ReturnType<typeof tensor>) => expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    same(ACTIVATIONS.leaky_relu(x), new LeakyReLU().forward(x));
    same(ACTIVATIONS.elu(x), new ELU().forward(x));
    same(ACTIVATIONS.softplus(x), new Softplus().forward(x));
    same(resolveActivation('test', 'mish')(x), new Mish().forward(x));
  });

  it('rejects bad arguments', () => {
    expect(() => new Softplus({ beta: 0 })).toThrow(/Softplus: beta must be nonzero/);
    expect(() => new Hardtanh(1, 0)).toThrow(/Hardtanh: minVal \(1\) must not exceed maxVal \(0\)/);
    expect(() => new LeakyReLU(Number.NaN)).toThrow(/LeakyReLU/);
    expect(() => new ELU(Infinity)).toThrow(/ELU/);
  });
});
