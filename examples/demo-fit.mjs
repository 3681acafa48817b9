// SPDX-License-Identifier: MIT
// Demo: fits a small MLP to y = sin(x) on the CPU backend with plain SGD, printing the loss.
// Uses the built packages (run `npm run build` first; `npm run demo` does both).
import { registerBackend, setBackend, Generator, linspace, noGrad, randn, tidy, zeros } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';

registerBackend(cpuBackend);
await setBackend('cpu');

const gen = new Generator(0);
const x = linspace(-Math.PI, Math.PI, 256).reshape([256, 1]);
const y = x.sin();
const params = tidy(() => [
  randn([1, 32], { generator: gen }).mul(1.0),
  zeros([32]),
  randn([32, 1], { generator: gen }).mul(0.2),
  zeros([1]),
]).map((p) => p.requiresGrad_());
const [w1, b1, w2, b2] = params;

const start = performance.now();
let loss = Infinity;
for (let step = 1; step <= 500; step++) {
  const l = tidy(() => x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).sub(y).square().mean());
  l.backward();
  loss = l.dataSync()[0];
  l.dispose();
  tidy(() => noGrad(() => {
    for (const p of params) {
      p.assign(p.sub(p.grad.mul(0.1)));
      p.grad.dispose();
      p.grad = null;
    }
  }));
  if (step % 100 === 0) console.log(`step ${step}  mse ${loss.toFixed(5)}`);
}
console.log(`final mse ${loss.toFixed(5)} in ${((performance.now() - start) / 1000).toFixed(2)} s`);
