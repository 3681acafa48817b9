// SPDX-License-Identifier: MIT
// Fused attention for training on WebGPU (attention-train.ts through core's one autograd
// node): output and dq/dk/dv of sum(out * W) against the decomposition on the same device
// (the backend with the fused pair hidden) and against the CPU reference backend's
// decomposition; odd sizes with L != S, causal, an additive mask with -Infinity entries and a
// fully masked row, a broadcast bool key mask with causal. Small sizes: SwiftShader is slow
// (so the debug switch alwaysFuseTrainingAttention makes the forward run below its size floor).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backward, mul, onKernel, registerBackend, removeBackend, scaledDotProductAttention, setBackend, sum, tensor, tidy,
  type AttentionOptions, type Tensor,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device } from './gpu.js';

interface Case { B: number; H: number; L: number; S: number; D: number; Dv: number; causal: boolean; mask: 'none' | 'float' | 'bool' }

const CASES: Record<string, Case> = {
  'plain, L != S, odd sizes': { B: 2, H: 2, L: 5, S: 7, D: 3, Dv: 4, causal: false, mask: 'none' },
  causal: { B: 1, H: 2, L: 9, S: 6, D: 5, Dv: 3, causal: true, mask: 'none' },
  'additive mask with a fully masked row': { B: 2, H: 2, L: 4, S: 5, D: 3, Dv: 2, causal: false, mask: 'float' },
  'bool key mask + causal': { B: 2, H: 1, L: 6, S: 6, D: 4, Dv: 4, causal: true, mask: 'bool' },
};

function values(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 31 - 1; });
}

interface Run { out: number[]; dq: number[]; dk: number[]; dv: number[]; kernels: Set<string> }

async function run(backend: string, c: Case): Promise<Run> {
  const kernels = new Set<string>();
  const stop = onKernel((_b, k) => kernels.add(k));
  const ts = tidy(() => {
    const mk = (shape: number[], seed: number) => tensor(values(shape.reduce((a, b) => a * b, 1), seed), { shape, backend }).requiresGrad_();
    const q = mk([c.B, c.H, c.L, c.D], 1);
    const k = mk([c.B, c.H, c.S, c.D], 2);
    const v = mk([c.B, c.H, c.S, c.Dv], 3);
    const opts: AttentionOptions = { isCausal: c.causal, scale: 0.7 };
    if (c.mask === 'float') {
      opts.attnMask = tensor(values(c.L * c.S, 99).map((x, i) => (Math.floor(i / c.S) === 1 || x > 0.6 ? -Infinity : x)), { shape: [c.L, c.S], backend });
    } else if (c.mask === 'bool') {
      opts.attnMask = tensor(Array.from({ length: c.B * c.S }, (_, i) => i % c.S === 0 || (i + 1) % 3 !== 0), { shape: [c.B, 1, 1, c.S], backend });
    }
    const out = scaledDotProductAttention(q, k, v, opts);
    backward(sum(mul(out, tensor(values(out.size, 4), { shape: [...out.shape], backend }))));
    return [out, ...[q, k, v].map((t) => (t.grad as Tensor).clone())];
  });
  stop();
  const [out, dq, dk, dv] = await Promise.all(ts.map(async (t) => Array.from(await t.data())));
  for (const t of ts) t.dispose();
  return { out, dq, dk, dv, kernels };
}

function expectNear(got: number[], want: number[], tol: number, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    expect(Number.isNaN(got[i]), `${label}[${i}] is NaN`).toBe(false);
    expect(Math.abs(got[i] - want[i]), `${label}[${i}]: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i])));
  }
}

describe.skipIf(!device)('fused training attention on WebGPU', () => {
  beforeAll(async () => {
    registerBackend({ name: 'gpu-att', priority: 0, async: true, create: () => new WebGPUBackend(device!, { alwaysFuseTrainingAttention: true }, 'gpu-att') });
    registerBackend({
      name: 'gpu-att-decomp', priority: 0, async: true, create: () => {
        const be = new WebGPUBackend(device!, {}, 'gpu-att-decomp');
        for (const k of ['attentionForward', 'attentionBackward']) Object.defineProperty(be, k, { value: undefined });
        return be;
      },
    });
    registerBackend({ name: 'cpu-att-ref', priority: 0, create: () => Object.defineProperties(new CpuBackend({ fast: false }), {
      name: { value: 'cpu-att-ref' }, attentionForward: { value: undefined }, attentionBackward: { value: undefined },
    }) });
    await setBackend('gpu-att-decomp');
    await setBackend('cpu-att-ref');
    await setBackend('gpu-att');
  });
  afterAll(() => { for (const n of ['gpu-att', 'gpu-att-decomp', 'gpu-att-auto', 'cpu-att-ref']) removeBackend(n); });

  it('declines below its size floor without the debug switch (the decomposition runs)', async () => {
    registerBackend({ name: 'gpu-att-auto', priority: 0, async: true, create: () => new WebGPUBackend(device!, {}, 'gpu-att-auto') });
    await setBackend('gpu-att-auto');
    const got = await run('gpu-att-auto', CASES.causal);
    expect(got.kernels.has('attentionForward')).toBe(true);
    expect(got.kernels.has('attentionBackward')).toBe(false);
    expect(got.kernels.has('matmul')).toBe(true);
    const want = await run('cpu-att-ref', CASES.causal);
    expectNear(got.dq, want.dq, 2e-5, 'declined dq');
    await setBackend('gpu-att');
  });

  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: matches the decomposition on the device and on the CPU reference`, async () => {
      const got = await run('gpu-att', c);
      expect(got.kernels.has('attentionForward') && got.kernels.has('attentionBackward')).toBe(true);
      expect(got.kernels.has('matmul')).toBe(false);
      const gpu = await run('gpu-att-decomp', c);
      expect(gpu.kernels.has('attentionForward')).toBe(false);
      const cpu = await run('cpu-att-ref', c);
      for (const key of ['out', 'dq', 'dk', 'dv'] as const) {
        expectNear(got[key], gpu[key], 2e-5, `${name} ${key} vs gpu decomposition`);
        expectNear(got[key], cpu[key], 2e-5, `${name} ${key} vs cpu decomposition`);
      }
      if (c.mask === 'float') {
        for (let bh = 0; bh < c.B * c.H; bh++) expect(got.dq.slice((bh * c.L + 1) * c.D, (bh * c.L + 2) * c.D)).toEqual(new Array(c.D).fill(0));
      }
    });
  }
});
