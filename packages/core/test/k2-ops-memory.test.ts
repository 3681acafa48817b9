// SPDX-License-Identifier: MIT
// The activations, einsum, bernoulli/multinomial, indexPut/scatter and nonzero/maskedSelect
// leave no tensors or buffers behind besides their result: forward (no graph), and forward +
// backward once everything is disposed.
import { describe, expect, it } from 'vitest';
import './setup.js';
import {
  Generator, bernoulli, checkLeaks, einsum, elu, hardtanh, indexPut, leakyRelu, logaddexp, maskedSelect, memory, mish,
  multinomial, noGrad, nonzero, randn, scatter, softplus, tensor, type Tensor,
} from '@heed/core';

const int = (v: number[] | number[][]) => tensor(v, { dtype: 'int32' });

/** Each entry makes its extra inputs first (outside the leak check), then the call. */
const OPS: Record<string, (x: Tensor) => { aux: Tensor[]; run: () => Tensor }> = {
  softplus: (x) => ({ aux: [], run: () => softplus(x, { beta: 2 }) }),
  logaddexp: (x) => { const h = x.mul(0.5); return { aux: [h], run: () => logaddexp(x, h) }; },
  hardtanh: (x) => ({ aux: [], run: () => hardtanh(x) }),
  leakyRelu: (x) => ({ aux: [], run: () => leakyRelu(x) }),
  elu: (x) => ({ aux: [], run: () => elu(x) }),
  mish: (x) => ({ aux: [], run: () => mish(x) }),
  einsum: (x) => { const d = x.narrow(1, 0, 3); return { aux: [d], run: () => einsum('ij,kj,ii->ik', x, x, d) }; },
  indexPut: (x) => {
    const [i, v] = [int([2, 0, 2]), x.narrow(0, 0, 3)];
    return { aux: [i, v], run: () => indexPut(x, [i], v) };
  },
  'indexPut-accumulate': (x) => { const i = int([2, 0, 2]); return { aux: [i], run: () => indexPut(x, [i], 1, { accumulate: true }) }; },
  scatter: (x) => {
    const [i, s] = [int([[1, 0], [2, 2], [0, 1]]), x.narrow(1, 0, 2)];
    return { aux: [i, s], run: () => scatter(x, 1, i, s) };
  },
};

describe('no leaks', () => {
  for (const [name, make] of Object.entries(OPS)) {
    it(name, async () => {
      const start = memory();
      const x = randn([3, 4], { generator: new Generator(1) }).requiresGrad_();
      const { aux, run } = make(x);
      // Forward without a graph: only the result survives.
      (await checkLeaks(() => noGrad(run), name)).dispose();
      // Forward + backward: once the result, loss and gradient are disposed, nothing remains.
      const z = run();
      const loss = z.sum();
      loss.backward();
      for (const t of [loss, z, x.grad!, x, ...aux]) t.dispose();
      x.grad = null;
      const end = memory();
      expect([end.numTensors, end.numBuffers]).toEqual([start.numTensors, start.numBuffers]);
    });
  }

  it('sampling and selection', async () => {
    const p = tensor([[0.2, 0.8, 0], [0.5, 0.25, 0.25]]);
    (await checkLeaks(() => bernoulli(p, { generator: new Generator(0) }))).dispose();
    (await checkLeaks(() => multinomial(p, 2, { generator: new Generator(0) }))).dispose();
    (await checkLeaks(() => multinomial(p, 5, { replacement: true, generator: new Generator(0) }))).dispose();
    (await checkLeaks(() => nonzero(p))).dispose();
    const mask = p.gt(0.2);
    (await checkLeaks(() => maskedSelect(p, mask))).dispose();
    mask.dispose();
  });
});
