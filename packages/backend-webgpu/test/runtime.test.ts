// SPDX-License-Identifier: MIT
// WebGPU-specific behaviour: buffer pool reuse after submit, both matmul variants (forced via
// the debug flag) against a float64 reference with transposed operands, dataSync pointing to
// data(), and device loss surfacing as a HeedError instead of a hang.
import { describe, expect, it } from 'vitest';
import { HeedError, Generator, randn, registerBackend, removeBackend, setBackend, type Tensor } from '@heed/core';
import { WebGPUBackend, chooseMatmulVariant } from '@heed/backend-webgpu';
import { device, gpuInstance } from './gpu.js';

async function use(name: string, backend: WebGPUBackend): Promise<void> {
  registerBackend({ name, priority: 0, async: true, create: () => backend });
  await setBackend(name);
}

function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number, transA: boolean, transB: boolean): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[transA ? p * m + i : i * k + p] * b[transB ? j * k + p : p * n + j];
    out[i * n + j] = s;
  }
  return out;
}

describe.skipIf(!device)('WebGPU runtime', () => {
  void gpuInstance;

  it('chooses variants by size and computes both correctly, transposed operands included', async () => {
    expect(chooseMatmulVariant(1, 64, 64, 64)).toBe('tiled');
    expect(chooseMatmulVariant(4, 3, 5, 7)).toBe('naive');
    for (const variant of ['naive', 'tiled'] as const) {
      const backend = new WebGPUBackend(device!, { forceMatmulVariant: variant }, `webgpu-${variant}`);
      await use(`webgpu-${variant}`, backend);
      const g = new Generator(5);
      const [m, k, n] = [70, 45, 129];
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a: Tensor = randn(transA ? [k, m] : [m, k], { generator: g });
        const b: Tensor = randn(transB ? [n, k] : [k, n], { generator: g });
        const y = (transA ? a.transpose() : a).matmul(transB ? b.transpose() : b);
        const got = await y.data();
        const want = reference(await a.data() as Float32Array, await b.data() as Float32Array, m, k, n, transA, transB);
        want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThan(1e-4 * (1 + Math.abs(w))));
        for (const t of [a, b, y]) t.dispose();
      }
      removeBackend(`webgpu-${variant}`);
    }
  });

  it('reuses pooled buffers after they are freed and submitted', async () => {
    const backend = new WebGPUBackend(device!);
    const first = backend.fill(1000, 1, 'float32');
    backend.free(first);
    backend.flush();
    const before = backend.runtime.stats.reused;
    const copy = backend.copy({ data: backend.fill(1000, 2, 'float32'), dtype: 'float32', shape: [1000], strides: [1], offset: 0 });
    expect(backend.runtime.stats.reused).toBe(before + 1);
    expect(Array.from((await backend.read(copy, 'float32', 3)) as Float32Array)).toEqual([2, 2, 2]);
  });

  it('dataSync points to data()', async () => {
    await use('webgpu-sync', new WebGPUBackend(device!, {}, 'webgpu-sync'));
    const t = randn([2]);
    expect(() => t.dataSync()).toThrow(/await t\.data\(\)/);
    t.dispose();
    removeBackend('webgpu-sync');
  });

  it('a lost device gives a HeedError, not a hang', async () => {
    const adapter = await gpuInstance!.requestAdapter();
    const own = await adapter!.requestDevice();
    const backend = new WebGPUBackend(own);
    const id = backend.fill(4, 1, 'float32');
    own.destroy();
    await new Promise((r) => setTimeout(r, 50));
    let err: unknown = null;
    try {
      backend.copy({ data: id, dtype: 'float32', shape: [4], strides: [1], offset: 0 });
      await backend.read(id, 'float32', 4);
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(HeedError);
    expect(String(err)).toMatch(/lost/);
  });
});
