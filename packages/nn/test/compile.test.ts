// SPDX-License-Identifier: MIT
// compile() with the nn optimizers: an MLP step with SGD (momentum) replays bit for bit like
// eager on the reference kernels; an MLP and a transformer encoder layer (dropout on) with Adam
// replay like eager on the fast CPU path (the optimizers' state tensors, which eager steps
// replace, are updated in place by donation); 1,000 compiled Adam steps leak nothing.
import { describe, expect, it } from 'vitest';
import { compile, manualSeed, memory, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { compareSteps, expectRowsClose, referenceCpu, useBackendDuring } from '../../core/test/compile-support.js';
import { Adam, Linear, ReLU, SGD, Sequential, TransformerEncoderLayer, mseLoss, type Module, type Optimizer } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

interface Net { model: Module & { forward(x: Tensor): Tensor }; opt: Optimizer<never, never> }
type StepFn = (x: Tensor, y: Tensor) => Tensor;

function trainStep(net: Net): StepFn {
  return (x, y) => {
    net.opt.zeroGrad();
    const loss = mseLoss(net.model.forward(x), y);
    loss.backward();
    net.opt.step();
    const value = loss.detach();
    loss.dispose();
    return value;
  };
}

function data(i: number, shape: number[], out: number[]): [Tensor, Tensor] {
  const n = shape.reduce((a, b) => a * b, 1), m = out.reduce((a, b) => a * b, 1);
  return [
    tensor(Array.from({ length: n }, (_, k) => Math.sin(0.37 * k + i)), { shape }),
    tensor(Array.from({ length: m }, (_, k) => Math.cos(0.11 * k - i)), { shape: out }),
  ];
}

/** Twin nets from the same seed, one stepped eagerly and one compiled, on the same batches (and dropout seed). */
function twin(make: () => Net, steps: number, shape: number[], out: number[]) {
  manualSeed(7);
  const eager = make();
  manualSeed(7);
  const comp = make();
  const compiled = compile(trainStep(comp));
  const losses = compareSteps(steps, (i) => data(i, shape, out), trainStep(eager), compiled, (i) => 100 + i);
  const params = (n: Net) => n.model.parameters().map((p) => Array.from(p.dataSync()));
  return { losses, compiled, eagerParams: params(eager), compiledParams: params(comp) };
}

const mlp = (optim: 'sgd' | 'adam') => (): Net => {
  const model = new Sequential(new Linear(6, 16), new ReLU(), new Linear(16, 2));
  const opt = optim === 'sgd' ? new SGD(model, { lr: 0.05, momentum: 0.9 }) : new Adam(model, { lr: 1e-2 });
  return { model, opt: opt as unknown as Optimizer<never, never> };
};

describe('compile with nn optimizers on the reference kernels', () => {
  useBackendDuring('nn-cpu-reference', () => referenceCpu('nn-cpu-reference'));

  it('an MLP step with SGD (momentum) gives the eager losses and parameters bit for bit', () => {
    const r = twin(mlp('sgd'), 10, [5, 6], [5, 2]);
    expect(r.compiled.stats).toMatchObject({ traces: 1, replays: 7, notCompiled: [] });
    expect(r.losses.compiled).toEqual(r.losses.eager);
    expect(r.compiledParams).toEqual(r.eagerParams);
  });
});

describe('compile with nn optimizers on the fast CPU path', () => {
  it('an MLP step with Adam replays like eager (moments donated in place, bias corrections per step)', () => {
    const r = twin(mlp('adam'), 12, [5, 6], [5, 2]);
    expect(r.compiled.stats).toMatchObject({ traces: 1, replays: 9, notCompiled: [] });
    r.losses.compiled.forEach((l, i) => expect(l).toBeCloseTo(r.losses.eager[i], 6));
    expectRowsClose(r.compiledParams, r.eagerParams, 6);
    expect(r.losses.compiled[11]).toBeLessThan(r.losses.compiled[0]);
  });

  it('a transformer encoder layer step (dropout 0.1) with Adam replays like eager, masks following the seed', () => {
    const make = (): Net => {
      const model = new TransformerEncoderLayer(16, 2, { dimFeedforward: 32, dropout: 0.1, batchFirst: true });
      return { model: model as unknown as Net['model'], opt: new Adam(model, { lr: 1e-3 }) as unknown as Optimizer<never, never> };
    };
    const r = twin(make, 8, [2, 5, 16], [2, 5, 16]);
    expect(r.compiled.stats).toMatchObject({ traces: 1, replays: 5, notCompiled: [] });
    r.losses.compiled.forEach((l, i) => expect(l).toBeCloseTo(r.losses.eager[i], 5));
    expectRowsClose(r.compiledParams, r.eagerParams, 5);
  });

  it('a new input shape after replays (a bucket seen late) continues Adam from the replayed step, like eager', () => {
    manualSeed(7);
    const eager = mlp('adam')();
    manualSeed(7);
    const comp = mlp('adam')();
    const step = compile(trainStep(comp)), eagerStep = trainStep(eager);
    const rows = [5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 5, 7, 5];
    const losses = compareSteps(rows.length, (i) => data(i, [rows[i], 6], [rows[i], 2]), eagerStep, step);
    losses.compiled.forEach((l, i) => expect(l).toBeCloseTo(losses.eager[i], 6));
    expectRowsClose(comp.model.parameters().map((p) => Array.from(p.dataSync())), eager.model.parameters().map((p) => Array.from(p.dataSync())), 6);
    expect(step.stats).toMatchObject({ traces: 2, replays: 8 });
  });

  it('1,000 compiled Adam steps leak no tensor or buffer', () => {
    manualSeed(3);
    const net = mlp('adam')();
    const step = compile(trainStep(net));
    const [x, y] = data(0, [5, 6], [5, 2]);
    for (let i = 0; i < 4; i++) step(x, y).dispose();
    const before = memory();
    for (let i = 0; i < 1000; i++) step(x, y).dispose();
    const after = memory();
    expect(step.stats.replays).toBe(1001);
    expect([after.numTensors, after.numBuffers, after.numBytes]).toEqual([before.numTensors, before.numBuffers, before.numBytes]);
    x.dispose(); y.dispose();
  });
});
