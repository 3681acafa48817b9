// SPDX-License-Identifier: MIT
// Lazy execution over the native CPU backend: a matmul and its elementwise epilogue (bias add,
// relu, residual add; a tanh GELU after linear) are one matmulElementwise call (the native GEMM,
// then the generated WASM program over the product), bitwise equal to the eager native backend
// running matmul and the elementwise ops one by one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LazyBackend, gelu, linear, registerBackend, relu, removeBackend, tensor, tidy, type Tensor } from '@heed/core';
import { createNativeCpuBackend } from '@heed/backend-native';

let lazy: LazyBackend;
beforeAll(() => {
  const eager = createNativeCpuBackend();
  const renamed = new Proxy(eager, {
    get(target, key) {
      if (key === 'name') return 'native-eager-mme';
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  registerBackend({ name: 'native-eager-mme', priority: -10, create: () => renamed });
  lazy = new LazyBackend(createNativeCpuBackend(), { name: 'native-lazy-mme' });
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
