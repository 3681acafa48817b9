// SPDX-License-Identifier: MIT
// The native kernels are really used through core's public ops: a provider that counts every
// native call sits under a registered CPU backend, the ops run (forward and backward), and each
// kernel must have run natively while the results match the reference kernels
// (CpuBackend({ fast: false })) run on the same inputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adamStep, gelu, layerNorm, linear, registerBackend, removeBackend, scaledDotProductAttention, setBackend, softmax,
  sum, tensor, valueAndGrad, type Tensor,
} from '@heed/core';
import { CpuBackend, type NativeKernels } from '@heed/backend-cpu';
import { loadAddon } from '@heed/backend-native';
import { wrapBackend } from '@heed/backend-conformance';

const { addon } = loadAddon();
addon.setThreads(2);
const ran = new Map<string, number>();
const counted = Object.fromEntries(
  ['bind', 'matmul', 'softmax', 'layerNorm', 'gelu', 'reduceRows', 'reduceCols', 'adam', 'attentionForward', 'attentionBackward']
    .filter((k) => typeof (addon as unknown as Record<string, unknown>)[k] === 'function')
    .map((k) => [k, (...args: unknown[]) => {
      const r = ((addon as unknown as Record<string, (...a: unknown[]) => unknown>)[k])(...args);
      if (r === true) ran.set(k, (ran.get(k) ?? 0) + 1);
      return r;
    }]),
) as unknown as NativeKernels;

function values(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 * 2 - 1;
  });
}

/** Runs `f` on `backend` and returns its outputs as numbers. */
async function on(name: string, f: () => Tensor[]): Promise<number[][]> {
  await setBackend(name);
  const outs = f();
  return Promise.all(outs.map(async (t) => Array.from(await t.data())));
}

function close(a: number[][], b: number[][], tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  a.forEach((xs, i) => xs.forEach((x, j) => expect(Math.abs(x - b[i][j])).toBeLessThan(tol * (1 + Math.abs(b[i][j])))));
}

describe('native kernels through core ops', () => {
  beforeAll(() => {
    const native = new CpuBackend({ threads: 2, fuseTrainingAttentionFrom: 0, native: { name: 'counted', kernels: counted } });
    const reference = new CpuBackend({ fast: false, fuseTrainingAttentionFrom: 0 });
    registerBackend({ name: 'native-counted', priority: 0, create: () => wrapBackend(native, { name: 'native-counted', ownsBackend: true }) });
    registerBackend({ name: 'reference', priority: 0, create: () => wrapBackend(reference, { name: 'reference', ownsBackend: true }) });
  });
  afterAll(() => {
    removeBackend('native-counted');
    removeBackend('reference');
  });

  const step = () => {
    const x = tensor(values(2 * 5 * 16, 1), { shape: [2, 5, 16] });
    const w = tensor(values(12 * 16, 2), { shape: [12, 16] });
    const b = tensor(values(12, 3), { shape: [12] });
    const g = tensor(values(12, 4), { shape: [12] });
    const q = tensor(values(2 * 2 * 5 * 6, 5), { shape: [2, 2, 5, 6] });
    const loss = (xx: Tensor, ww: Tensor, qq: Tensor) => {
      const h = layerNorm(gelu(linear(xx, ww, b)), [12], g, b);
      const att = scaledDotProductAttention(qq, qq, qq, { isCausal: true });
      return sum(softmax(h, -1).mul(h)).add(sum(att.mul(att)));
    };
    const { value, grads: [dx, dw, dq] } = valueAndGrad(loss)(x, w, q);
    const colSums = sum(x, { axis: 0 });
    const r = adamStep(w, dw, w.mul(0.1), w.mul(w), { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 });
    return [value, dx, dw, dq, colSums, r.param, r.expAvg, r.expAvgSq];
  };

  it('forward, backward and Adam match the reference kernels, and every native kernel ran', async () => {
    const want = await on('reference', step);
    ran.clear();
    const got = await on('native-counted', step);
    close(got, want);
    for (const k of ['matmul', 'softmax', 'layerNorm', 'gelu', 'adam', 'attentionForward', 'attentionBackward']) {
      expect([k, ran.get(k) ?? 0]).not.toEqual([k, 0]);
    }
    expect((ran.get('reduceRows') ?? 0) + (ran.get('reduceCols') ?? 0)).toBeGreaterThan(0);
  });
});
