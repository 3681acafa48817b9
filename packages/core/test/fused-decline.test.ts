// SPDX-License-Identifier: MIT
// Fused kernels that decline (return null): core must run its fallback and give the right
// values and gradients, free the contiguous copies it made for the kernel, and still use the
// kernel's result when it does not decline. The backend is the CPU reference backend plus
// fused kernels that count their calls; expected values are computed here in float64
// (softmax/logSoftmax/GELU/LayerNorm/attention/Adam formulas and their analytic gradients).
import { describe, expect, it } from 'vitest';
import {
  PRIMITIVE_NAMES, adamStep, gelu, layerNorm, logSoftmax, memory, noGrad, registerBackend, removeBackend,
  scaledDotProductAttention, softmax, tensor, tidy, where, type Backend, type FusedKernels, type Tensor,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import './setup.js'; // 'cpu' is the current backend; the backends below are not

type KernelName = keyof FusedKernels;
const KERNELS: readonly KernelName[] = ['softmax', 'logSoftmax', 'gelu', 'layerNorm', 'attention', 'adam'];

/**
 * The reference CPU backend under `name`, with every fused kernel present; `decide(kernel,
 * args)` says whether a call declines (null) or is answered by `answer` (else null too).
 */
function backendWith(name: string, decide: (k: KernelName, args: unknown[]) => boolean,
  answer: Partial<Record<KernelName, (...a: never[]) => unknown>> = {}) {
  const be = new CpuBackend({ fast: false });
  const source = be as unknown as Record<string, unknown>;
  const wrapper = Object.create(be) as Record<string, unknown>;
  for (const key of [...PRIMITIVE_NAMES, 'readSync', 'dispose']) {
    wrapper[key] = (...a: unknown[]) => (source[key] as (...x: unknown[]) => unknown).apply(be, a);
  }
  const calls: Record<string, number> = {};
  for (const k of KERNELS) {
    calls[k] = 0;
    wrapper[k] = (...a: unknown[]) => {
      calls[k]++;
      if (decide(k, a)) return null;
      const f = answer[k] as ((...x: unknown[]) => unknown) | undefined;
      return f ? f(...a) : null;
    };
  }
  Object.defineProperty(wrapper, 'name', { value: name });
  const backend = wrapper as unknown as Backend;
  registerBackend({ name, priority: -1, create: () => backend });
  return { backend, calls, remove: () => removeBackend(name) };
}

function values(n: number, seed: number, lo = -2, hi = 2): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + (hi - lo) * (s / 4294967296));
  });
}

function expectNear(got: ArrayLike<number>, want: readonly number[], tol: number, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `${label}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i])));
  }
}

/** erf to ~1e-12 (series for small |x|, continued fraction via erfc otherwise is overkill here). */
function erf(x: number): number {
  // Taylor series converges fast for |x| < 3; beyond that erf is 1 to float32 precision.
  if (Math.abs(x) > 3.5) return Math.sign(x);
  let sum = x;
  let term = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** Row-wise float64 references over the last axis of a [rows, n] array. */
function rows(x: readonly number[], n: number): number[][] {
  return Array.from({ length: x.length / n }, (_, r) => x.slice(r * n, r * n + n));
}
const softmaxRef = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** Runs `f(x)` with `x` requiring grad, then backward of sum(f(x) * u); returns [y, dx]. */
function valueAndGrad(f: (x: Tensor) => Tensor, x: Tensor, u: number[]): [Float32Array, Float32Array] {
  const y = tidy(() => f(x));
  tidy(() => y.mul(tensor(u, { shape: y.shape, backend: x.backend.name })).sum().backward());
  const out: [Float32Array, Float32Array] = [y.dataSync() as Float32Array, x.grad!.dataSync() as Float32Array];
  y.dispose();
  return out;
}

describe('fused kernels that decline', () => {
  const shape = [3, 5];
  const X = values(15, 1);
  const U = values(15, 2);

  it('softmax and logSoftmax: core falls back, values and gradients are right, the kernel was asked', () => {
    const { calls, remove } = backendWith('decline-softmax', () => true);
    const x = tensor(X, { shape, backend: 'decline-softmax', requiresGrad: true });
    const before = memory();
    const [y, dx] = valueAndGrad((t) => softmax(t), x, U);
    const sm = rows(X, 5).map(softmaxRef);
    expectNear(y, sm.flat(), 1e-6, 'softmax');
    // d/dx sum(u * softmax(x)) = y * (u - sum(u * y)) per row
    const want = sm.flatMap((yr, r) => { const ur = U.slice(r * 5, r * 5 + 5); const d = yr.reduce((a, v, j) => a + v * ur[j], 0); return yr.map((v, j) => v * (ur[j] - d)); });
    expectNear(dx, want, 1e-5, 'softmax grad');
    x.grad!.dispose();
    x.grad = null;
    const [ly, ldx] = valueAndGrad((t) => logSoftmax(t, 1), x, U);
    expectNear(ly, sm.flat().map(Math.log), 1e-6, 'logSoftmax');
    // d/dx sum(u * logSoftmax(x)) = u - softmax(x) * sum(u) per row
    expectNear(ldx, sm.flatMap((yr, r) => { const ur = U.slice(r * 5, r * 5 + 5); const s = ur.reduce((a, b) => a + b, 0); return yr.map((v, j) => ur[j] - v * s); }), 1e-5, 'logSoftmax grad');
    expect(calls.softmax).toBe(1);
    expect(calls.logSoftmax).toBe(1);
    x.grad!.dispose();
    x.grad = null;
    expect(memory().numTensors).toBe(before.numTensors);
    expect(memory().numBytes).toBe(before.numBytes);
    x.dispose();
    remove();
  });

  it('gelu (both forms) and layerNorm: values and gradients from the fallback', () => {
    const { calls, remove } = backendWith('decline-norm', () => true);
    const x = tensor(X, { shape, backend: 'decline-norm', requiresGrad: true });
    const Phi = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));
    const phi = (v: number) => Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI);
    const [y, dx] = valueAndGrad((t) => gelu(t), x, U);
    expectNear(y, X.map((v) => v * Phi(v)), 1e-6, 'gelu');
    expectNear(dx, X.map((v, i) => U[i] * (Phi(v) + v * phi(v))), 1e-5, 'gelu grad');
    x.grad!.dispose();
    x.grad = null;
    const c = Math.sqrt(2 / Math.PI);
    const [ty, tdx] = valueAndGrad((t) => gelu(t, 'tanh'), x, U);
    expectNear(ty, X.map((v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3)))), 1e-6, 'gelu tanh');
    expectNear(tdx, X.map((v, i) => {
      const t = Math.tanh(c * (v + 0.044715 * v ** 3));
      return U[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v));
    }), 1e-5, 'gelu tanh grad');
    x.grad!.dispose();
    x.grad = null;

    const W = values(5, 3, 0.5, 1.5);
    const B = values(5, 4);
    const w = tensor(W, { backend: 'decline-norm' });
    const b = tensor(B, { backend: 'decline-norm' });
    const eps = 1e-5;
    const [ny, ndx] = valueAndGrad((t) => layerNorm(t, [5], w, b, eps), x, U);
    const want: number[] = [];
    const wantDx: number[] = [];
    rows(X, 5).forEach((row, r) => {
      const mu = row.reduce((a, v) => a + v, 0) / 5;
      const rstd = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / 5 + eps);
      const xhat = row.map((v) => (v - mu) * rstd);
      xhat.forEach((h, j) => want.push(h * W[j] + B[j]));
      // dx = rstd / N * (N g - sum(g) - xhat * sum(g * xhat)), g = u * w
      const g = xhat.map((_, j) => U[r * 5 + j] * W[j]);
      const sg = g.reduce((a, v) => a + v, 0);
      const sgx = g.reduce((a, v, j) => a + v * xhat[j], 0);
      xhat.forEach((h, j) => wantDx.push((rstd / 5) * (5 * g[j] - sg - h * sgx)));
    });
    expectNear(ny, want, 1e-5, 'layerNorm');
    expectNear(ndx, wantDx, 1e-4, 'layerNorm grad');
    expect([calls.gelu, calls.layerNorm]).toEqual([2, 1]);
    for (const t of [x.grad!, x, w, b]) t.dispose();
    remove();
  });

  it('attention and adamStep: the decomposition runs and gives the formula values', () => {
    const { calls, remove } = backendWith('decline-attn', () => true);
    const name = 'decline-attn';
    const [L, S, D] = [3, 4, 2];
    const Q = values(L * D, 5), K = values(S * D, 6), V = values(S * D, 7);
    const out = noGrad(() => scaledDotProductAttention(
      tensor(Q, { shape: [1, 1, L, D], backend: name }), tensor(K, { shape: [1, 1, S, D], backend: name }),
      tensor(V, { shape: [1, 1, S, D], backend: name }), { isCausal: true }));
    const want: number[] = [];
    for (let l = 0; l < L; l++) {
      const scores = Array.from({ length: S }, (_, s) => (s <= l ? (Q[l * D] * K[s * D] + Q[l * D + 1] * K[s * D + 1]) / Math.sqrt(D) : -Infinity));
      const p = softmaxRef(scores);
      for (let d = 0; d < D; d++) want.push(p.reduce((a, pv, s) => a + pv * V[s * D + d], 0));
    }
    expectNear(out.dataSync(), want, 1e-5, 'attention');
    expect(calls.attention).toBe(1);

    const P = values(6, 8), G = values(6, 9), M = values(6, 10, -0.1, 0.1), Vs = values(6, 11, 0, 0.5);
    const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 };
    const t = (a: number[]) => tensor(a, { backend: name });
    const r = adamStep(t(P), t(G), t(M), t(Vs), o);
    const m2 = M.map((v, i) => o.beta1 * v + (1 - o.beta1) * G[i]);
    const v2 = Vs.map((v, i) => o.beta2 * v + (1 - o.beta2) * G[i] ** 2);
    const p2 = P.map((v, i) => v - (o.lr / (1 - o.beta1 ** o.step)) * m2[i] / (Math.sqrt(v2[i]) / Math.sqrt(1 - o.beta2 ** o.step) + o.eps));
    expectNear(r.param.dataSync(), p2, 1e-6, 'adam param');
    expectNear(r.expAvg.dataSync(), m2, 1e-6, 'adam m');
    expectNear(r.expAvgSq.dataSync(), v2, 1e-6, 'adam v');
    expect(calls.adam).toBe(1);
    remove();
  });

  it('where(cond, number, number) and a bool attention mask stay on the backend of cond, not the current one', () => {
    // found by the conformance case fused/declined: toAdditive(mask) = where(mask, 0, -inf) made
    // its scalars on the current backend, so a mask on any other backend failed to combine
    const { remove } = backendWith('not-current', () => true);
    const cond = tensor([1, 0, 1], { dtype: 'bool', backend: 'not-current' });
    const w = where(cond, 2, -Infinity);
    expect(w.backend.name).toBe('not-current');
    expect(Array.from(w.dataSync())).toEqual([2, -Infinity, 2]);
    const name = 'not-current';
    const q = tensor(values(4, 13), { shape: [1, 1, 2, 2], backend: name });
    const mask = tensor([1, 0, 1, 1], { shape: [2, 2], dtype: 'bool', backend: name });
    const out = noGrad(() => scaledDotProductAttention(q, q, q, { attnMask: mask }));
    const Q = Array.from(q.dataSync());
    // row 0 sees only key 0 (output = v0); row 1 sees both keys
    const s1 = [0, 1].map((s) => (Q[2] * Q[2 * s] + Q[3] * Q[2 * s + 1]) / Math.SQRT2);
    const p = softmaxRef(s1);
    expectNear(out.dataSync(), [Q[0], Q[1], p[0] * Q[0] + p[1] * Q[2], p[0] * Q[1] + p[1] * Q[3]], 1e-6, 'masked attention');
    remove();
  });

  it('uses the kernel result when it does not decline, per call', () => {
    // softmax answered with a constant 0.25 for width-4 rows, declined otherwise
    const plain = new CpuBackend({ fast: false });
    const be = backendWith('decline-some', (_, a) => (a[0] as { shape: number[] }).shape.at(-1) !== 4, {
      softmax: (x: { shape: number[] }) => plain.upload(new Float32Array(x.shape.reduce((p, d) => p * d, 1)).fill(0.25), 'float32'),
    });
    const four = softmax(tensor(values(8, 12), { shape: [2, 4], backend: 'decline-some' }));
    expect(Array.from(four.dataSync())).toEqual(new Array(8).fill(0.25)); // the kernel's answer
    const five = softmax(tensor(X, { shape, backend: 'decline-some' }));
    expectNear(five.dataSync(), rows(X, 5).flatMap(softmaxRef), 1e-6, 'declined rows');
    expect(be.calls.softmax).toBe(2);
    be.remove();
  });
});
