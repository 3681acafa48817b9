// SPDX-License-Identifier: MIT
// The optimizer parity runs of optim.test.ts (PyTorch 1.13, packages/nn/fixtures/optim.json)
// as compiled steps: each step (zeroGrad, loss, backward, optimizer step) is a compile()d
// function; losses and parameters after every step match PyTorch, and every run whose host
// values do not change per step is replayed (AMSGrad builds its bias corrections as host
// scalars of primitive ops, so it runs eagerly, with the reason).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compile, registerBackend, setBackend, tensor, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Adam, AdamW, SGD, decayMatricesOnly, type BaseHyperParams, type OptimStateValue, type Optimizer } from '../src/optim/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

interface Enc { shape: number[]; data: number[] }
interface Run {
  name: string;
  kind: 'SGD' | 'Adam' | 'AdamW';
  options: Record<string, number | boolean | number[]>;
  groups?: Record<string, number>[];
  mask?: 'noBias';
  steps: { loss: number; w: number[]; b: number[] }[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')) as { problem: Record<'x' | 'y' | 'w' | 'b', Enc>; runs: Run[] };
const t = (e: Enc) => tensor(Float32Array.from(e.data), { shape: e.shape });

function expectClose(got: number[], want: number[], label: string, tol = 1e-5): void {
  expect(got.length, label).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]) / Math.max(1, Math.abs(want[i])), `${label}[${i}]: got ${g}, want ${want[i]}`).toBeLessThanOrEqual(tol));
}

type AnyOptimizer = Optimizer<BaseHyperParams, Record<string, OptimStateValue>>;

function makeOptimizer(run: Run, w: Tensor, b: Tensor): AnyOptimizer {
  const options = { ...run.options } as Record<string, unknown>;
  if (run.mask === 'noBias') options.weightDecayFilter = decayMatricesOnly;
  const params = run.groups
    ? [{ params: [['w', w]] as [string, Tensor][], ...run.groups[0] }, { params: [['b', b]] as [string, Tensor][], ...run.groups[1] }]
    : ([['w', w], ['b', b]] as [string, Tensor][]);
  const ctor = { SGD, Adam, AdamW }[run.kind] as unknown as new (p: unknown, o: unknown) => AnyOptimizer;
  return new ctor(params, options);
}

describe('compiled optimizer steps match PyTorch 1.13', () => {
  for (const run of fx.runs) {
    it(`${run.name}: loss and parameters after each compiled step`, () => {
      const p = fx.problem;
      const x = t(p.x), y = t(p.y), w = t(p.w).requiresGrad_(), b = t(p.b).requiresGrad_();
      const opt = makeOptimizer(run, w, b);
      const step = compile(() => {
        opt.zeroGrad();
        const loss = tidy(() => x.matmul(w.transpose()).add(b).tanh().sub(y).square().mean());
        loss.backward();
        opt.step();
        const value = loss.detach();
        loss.dispose();
        return value;
      }, { onNotCompiled: 'silent' });
      run.steps.forEach((s, k) => {
        const loss = step();
        expectClose([loss.dataSync()[0]], [s.loss], `${run.name} step ${k} loss`);
        loss.dispose();
        expectClose(Array.from(w.dataSync()), s.w, `${run.name} step ${k} w`);
        expectClose(Array.from(b.dataSync()), s.b, `${run.name} step ${k} b`);
      });
      if (run.options.amsgrad === true) {
        expect(step.stats.replays).toBe(0);
        expect(step.stats.notCompiled[0]).toMatch(/different host values/);
      } else {
        expect(step.stats).toMatchObject({ replays: run.steps.length - 3, notCompiled: [] });
      }
    });
  }
});
