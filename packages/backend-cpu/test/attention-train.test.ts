// SPDX-License-Identifier: MIT
// Fused attention for training on the CPU backend (attention-train.ts through core's one
// autograd node): outputs and dq/dk/dv against the decomposition (the same CPU backend with
// the fused pair hidden) and against central finite differences of an independent float64
// oracle; causal, additive and bool masks, fully masked rows, L != S, odd sizes, several query
// tiles; fast and reference backends, and under LazyBackend; second order (createGraph)
// through the decomposition; and a long sequence that trains without any [L, S] tensor (the
// kernels' own scratch is two [64, S] tiles inside one call, not visible to memory()).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LazyBackend, backward, grad, memory, mul, noGrad, onKernel, registerBackend, removeBackend, scaledDotProductAttention,
  setBackend, square, sum, tensor, tidy, type AttentionOptions, type Backend, type Tensor,
  type StridedView,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';

/** `be` under another name; `hide` lists the fused kernels it should lack. */
function named(be: Backend, name: string, hide: readonly string[] = []): Backend {
  const w = Object.create(be) as Backend;
  const source = be as unknown as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(CpuBackend.prototype)) {
    const f = source[key];
    if (key !== 'constructor' && typeof f === 'function') Object.defineProperty(w, key, { value: f.bind(be) });
  }
  Object.defineProperty(w, 'name', { value: name });
  for (const k of hide) Object.defineProperty(w, k, { value: undefined });
  return w;
}

const BACKENDS: Record<string, () => Backend> = {
  'att-fast': () => named(new CpuBackend({ fuseTrainingAttentionFrom: 0 }), 'att-fast'),
  'att-ref': () => named(new CpuBackend({ fast: false, fuseTrainingAttentionFrom: 0 }), 'att-ref'),
  'att-lazy': () => new LazyBackend(new CpuBackend({ fuseTrainingAttentionFrom: 0 }), { name: 'att-lazy' }),
  // the decomposition: the same reference backend without the fused training pair
  'att-decomp': () => named(new CpuBackend({ fast: false }), 'att-decomp', ['attentionForward', 'attentionBackward']),
};

beforeAll(async () => {
  for (const [name, create] of Object.entries(BACKENDS)) registerBackend({ name, priority: 0, create });
  await setBackend('att-fast');
});
afterAll(() => { for (const name of Object.keys(BACKENDS)) removeBackend(name); });

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 31 - 1; });
}

interface Case { B: number; H: number; L: number; S: number; D: number; Dv: number; causal: boolean; mask: 'none' | 'float' | 'bool' }

/** Additive float mask [L, S] (some -Infinity, row 1 fully hidden) or bool key mask [B, 1, 1, S]. */
function maskValues(c: Case): { data: number[]; shape: number[] } | null {
  if (c.mask === 'none') return null;
  if (c.mask === 'float') {
    const data = values(c.L * c.S, 99).map((x, i) => (Math.floor(i / c.S) === 1 || x > 0.6 ? -Infinity : x));
    return { data, shape: [c.L, c.S] };
  }
  const data = Array.from({ length: c.B * c.S }, (_, i) => (i % c.S === 0 || (i + 1) % 3 !== 0 ? 1 : 0));
  return { data, shape: [c.B, 1, 1, c.S] };
}

interface Run { out: number[]; dq: number[]; dk: number[]; dv: number[]; kernels: Set<string> }

/** Output and gradients of sum(out * W) on `backend`. */
function run(backend: string, c: Case): Run {
  const kernels = new Set<string>();
  const stop = onKernel((_b, k) => kernels.add(k));
  try {
    return tidy(() => {
      const mk = (shape: number[], seed: number) => tensor(values(shape.reduce((a, b) => a * b, 1), seed), { shape, backend }).requiresGrad_();
      const q = mk([c.B, c.H, c.L, c.D], 1);
      const k = mk([c.B, c.H, c.S, c.D], 2);
      const v = mk([c.B, c.H, c.S, c.Dv], 3);
      const m = maskValues(c);
      const opts: AttentionOptions = { isCausal: c.causal, scale: 0.7 };
      if (m) opts.attnMask = c.mask === 'bool' ? tensor(m.data.map((x) => x === 1), { shape: m.shape, backend }) : tensor(m.data, { shape: m.shape, backend });
      const out = scaledDotProductAttention(q, k, v, opts);
      const w = tensor(values(out.size, 4), { shape: [...out.shape], backend });
      backward(sum(mul(out, w)));
      const read = (t: Tensor | null) => Array.from((t as Tensor).dataSync());
      return { out: read(out), dq: read(q.grad), dk: read(k.grad), dv: read(v.grad), kernels };
    });
  } finally { stop(); }
}

/** float64 oracle: sum(attention(q, k, v) * W) with the decomposition's semantics. */
function oracleLoss(c: Case, q: number[], k: number[], v: number[]): number {
  const m = maskValues(c);
  const w = values(c.B * c.H * c.L * c.Dv, 4);
  let loss = 0;
  for (let b = 0; b < c.B; b++) for (let h = 0; h < c.H; h++) for (let l = 0; l < c.L; l++) {
    const s: number[] = [];
    for (let j = 0; j < c.S; j++) {
      let dot = 0;
      for (let d = 0; d < c.D; d++) dot += q[((b * c.H + h) * c.L + l) * c.D + d] * k[((b * c.H + h) * c.S + j) * c.D + d];
      let x = dot * 0.7;
      if (c.causal && j > l) x = -Infinity;
      if (m && c.mask === 'float') x += m.data[l * c.S + j];
      if (m && c.mask === 'bool' && m.data[b * c.S + j] === 0) x = -Infinity;
      s.push(x);
    }
    const max = Math.max(...s);
    if (max === -Infinity) continue;
    const e = s.map((x) => Math.exp(x - max));
    const z = e.reduce((a, b2) => a + b2, 0);
    for (let d = 0; d < c.Dv; d++) {
      let o = 0;
      for (let j = 0; j < c.S; j++) o += (e[j] / z) * v[((b * c.H + h) * c.S + j) * c.Dv + d];
      loss += o * w[((b * c.H + h) * c.L + l) * c.Dv + d];
    }
  }
  return loss;
}

function expectNear(got: number[], want: number[], tol: number, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    expect(Number.isNaN(got[i]), `${label}[${i}] is NaN`).toBe(false);
    expect(Math.abs(got[i] - want[i]), `${label}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i])));
  }
}

const CASES: Record<string, Case> = {
  'plain, L != S, odd sizes': { B: 2, H: 3, L: 5, S: 7, D: 3, Dv: 4, causal: false, mask: 'none' },
  causal: { B: 1, H: 2, L: 9, S: 6, D: 5, Dv: 3, causal: true, mask: 'none' },
  'additive mask with a fully masked row': { B: 2, H: 2, L: 4, S: 5, D: 3, Dv: 2, causal: false, mask: 'float' },
  'bool key mask + causal': { B: 2, H: 1, L: 6, S: 6, D: 4, Dv: 4, causal: true, mask: 'bool' },
  // more query rows than one tile (64), sizes not multiples of it
  'two query tiles, causal + additive mask': { B: 1, H: 2, L: 70, S: 67, D: 3, Dv: 2, causal: true, mask: 'float' },
};

describe('fused training attention on the CPU backend', () => {
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: fast, reference and lazy backends match the decomposition`, () => {
      const want = run('att-decomp', c);
      expect(want.kernels.has('attentionForward')).toBe(false);
      for (const be of ['att-fast', 'att-ref', 'att-lazy']) {
        const got = run(be, c);
        expect(got.kernels.has('attentionForward') && got.kernels.has('attentionBackward'), be).toBe(true);
        expect(got.kernels.has('matmul'), `${be} materialised scores`).toBe(false);
        for (const key of ['out', 'dq', 'dk', 'dv'] as const) expectNear(got[key], want[key], 2e-5, `${be} ${name} ${key}`);
      }
    });

    it(`${name}: gradients match finite differences of a float64 oracle`, () => {
      const got = run('att-fast', c);
      const qv = values(c.B * c.H * c.L * c.D, 1);
      const kv = values(c.B * c.H * c.S * c.D, 2);
      const vv = values(c.B * c.H * c.S * c.Dv, 3);
      const eps = 1e-5;
      const fd = (which: 0 | 1 | 2): number[] => {
        const base = [qv, kv, vv][which];
        return base.map((x, i) => {
          const at = (delta: number) => {
            const p = base.slice();
            p[i] = x + delta;
            const args: [number[], number[], number[]] = [qv, kv, vv];
            args[which] = p;
            return oracleLoss(c, ...args);
          };
          return (at(eps) - at(-eps)) / (2 * eps);
        });
      };
      expectNear(got.dq, fd(0), 1e-4, 'dq');
      expectNear(got.dk, fd(1), 1e-4, 'dk');
      expectNear(got.dv, fd(2), 1e-4, 'dv');
    });
  }

  it('fully masked rows give zero outputs and no gradient (no NaN)', () => {
    const c = CASES['additive mask with a fully masked row'];
    const got = run('att-fast', c);
    for (let bh = 0; bh < c.B * c.H; bh++) {
      expect(got.out.slice((bh * c.L + 1) * c.Dv, (bh * c.L + 2) * c.Dv)).toEqual(new Array(c.Dv).fill(0));
      expect(got.dq.slice((bh * c.L + 1) * c.D, (bh * c.L + 2) * c.D)).toEqual(new Array(c.D).fill(0));
    }
  });

  it('second order (createGraph) goes through the differentiable decomposition and matches it', () => {
    const c = CASES['bool key mask + causal'];
    const hvp = (backend: string) => tidy(() => {
      const k = tensor(values(c.B * c.H * c.S * c.D, 2), { shape: [c.B, c.H, c.S, c.D], backend });
      const v = tensor(values(c.B * c.H * c.S * c.Dv, 3), { shape: [c.B, c.H, c.S, c.Dv], backend });
      const q = tensor(values(c.B * c.H * c.L * c.D, 1), { shape: [c.B, c.H, c.L, c.D], backend });
      const inner = (x: Tensor) => sum(square(scaledDotProductAttention(x, k, v, { isCausal: true })));
      return Array.from(grad((x: Tensor) => sum(square(grad(inner)(x))))(q).dataSync());
    });
    const want = hvp('att-decomp');
    expect(want.some((x) => Math.abs(x) > 1e-3)).toBe(true);
    expectNear(hvp('att-fast'), want, 1e-4, 'second order');
  });

  it('L = S = 1024 trains without allocating an [L, S] buffer (the decomposition does)', () => {
    const L = 1024;
    const D = 16;
    const peakOf = (backend: string): number => tidy(() => {
      const mk = (seed: number) => tensor(values(L * D, seed), { shape: [1, 1, L, D], backend }).requiresGrad_();
      const [q, k, v] = [mk(1), mk(2), mk(3)];
      const base = memory().numBytes;
      let peak = base;
      const stop = onKernel(() => { peak = Math.max(peak, memory().numBytes); });
      try {
        backward(sum(scaledDotProductAttention(q, k, v, { isCausal: true })));
        peak = Math.max(peak, memory().numBytes);
        noGrad(() => expect(Number.isFinite((q.grad as Tensor).dataSync()[5])).toBe(true));
      } finally { stop(); }
      return peak - base;
    });
    const scores = L * L * 4;
    const fused = peakOf('att-fast');
    const decomposed = peakOf('att-decomp');
    expect(decomposed).toBeGreaterThan(scores);
    expect(fused).toBeLessThan(scores / 4);
  });
});

describe('fuseTrainingAttentionFrom', () => {
  it('declines short sequences by default (the decomposition is faster there) and fuses long ones', () => {
    const view = (be: CpuBackend, L: number): StridedView => ({ data: be.upload(new Float32Array(2 * L * 8).fill(0.5), 'float32'), dtype: 'float32', shape: [1, 2, L, 8], strides: [2 * L * 8, L * 8, 8, 1], offset: 0 });
    const plain = new CpuBackend({ fast: false });
    const short = view(plain, 16);
    expect(plain.attentionForward(short, short, short, null, 1, false)).toBeNull();
    const long = view(plain, 512);
    expect(plain.attentionForward(long, long, long, null, 1, false)).not.toBeNull();
    const always = new CpuBackend({ fast: false, fuseTrainingAttentionFrom: 0 });
    const s2 = view(always, 16);
    expect(always.attentionForward(s2, s2, s2, null, 1, false)).not.toBeNull();
  });
});
