// SPDX-License-Identifier: MIT
// Lazy execution over the native CPU backend: a matmul and its elementwise epilogue (bias add,
// relu, residual add; a tanh GELU after linear) are one matmulElementwise call (the native GEMM,
// then the generated WASM program over the product), bitwise equal to the eager native backend
// running matmul and the elementwise ops one by one. Also: the operand layouts a lazy training
// step hands the inner backend (transposed weights, A^T B weight gradients, permuted heads) all
// run on the native GEMM (fastInfo().matmuls), none on the WASM one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LazyBackend, gelu, linear, registerBackend, relu, removeBackend, softmax, tensor, tidy, valueAndGrad, type Tensor } from '@heed/core';
import { createNativeCpuBackend } from '@heed/backend-native';
import type { CpuBackend } from '@heed/backend-cpu';

let lazy: LazyBackend;
let inner: CpuBackend;
let eager: CpuBackend;
beforeAll(() => {
  eager = createNativeCpuBackend();
  const renamed = new Proxy(eager, {
    get(target, key) {
      if (key === 'name') return 'native-eager-mme';
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  registerBackend({ name: 'native-eager-mme', priority: -10, create: () => renamed });
  inner = createNativeCpuBackend();
  lazy = new LazyBackend(inner, { name: 'native-lazy-mme' });
  registerBackend({ name: 'native-lazy-mme', priority: -10, create: () => lazy });
});
afterAll(() => {
  removeBackend('native-eager-mme');
  removeBackend('native-lazy-mme');
});

function values(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
}

async function run(backend: string, f: (x: Tensor, w: Tensor, b: Tensor, r: Tensor) => Tensor): Promise<number[]> {
  const [M, K, N] = [64, 96, 48];
  const x = tensor(values(M * K, 1), { shape: [M, K], backend });
  const w = tensor(values(N * K, 2), { shape: [N, K], backend });
  const b = tensor(values(N, 3), { shape: [N], backend });
  const r = tensor(values(M * N, 4), { shape: [M, N], backend });
  const y = tidy(() => f(x, w, b, r));
  const got = Array.from(await y.data());
  for (const t of [x, w, b, r, y]) t.dispose();
  return got;
}

describe('lazy matmul epilogues on the native CPU backend', () => {
  it('runs relu(x @ w^T + b) + r as 1 dispatch, bitwise equal to eager', async () => {
    const f = (x: Tensor, w: Tensor, b: Tensor, r: Tensor) => relu(x.matmul(w.transpose(0, 1)).add(b)).add(r);
    const want = await run('native-eager-mme', f);
    lazy.resetStats();
    const got = await run('native-lazy-mme', f);
    expect(lazy.stats().dispatches).toBe(1);
    expect(got).toEqual(want);
  });

  it('records linear as matmul + bias add: Linear + tanh GELU (decomposed) is 1 dispatch, equal to eager matmul + add + the decomposition', async () => {
    const decomposed = (t: Tensor) => t.mul(0.5).mul(t.add(t.mul(t).mul(t).mul(0.044715)).mul(Math.sqrt(2 / Math.PI)).tanh().add(1));
    const want = await run('native-eager-mme', (x, w, b) => decomposed(x.matmul(w.transpose(0, 1)).add(b)));
    lazy.resetStats();
    const got = await run('native-lazy-mme', (x, w, b) => decomposed(linear(x, w, b)));
    expect(lazy.stats().dispatches).toBe(1);
    expect(got).toEqual(want);
    // the fused gelu kernel of the inner backend runs eagerly on the computed product: 2 dispatches
    lazy.resetStats();
    await run('native-lazy-mme', (x, w, b) => gelu(linear(x, w, b), 'tanh'));
    expect(lazy.stats().dispatches).toBe(2);
  });
});

describe('lazy training-step layouts on the native CPU backend', () => {
  /** Loss and gradients of a one-head attention + MLP block (the bench step's matmul layouts: x @ w^T, q @ k^T, A^T B gradients). */
  async function step(backend: string): Promise<number[][]> {
    const [B, T, D] = [2, 16, 24];
    const x = tensor(values(B * T * D, 5), { shape: [B, T, D], backend });
    const wq = tensor(values(D * D, 6), { shape: [D, D], backend });
    const wk = tensor(values(D * D, 7), { shape: [D, D], backend });
    const w1 = tensor(values(D * D, 8), { shape: [D, D], backend });
    const b1 = tensor(values(D, 9), { shape: [D], backend });
    const f = valueAndGrad((xs: Tensor, q: Tensor, k: Tensor, w: Tensor, b: Tensor) => {
      const qs = xs.matmul(q), ks = xs.matmul(k.transpose(0, 1));
      const a = softmax(qs.matmul(ks.transpose(-1, -2)).mul(1 / Math.sqrt(D)), -1);
      const h = a.matmul(xs).reshape([B * T, D]);
      return relu(h.matmul(w).add(b)).square().mean();
    });
    const out = tidy(() => { const { value, grads } = f(x, wq, wk, w1, b1); return [value, ...grads]; });
    const got = await Promise.all(out.map(async (t) => Array.from(await t.data())));
    for (const t of [x, wq, wk, w1, b1, ...out]) t.dispose();
    return got;
  }

  it('runs every matmul of forward and backward natively, equal to eager up to reduction order', async () => {
    const want = await step('native-eager-mme');
    const before = inner.fastInfo()?.matmuls ?? { native: 0, wasm: 0 };
    const got = await step('native-lazy-mme');
    const after = inner.fastInfo()?.matmuls ?? { native: 0, wasm: 0 };
    // lazy runs mean/sum and softmax's folds as generated row programs, eager as native row
    // kernels: the same sums in another order, so float32 rounding differs in the last bits
    expect(got.map((g) => g.length)).toEqual(want.map((w) => w.length));
    got.forEach((g, i) => {
      const scale = Math.max(...want[i].map(Math.abs));
      g.forEach((v, j) => expect(Math.abs(v - want[i][j])).toBeLessThanOrEqual(1e-5 * scale));
    });
    expect(after.wasm - before.wasm).toBe(0);
    // 5 forward products (qs, ks, scores, a @ xs, h @ w) and their operand gradients reach the GEMM
    expect(after.native - before.native).toBeGreaterThanOrEqual(10);
    expect(eager.fastInfo()?.matmuls.wasm).toBe(0);
  });
});
