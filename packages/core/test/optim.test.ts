// SPDX-License-Identifier: MIT
// adamStep: the values of PyTorch's Adam formula (computed here in float64) on the CPU backend
// with and without its fused kernel, inputs left unchanged, and clear errors for bad input.
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import {
  HeedError, PRIMITIVE_NAMES, adamStep, noGrad, registerBackend, removeBackend, tensor, type AdamStepOptions, type Backend,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';

/** torch.optim.Adam's update in float64. */
function reference(p: number[], g: number[], m: number[], v: number[], o: AdamStepOptions) {
  const m2 = m.map((x, i) => o.beta1 * x + (1 - o.beta1) * g[i]);
  const v2 = v.map((x, i) => o.beta2 * x + (1 - o.beta2) * g[i] * g[i]);
  const stepSize = o.lr / (1 - o.beta1 ** o.step);
  const bc2 = Math.sqrt(1 - o.beta2 ** o.step);
  return { p: p.map((x, i) => x - stepSize * m2[i] / (Math.sqrt(v2[i]) / bc2 + o.eps)), m: m2, v: v2 };
}

/** `be` under another name (methods called on the real instance), so it can be registered. */
function renamed(be: CpuBackend, name: string): Backend {
  const wrapper = Object.create(be) as Record<string, unknown>;
  const source = be as unknown as Record<string, unknown>;
  for (const key of [...PRIMITIVE_NAMES, 'readSync', 'flush', 'dispose', 'adam']) {
    if (typeof source[key] === 'function') wrapper[key] = (...a: unknown[]) => (source[key] as (...x: unknown[]) => unknown).apply(be, a);
  }
  Object.defineProperty(wrapper, 'name', { value: name });
  return wrapper as unknown as Backend;
}

describe('adamStep', () => {
  const P = [1, -2, 0.5, 3], G = [0.1, -0.3, 0, 2], M = [0.01, 0.02, -0.03, 0], V = [0.001, 0.002, 0, 0.5];
  const opts: AdamStepOptions = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 7 };
  const want = reference(P, G, M, V, opts);

  for (const [label, options] of [['fused (fast path)', {}], ['primitives (reference kernels)', { fast: false }]] as const) {
    it(`matches PyTorch's formula, ${label}`, () => {
      const be = new CpuBackend(options);
      const name = `cpu-adam-${label.split(' ')[0]}`;
      const wrapped = renamed(be, name);
      registerBackend({ name, priority: 0, create: () => wrapped });
      expect(typeof be.adam === 'function').toBe(label.startsWith('fused'));
      expect(typeof wrapped.adam === 'function').toBe(label.startsWith('fused'));
      const t = (x: number[]) => tensor(x, { shape: [2, 2], backend: name });
      const [p, g, m, v] = [t(P), t(G), t(M), t(V)];
      const r = adamStep(p, g, m, v, opts);
      expectClose(r.param, want.p, [2, 2], 1e-6);
      expectClose(r.expAvg, want.m, [2, 2], 1e-6);
      expectClose(r.expAvgSq, want.v, [2, 2], 1e-6);
      expectClose(p, P);
      expectClose(m, M);
      expectClose(v, V);
      expect(r.param.backend).toBe(wrapped);
      for (const x of [p, g, m, v, r.param, r.expAvg, r.expAvgSq]) x.dispose();
      removeBackend(name);
    });
  }

  it('rejects mismatched shapes, non-float dtypes, bad hyper-parameters and grad-recording inputs', () => {
    const p = tensor([1, 2]), g = tensor([0.1, 0.2]), m = tensor([0, 0]), v = tensor([0, 0]);
    const err = (f: () => unknown, re: RegExp) => {
      let e: unknown = null;
      try { f(); } catch (x) { e = x; }
      expect(e).toBeInstanceOf(HeedError);
      expect((e as HeedError).op).toBe('adamStep');
      expect(String(e)).toMatch(re);
    };
    err(() => adamStep(p, tensor([1, 2, 3]), m, v, opts), /grad has shape \[3\] but param has \[2\]/);
    err(() => adamStep(p, g, tensor([0, 0], { dtype: 'int32' }), v, opts), /expAvg must be float32, got int32/);
    err(() => adamStep(p, g, m, v, { ...opts, step: 0 }), /step must be a positive integer/);
    err(() => adamStep(p, g, m, v, { ...opts, beta2: 1 }), /betas must lie in \[0, 1\)/);
    const leaf = tensor([1, 2], { requiresGrad: true });
    err(() => adamStep(leaf, g, m, v, opts), /param requires grad.*noGrad/);
    const r = noGrad(() => adamStep(leaf, g, m, v, opts));
    expect(r.param.requiresGrad).toBe(false);
  });
});
