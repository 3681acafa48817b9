// SPDX-License-Identifier: MIT
// The CPU backend's browser-test workload, run both in headless Chromium and in Node: a
// matmul and a softmax big enough to be split over the fast path's threads, plus a few steps
// of training a small MLP. Inputs come from core's seeded Generator, so both sides see the
// same numbers.
import { Generator, noGrad, randn, softmax, tidy, type Tensor } from '@heed/core';

/** What the workload reports: samples of the big results and the training losses. */
export interface WorkloadResult {
  readonly matmul: number[];
  readonly softmax: number[];
  readonly losses: number[];
}

/** Every 997th value of `t` (and its sum), read asynchronously. */
async function sample(t: Tensor): Promise<number[]> {
  const v = await t.data();
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    sum += v[i];
    if (i % 997 === 0) out.push(v[i]);
  }
  out.push(sum);
  return out;
}

/** Runs the workload on the current backend. */
export async function cpuWorkload(): Promise<WorkloadResult> {
  const g = new Generator(99);
  const a = randn([256, 320], { generator: g });
  const b = randn([320, 192], { generator: g });
  const c = a.matmul(b); // 15.7M multiply-adds: split over the workers when they are up
  const logits = randn([64, 4096], { generator: g });
  const p = softmax(logits, -1); // 262K elements: also a threaded job
  const result = { matmul: await sample(c), softmax: await sample(p), losses: [] as number[] };
  for (const t of [a, b, c, logits, p]) t.dispose();

  const x = randn([128, 32], { generator: g });
  const y = tidy(() => x.sum({ axis: -1, keepdim: true }).tanh());
  const w1 = randn([32, 64], { generator: g }).mul(0.2).requiresGrad_();
  const w2 = randn([64, 1], { generator: g }).mul(0.2).requiresGrad_();
  for (let step = 0; step < 8; step++) {
    const loss = tidy(() => x.matmul(w1).relu().matmul(w2).sub(y).square().mean());
    loss.backward();
    result.losses.push(await loss.item());
    loss.dispose();
    noGrad(() => {
      for (const w of [w1, w2]) {
        const next = w.sub(w.grad!.mul(0.02));
        w.assign(next);
        next.dispose();
        w.grad!.dispose();
        w.grad = null;
      }
    });
  }
  for (const t of [x, y, w1, w2]) t.dispose();
  return result;
}
