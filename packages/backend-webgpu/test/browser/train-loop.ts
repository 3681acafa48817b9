// SPDX-License-Identifier: MIT
// A small deterministic training loop (2-layer MLP regression, SGD) used by the real-browser
// test: the page runs it on WebGPU, Node runs it on CPU, and the losses must agree.
import { Generator, noGrad, randn, tidy, type Tensor } from '@heed/core';

/** Trains for `steps` steps on the current backend and returns the loss after each step. */
export async function trainLoop(steps = 20): Promise<number[]> {
  const g = new Generator(1234);
  const x = randn([64, 8], { generator: g });
  const trueW = randn([8, 1], { generator: g });
  const y = tidy(() => x.matmul(trueW).tanh());
  const w1 = randn([8, 16], { generator: g }).mul(0.3).requiresGrad_();
  const b1 = randn([16], { generator: g }).mul(0.1).requiresGrad_();
  const w2 = randn([16, 1], { generator: g }).mul(0.3).requiresGrad_();
  const params: Tensor[] = [w1, b1, w2];
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = tidy(() => x.matmul(w1).add(b1).gelu().matmul(w2).sub(y).square().mean());
    loss.backward();
    losses.push(await loss.item());
    loss.dispose();
    noGrad(() => {
      for (const p of params) {
        const next = p.sub(p.grad!.mul(0.5));
        p.assign(next);
        next.dispose();
        p.grad!.dispose();
        p.grad = null;
      }
    });
  }
  for (const t of [x, trueW, y, ...params]) t.dispose();
  return losses;
}
