// SPDX-License-Identifier: MIT
// smoothL1Loss, huberLoss, klDiv and cosineSimilarity against PyTorch 1.13 fixtures
// (packages/nn/fixtures/losses-sched.json from scripts/fixtures/gen_losses_sched_fixtures.py):
// values and the gradients of both inputs for every reduction and option, incl. zero targets
// (klDiv), zero / near-zero vectors (cosineSimilarity, PyTorch's current formula), broadcasting;
// plus finite differences, argument errors, the class wrappers and memory hygiene.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HeedError, checkLeaks, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  HuberLoss, KLDivLoss, SmoothL1Loss, cosineSimilarity, huberLoss, klDiv, smoothL1Loss,
} from '../src/losses/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

type Num = number | 'NaN' | 'Infinity' | '-Infinity';
interface Enc { shape: number[]; data: Num[] }
interface Case {
  name: string;
  fn: 'smoothL1Loss' | 'huberLoss' | 'klDiv' | 'cosineSimilarity';
  options: Record<string, unknown>;
  args: Enc[];
  value: Enc;
  upstream?: Enc;
  grads: Enc[];
}
const num = (v: Num): number => (typeof v === 'number' ? v : Number(v));
const fx = JSON.parse(readFileSync(new URL('../fixtures/losses-sched.json', import.meta.url), 'utf8')) as { losses: Case[] };
const toTensor = (e: Enc, requiresGrad = false): Tensor => tensor(Float32Array.from(e.data.map(num)), { shape: e.shape, requiresGrad });

const FNS = {
  smoothL1Loss: (a: Tensor, b: Tensor, o: Record<string, unknown>) => smoothL1Loss(a, b, o),
  huberLoss: (a: Tensor, b: Tensor, o: Record<string, unknown>) => huberLoss(a, b, o),
  klDiv: (a: Tensor, b: Tensor, o: Record<string, unknown>) => klDiv(a, b, o),
  cosineSimilarity: (a: Tensor, b: Tensor, o: Record<string, unknown>) => cosineSimilarity(a, b, o),
} as const;

let maxRelErr = 0;
/**
 * `nanAs`: the value Heed gives where PyTorch's is NaN. The one such place: klDiv's gradient
 * wrt a target that is exactly 0, where PyTorch computes 0 * log(0) terms (NaN) and Heed, like
 * the forward value, masks the element (gradient 0, so soft targets with zeros stay trainable).
 */
function expectClose(t: Tensor | null, e: Enc, label: string, tol = 2e-5, nanAs?: number): void {
  expect(t, label).not.toBeNull();
  expect([...(t as Tensor).shape], `${label} shape`).toEqual(e.shape);
  const got = Array.from((t as Tensor).dataSync());
  got.forEach((g, i) => {
    const want = num(e.data[i]);
    if (Number.isNaN(want)) {
      expect(nanAs, `${label}[${i}]: PyTorch gives NaN`).toBeDefined();
      expect(g, `${label}[${i}]`).toBe(nanAs);
      return;
    }
    const err = Math.abs(g - want) / Math.max(1, Math.abs(want));
    maxRelErr = Math.max(maxRelErr, err);
    expect(err, `${label}[${i}]: got ${g}, want ${want}`).toBeLessThanOrEqual(tol);
  });
}

describe('losses match PyTorch 1.13 (values and both gradients)', () => {
  for (const c of fx.losses) {
    it(c.name, () => {
      const [a, b] = c.args.map((e) => toTensor(e, true));
      const out = FNS[c.fn](a, b, c.options);
      expectClose(out, c.value, 'value');
      const scalar = c.upstream ? out.mul(toTensor(c.upstream)).sum() : out;
      scalar.backward();
      expectClose(a.grad, c.grads[0], 'grad x1');
      expectClose(b.grad, c.grads[1], 'grad x2', 2e-5, c.fn === 'klDiv' ? 0 : undefined);
    });
  }
  it('covers every function and reports the max relative error', () => {
    expect(new Set(fx.losses.map((c) => c.fn)).size).toBe(4);
    expect(fx.losses.length).toBeGreaterThan(30);
    console.log(`losses-extra: max relative error vs PyTorch = ${maxRelErr.toExponential(2)}`);
  });
});

describe('finite differences', () => {
  const fd = (f: (x: Tensor) => Tensor, x0: number[], shape: number[]) => {
    const x = tensor(x0, { shape, requiresGrad: true });
    f(x).backward();
    const g = Array.from((x.grad as Tensor).dataSync());
    const h = 1e-2;
    x0.forEach((_, i) => {
      const plus = x0.slice(); plus[i] += h;
      const minus = x0.slice(); minus[i] -= h;
      const num = (f(tensor(plus, { shape })).dataSync()[0] - f(tensor(minus, { shape })).dataSync()[0]) / (2 * h);
      expect(Math.abs(g[i] - num), `d/dx[${i}]: ${g[i]} vs ${num}`).toBeLessThan(2e-3);
    });
  };
  const y = tensor([0.3, -1.2, 2.0, 0.1, -0.4, 1.5], { shape: [2, 3] });
  it('smoothL1Loss and huberLoss (away from the kink)', () => {
    fd((x) => smoothL1Loss(x, y, { beta: 0.7 }), [0.05, 0.3, 0.2, 1.4, -0.2, 3.1], [2, 3]);
    fd((x) => huberLoss(x, y, { delta: 0.8, reduction: 'sum' }), [0.05, 0.3, 0.2, 1.4, -0.2, 3.1], [2, 3]);
  });
  it('klDiv wrt input and target, cosineSimilarity', () => {
    const q = tensor([0.2, 0.5, 0.3, 0.6, 0.1, 0.3], { shape: [2, 3] });
    fd((x) => klDiv(x, q, { reduction: 'batchmean' }), [-1.2, -0.7, -1.5, -0.4, -2.5, -1.1], [2, 3]);
    fd((t) => klDiv(tensor([-1.2, -0.7, -1.5, -0.4, -2.5, -1.1], { shape: [2, 3] }), t, { reduction: 'sum' }), [0.2, 0.5, 0.3, 0.6, 0.1, 0.3], [2, 3]);
    fd((x) => cosineSimilarity(x, y).mul(tensor([1, -2])).sum(), [0.5, 0.3, -0.2, 1.4, -0.2, 3.1], [2, 3]);
  });
});

describe('details and errors', () => {
  it('hand-computed values, zero vectors and the wrappers', async () => {
    expect(await smoothL1Loss(tensor([0, 2]), tensor([0.5, 0])).item()).toBeCloseTo(0.8125, 6);
    expect(await huberLoss(tensor([0, 3]), tensor([1, 0]), { delta: 2, reduction: 'sum' }).item()).toBeCloseTo(4.5, 6);
    expect(Array.from(await cosineSimilarity(tensor([[1, 0], [1, 1]]), tensor([[2, 0], [-1, -1]])).data())).toEqual([1, -1].map((v) => expect.closeTo(v, 6)));
    const z = tensor([[0, 0, 0]], { requiresGrad: true });
    const c = cosineSimilarity(z, tensor([[1, 2, 3]]));
    expect(await c.item()).toBe(0);
    c.backward();
    expect(Array.from((z.grad as Tensor).dataSync()).every(Number.isFinite)).toBe(true);
    // PyTorch: F.kl_div(tensor([1., 2.]), tensor([0., -1.]), reduction='none') == [0., nan]
    const kl = Array.from(await klDiv(tensor([1, 2]), tensor([0, -1]), { reduction: 'none' }).data());
    expect(kl[0]).toBe(0);
    expect(kl[1]).toBeNaN();
    const p = tensor([[-1, -2]]);
    const q = tensor([[0.5, 0.5]]);
    expect(await new KLDivLoss({ reduction: 'batchmean' }).forward(p, q).item()).toBeCloseTo(await klDiv(p, q, { reduction: 'batchmean' }).item(), 7);
    expect(await new SmoothL1Loss({ beta: 2 }).forward(p, q).item()).toBeCloseTo(await smoothL1Loss(p, q, { beta: 2 }).item(), 7);
    expect(await new HuberLoss({ delta: 2 }).forward(p, q).item()).toBeCloseTo(await huberLoss(p, q, { delta: 2 }).item(), 7);
  });

  const js = <T>(v: unknown): T => v as T;
  const a = tensor([[1, 2], [3, 4]]);
  const cases: [string, () => unknown, RegExp][] = [
    ['smoothL1 negative beta', () => smoothL1Loss(a, a, { beta: -1 }), /^smoothL1Loss: beta must be a finite number >= 0, got -1/],
    ['huber delta 0', () => huberLoss(a, a, { delta: 0 }), /^huberLoss: delta must be a finite number > 0/],
    ['huber shape mismatch', () => huberLoss(a, tensor([1, 2])), /^huberLoss: input \[2, 2\] and target \[2\] must have the same shape/],
    ['huber int target', () => huberLoss(a, tensor([[1, 2], [3, 4]], { dtype: 'int32' })), /^huberLoss: target must be float32/],
    ['klDiv bad reduction', () => klDiv(a, a, js({ reduction: 'avg' })), /^klDiv: unknown reduction 'avg'/],
    ['klDiv unknown option', () => klDiv(a, a, js({ log_target: true })), /^klDiv: .*'log_target'/],
    ['klDiv batchmean 0-d', () => klDiv(tensor(1), tensor(1), { reduction: 'batchmean' }), /batch dimension/],
    ['cosine bad dim', () => cosineSimilarity(a, a, { dim: 2 }), /^cosineSimilarity: /],
    ['cosine non-broadcasting', () => cosineSimilarity(a, tensor([[1, 2, 3]])), /^cosineSimilarity: /],
    ['cosine eps 0', () => cosineSimilarity(a, a, { eps: 0 }), /^cosineSimilarity: eps must be a finite number > 0/],
  ];
  for (const [name, call, message] of cases) {
    it(`error: ${name}`, () => {
      let error: unknown;
      try {
        call();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HeedError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('leaks nothing', async () => {
    const x = tensor([[0.1, 2], [3, -4]], { requiresGrad: true });
    const t = tensor([[0.2, 0.8], [0.5, 0.5]]);
    await checkLeaks(() => {
      const cos = cosineSimilarity(x, t);
      const cosSum = cos.sum();
      cos.dispose();
      for (const l of [smoothL1Loss(x, t), huberLoss(x, t), klDiv(x, t), cosSum]) {
        l.backward();
        l.dispose();
      }
      x.grad?.dispose(); // the accumulated gradient is x's state, not a leak of the losses
      x.grad = null;
    });
    x.dispose();
    t.dispose();
  });
});
