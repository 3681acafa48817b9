// SPDX-License-Identifier: MIT
// Demo (smoke test of the built packages): fits a hand-written 2-layer MLP to y = sin(x) on
// 256 points with plain SGD on the CPU backend, printing the loss every 50 steps. It imports
// '@heed/core' and '@heed/backend-cpu' through the npm workspaces, i.e. packages/*/dist, so
// run `npm run build` first (`npm run demo` does both). Finishes in about a second.
// `--compile` runs the step through core's compile(): traced on its first calls, then replayed.
import { compile, registerBackend, setBackend, manualSeed, linspace, memory, noGrad, randn, tidy, zeros } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';

registerBackend(cpuBackend);
await setBackend('cpu');
manualSeed(0); // same numbers on every run (and on every backend)

const N = 256;
const HIDDEN = 32;
const STEPS = 300;
const LR = 0.1;

// Data: x in [-pi, pi] as an [N, 1] column, target y = sin(x).
const x = tidy(() => linspace(-Math.PI, Math.PI, N).reshape([N, 1]));
const y = x.sin();

// Parameters: leaves that require gradients. tidy() frees the temporaries of the scaling.
const w1 = tidy(() => randn([1, HIDDEN]).mul(0.5)).requiresGrad_();
const b1 = zeros([HIDDEN]).requiresGrad_();
const w2 = tidy(() => randn([HIDDEN, 1]).mul(0.1)).requiresGrad_();
const b2 = zeros([1]).requiresGrad_();
const params = [w1, b1, w2, b2];

/** One step: forward, backward, SGD (p <- p - lr * grad, outside the graph); returns the loss. */
function trainStep() {
  // Forward: mse(tanh(x @ w1 + b1) @ w2 + b2, y); only the loss survives the tidy.
  const l = tidy(() => x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).sub(y).square().mean());
  l.backward();
  // Then drop the gradients for the next step.
  tidy(() =>
    noGrad(() => {
      for (const p of params) {
        p.assign(p.sub(p.grad.mul(LR)));
        p.grad.dispose();
        p.grad = null;
      }
    }),
  );
  return l;
}
const step = process.argv.includes('--compile') ? compile(trainStep) : trainStep;

const start = performance.now();
let loss = NaN;
for (let i = 1; i <= STEPS; i++) {
  const l = step();
  loss = (await l.data())[0];
  l.dispose();
  if (i % 50 === 0) console.log(`step ${String(i).padStart(3)}  mse ${loss.toFixed(5)}`);
}
const seconds = (performance.now() - start) / 1000;
console.log(`final mse ${loss.toFixed(5)} after ${STEPS} steps in ${seconds.toFixed(2)} s`);
if (step.stats) console.log(`compile: ${step.stats.replays} replays of ${step.stats.traces} trace(s), ${step.stats.eagerCalls} eager calls`);

for (const t of [x, y, ...params]) t.dispose();
const { numTensors } = memory();
if (numTensors !== 0) console.warn(`warning: ${numTensors} tensor(s) still alive at exit`);
