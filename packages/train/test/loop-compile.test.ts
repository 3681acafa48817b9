// SPDX-License-Identifier: MIT
// trainLoop with `compiled`: loss, backward, clipping, AdamW's capturable step and zeroGrad run as
// one compiled function under a warmup + cosine schedule. The loss history and parameters match
// the eager loop's (same batches), the step replays, the optimizer's step counter counts every
// step, and the options that cannot run inside a compiled step are HeedErrors naming the fix.
import { describe, expect, it } from 'vitest';
import { manualSeed, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW, CosineAnnealingLR, Linear, ReLU, Sequential, mseLoss } from '@heed/nn';
import { trainLoop, type LossPoint } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const STEPS = 14;

function setup() {
  manualSeed(21);
  const model = new Sequential(new Linear(4, 12), new ReLU(), new Linear(12, 3));
  const optimizer = new AdamW(model, { lr: 3e-2, weightDecay: 0.05 });
  const scheduler = new CosineAnnealingLR(optimizer, { totalSteps: STEPS, warmupSteps: 2, minLr: 1e-3 });
  return { model, optimizer, scheduler };
}

/** Step `step`'s batch (rows vary: two input signatures, 6 rows at steps 8..11). */
function batch(step: number): [Tensor, Tensor] {
  const rows = step >= 8 && step <= 11 ? 6 : 4;
  return [
    tensor(Array.from({ length: rows * 4 }, (_, k) => Math.sin(0.3 * k + step)), { shape: [rows, 4] }),
    tensor(Array.from({ length: rows * 3 }, (_, k) => Math.cos(0.7 * k - step)), { shape: [rows, 3] }),
  ];
}

describe('trainLoop with a compiled step', () => {
  it('gives the eager loop\'s losses and parameters under a warmup + cosine schedule, and replays', async () => {
    const eager = setup(), comp = setup();
    const eagerHistory: LossPoint[] = [], compHistory: LossPoint[] = [];
    await trainLoop({
      ...eager, startStep: 0, endStep: STEPS, history: eagerHistory, clipNorm: 0.5,
      batchLoss: (step) => {
        const [x, y] = batch(step);
        return { loss: mseLoss(eager.model.forward(x), y), tokens: x.shape[0], dispose: () => { x.dispose(); y.dispose(); } };
      },
    });
    const r = await trainLoop({
      ...comp, startStep: 0, endStep: STEPS, history: compHistory, clipNorm: 0.5,
      compiled: {
        batch: (step) => { const [x, y] = batch(step); return { inputs: [x, y], tokens: x.shape[0], dispose: () => { x.dispose(); y.dispose(); } }; },
        loss: (x, y) => mseLoss(comp.model.forward(x), y),
        options: { onNotCompiled: 'throw' },
      },
    });
    // Steps 1-3 and 8-10 are eager (warm-up, two recordings per signature); 4-7, 11 and 12-14
    // (the first signature again, on the state the second one moved) replay.
    expect(r.compileStats).toMatchObject({ traces: 2, replays: 8, eagerCalls: 6, notCompiled: [] });
    compHistory.forEach((p, i) => { expect(p.step).toBe(eagerHistory[i].step); expect(p.loss).toBeCloseTo(eagerHistory[i].loss, 5); });
    const ps = (m: typeof comp.model) => m.parameters().map((p) => Array.from(p.dataSync()));
    ps(comp.model).forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(ps(eager.model)[i][j], 5)));
    expect(Object.values(comp.optimizer.stateDict().state).map((s) => s.step)).toEqual(comp.model.parameters().map(() => STEPS));
    expect(comp.optimizer.paramGroups[0].lr).toBeCloseTo(eager.optimizer.paramGroups[0].lr, 12);
    expect(r.lastLoss).toBeCloseTo(eagerHistory[STEPS - 1].loss, 5);
  });

  it('rejects afterBackward and optimizers without stepScalars(), naming the fix', async () => {
    const s = setup();
    const compiled = { batch: () => ({ inputs: [], tokens: 0 }), loss: () => tensor(0) };
    await expect(trainLoop({ ...s, startStep: 0, endStep: 1, history: [], compiled, afterBackward: () => {} })).rejects.toThrow(/afterBackward cannot run inside a compiled step/);
    await expect(trainLoop({ ...s, optimizer: { step() {}, zeroGrad() {} }, startStep: 0, endStep: 1, history: [], compiled })).rejects.toThrow(/stepScalars\(\)/);
    await expect(trainLoop({ ...s, startStep: 0, endStep: 1, history: [] })).rejects.toThrow(/needs batchLoss/);
  });
});
