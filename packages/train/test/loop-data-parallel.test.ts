// SPDX-License-Identifier: MIT
// trainLoop's data-parallel hooks: `afterBackward` is awaited after backward and before
// clipping/the optimizer step (it sees this step's gradients and the old weights, and what it
// does to the gradients is what the optimizer uses), and `reduceLoss` decides the recorded loss.
import { describe, expect, it } from 'vitest';
import { noGrad, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Linear, SGD } from '@heed/nn';
import { trainLoop, type LossPoint } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

describe('trainLoop data-parallel hooks', () => {
  it('awaits afterBackward between backward and the step, and records reduceLoss\'s value', async () => {
    const model = new Linear(1, 1, { bias: false });
    noGrad(() => model.weight.assign(tensor([[1]])));
    const optimizer = new SGD(model, { lr: 0.1 });
    const x = tensor([[2]]);
    const seen: { step: number; grad: number; weight: number }[] = [];
    const history: LossPoint[] = [];
    await trainLoop({
      model, optimizer, startStep: 0, endStep: 2, history, clipNorm: 1e9,
      batchLoss: () => ({ loss: model.forward(x).square().sum(), tokens: 1 }), // (2w)^2, d/dw = 8w
      afterBackward: async (step) => {
        await new Promise((r) => setTimeout(r, 5)); // an asynchronous "all-reduce"
        const g = model.weight.grad as Tensor;
        seen.push({ step, grad: g.dataSync()[0], weight: model.weight.dataSync()[0] });
        noGrad(() => g.assign(g.mul(0.5))); // what the optimizer must see
      },
      reduceLoss: async (loss, step) => loss + 100 * step,
    });
    // Step 1: w = 1, grad 8 (halved to 4) -> w = 0.6; step 2: grad 4.8 (halved 2.4) -> w = 0.36.
    expect(seen.map((s) => s.step)).toEqual([1, 2]);
    expect(seen[0].grad).toBeCloseTo(8, 5);
    expect(seen[0].weight).toBeCloseTo(1, 6);
    expect(seen[1].grad).toBeCloseTo(4.8, 5);
    expect(seen[1].weight).toBeCloseTo(0.6, 6);
    expect(model.weight.dataSync()[0]).toBeCloseTo(0.36, 6);
    expect(history.map((h) => h.step)).toEqual([1, 2]);
    expect(history[0].loss).toBeCloseTo(4 + 100, 4); // (2 * 1)^2 + 100 * step
    expect(history[1].loss).toBeCloseTo(1.44 + 200, 4); // (2 * 0.6)^2 + 200
  });
});
