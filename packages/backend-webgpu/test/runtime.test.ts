// SPDX-License-Identifier: MIT
// WebGPU-specific behaviour: every matmul variant (forced through the debug flag) against a
// naive JS triple loop with transposed, offset and batch-broadcast operands; the heuristic;
// the buffer pool (reuse only after submit); the pipeline cache; batching; printShaders;
// creation paths; no synchronous reads; device loss, out-of-memory (simulated) and buffers
// above the binding limit surfacing as HeedErrors, not hangs or corrupted state.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeedError, randn, registerBackend, removeBackend, setBackend, type StridedView } from '@heed/core';
import { MATMUL_VARIANTS, WebGPUBackend, chooseMatmulVariant, createWebGPUBackend, webgpuBackend } from '@heed/backend-webgpu';
import { device, expectClose, get, gpuInstance, put, seeded, skipReason, view } from './gpu.js';

/** out[b, m, n] = sum_k a(b, m, k) * b(b, k, n), reading both through their strides in float64. */
function matmulRef(a: readonly number[], av: StridedView, b: readonly number[], bv: StridedView): number[] {
  const [B, M, K] = av.shape;
  const N = bv.shape[2];
  const at = (arr: readonly number[], v: StridedView, i: number, j: number, k: number) => arr[v.offset + i * v.strides[0] + j * v.strides[1] + k * v.strides[2]];
  const out: number[] = [];
  for (let i = 0; i < B; i++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += at(a, av, i, m, k) * at(b, bv, i, k, n);
    out.push(s);
  }
  return out;
}

describe.skipIf(!device)(`WebGPU runtime${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  afterEach(() => vi.restoreAllMocks());

  it('chooseMatmulVariant: naive for tiny/skinny, tiled on GPUs, subgroup or blocked on CPU emulation', () => {
    expect(chooseMatmulVariant(4, 3, 5, 7)).toBe('naive');
    expect(chooseMatmulVariant(1, 512, 4, 512)).toBe('naive');
    expect(chooseMatmulVariant(1, 256, 256, 256)).toBe('tiled');
    expect(chooseMatmulVariant(1, 256, 256, 256, { software: true })).toBe('blocked');
    expect(chooseMatmulVariant(1, 256, 256, 256, { maxInvocations: 128 })).toBe('blocked');
    expect(chooseMatmulVariant(8, 32, 32, 32)).toBe('blocked');
    expect(chooseMatmulVariant(1, 256, 256, 256, { software: true, subgroups4: true })).toBe('subgroup');
    expect(chooseMatmulVariant(1, 256, 256, 256, { subgroups4: true })).toBe('tiled');
  });

  it('every matmul variant matches a JS triple loop (transposed, offset, batch-broadcast operands, two batch dims)', async () => {
    const [B, M, K, N] = [2, 70, 35, 67];
    for (const variant of MATMUL_VARIANTS) {
      const be = new WebGPUBackend(device!, { forceMatmulVariant: variant });
      if (variant === 'subgroup' && !be.subgroups4) { be.dispose(); continue; } // needs 4-lane subgroups (SwiftShader)
      const aData = seeded(3 + B * M * K, 1), bData = seeded(K * N, 2);
      const a = put(be, aData, 'float32').data, b = put(be, bData, 'float32').data;
      const cases: [string, StridedView, StridedView][] = [
        ['plain, offset a, broadcast b', view(a, 'float32', [B, M, K], [M * K, K, 1], 3), view(b, 'float32', [B, K, N], [0, N, 1])],
        ['transposed a', view(a, 'float32', [B, M, K], [M * K, 1, M], 3), view(b, 'float32', [B, K, N], [0, N, 1])],
        ['transposed b', view(a, 'float32', [B, M, K], [M * K, K, 1], 3), view(b, 'float32', [B, K, N], [0, 1, K])],
        ['both transposed, small', view(a, 'float32', [B, 5, 7], [35, 1, 5]), view(b, 'float32', [B, 7, 3], [0, 1, 7])],
      ];
      for (const [label, av, bv] of cases) {
        const size = av.shape[0] * av.shape[1] * bv.shape[2];
        expectClose(await get(be, be.matmul(av, bv), 'float32', size), matmulRef(aData, av, bData, bv), `${variant}: ${label}`, 1e-5, 1e-5);
      }
      expect(await get(be, be.matmul(view(a, 'float32', [1, 2, 0]), view(b, 'float32', [1, 0, 3])), 'float32', 6)).toEqual([0, 0, 0, 0, 0, 0]);
      // two batch dims (capabilities.matmulBatchDims = 2): q k^T over heads permuted out of [B, T, H, D]
      const [B1, T, H, D] = [2, 9, 3, 5];
      const qData = seeded(B1 * T * H * D, 3), kData = seeded(B1 * T * H * D, 4);
      const q = put(be, qData, 'float32').data, k = put(be, kData, 'float32').data;
      const heads = [T * H * D, D, H * D, 1];
      const got = await get(be, be.matmul(view(q, 'float32', [B1, H, T, D], heads), view(k, 'float32', [B1, H, D, T], [T * H * D, D, 1, H * D])), 'float32', B1 * H * T * T);
      const want: number[] = [];
      for (let bi = 0; bi < B1; bi++) for (let h = 0; h < H; h++) for (let i = 0; i < T; i++) for (let j = 0; j < T; j++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += qData[bi * T * H * D + i * H * D + h * D + d] * kData[bi * T * H * D + j * H * D + h * D + d];
        want.push(acc);
      }
      expectClose(got, want, `${variant}: two batch dims`, 1e-5, 1e-5);
      be.dispose();
    }
    expect(() => new WebGPUBackend(device!, { forceMatmulVariant: 'fastest' })).toThrow(HeedError);
  });

  it('pools freed buffers, but only after the submit that last used them', async () => {
    const be = new WebGPUBackend(device!);
    const first = be.fill(1000, 1, 'float32') as { buffer: GPUBuffer };
    be.free(first);
    const second = be.fill(1000, 2, 'float32') as { buffer: GPUBuffer }; // `first` is still pending: not reused
    expect(second.buffer).not.toBe(first.buffer);
    be.flush();
    const reused = be.runtime.stats.reused;
    const third = be.fill(1000, 3, 'float32') as { buffer: GPUBuffer };
    expect(third.buffer).toBe(first.buffer);
    expect(be.runtime.stats.reused).toBe(reused + 1);
    expect(await get(be, third, 'float32', 2)).toEqual([3, 3]);
    expect(await get(be, second, 'float32', 2)).toEqual([2, 2]);
    be.dispose();
  });

  it('caches pipelines by source and batches dispatches until a read', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3], 'float32');
    await be.read(be.unary('exp', x, 'float32'), 'float32', 3);
    const { pipelines, submits } = be.runtime.stats;
    let y = x;
    for (let i = 0; i < 10; i++) y = view(be.unary('exp', y, 'float32'), 'float32', [3]);
    expect(be.runtime.stats.pipelines).toBe(pipelines);
    expect(be.runtime.stats.submits).toBe(submits);
    await be.read(y.data, 'float32', 3);
    expect(be.runtime.stats.submits).toBe(submits + 1);
    be.dispose();
  });

  it('reuses bind groups for the same buffers, with each dispatch reading its own metadata slot', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3, 4], 'float32');
    const step = async (c: number) => {
      const s = be.fill(1, c, 'float32');
      const y = be.binary('mul', x, view(s, 'float32', [4], [0]), 'float32');
      const got = await get(be, y, 'float32', 4);
      be.free(s);
      be.free(y);
      return got;
    };
    expect(await step(2)).toEqual([2, 4, 6, 8]);
    expect(await step(5)).toEqual([5, 10, 15, 20]);
    const groups = be.runtime.stats.bindGroups;
    // The pool hands the two freed buffers back in an order that repeats every two steps, so
    // from then on the same bind groups serve every step, while the fill values (metadata)
    // differ per dispatch.
    for (const c of [3, -1, 0.5, 7]) expect(await step(c)).toEqual([1, 2, 3, 4].map((v) => v * c));
    expect(be.runtime.stats.bindGroups).toBe(groups);
    be.dispose();
  });

  it('printShaders logs WGSL once per pipeline', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const be = new WebGPUBackend(device!, { printShaders: true });
    const x = put(be, [1, 2], 'float32');
    be.unary('sin', x, 'float32');
    be.unary('sin', x, 'float32');
    const logged = log.mock.calls.map((c) => String(c[0])).filter((s) => s.includes('sin32'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/@compute/);
    be.dispose();
  });

  it('createWebGPUBackend with a GPU object, the registry factory, and no synchronous reads', async () => {
    const be = await createWebGPUBackend({ gpu: gpuInstance!, name: 'webgpu-created' });
    expect(be.name).toBe('webgpu-created');
    expect(be.capabilities.syncRead).toBe(false);
    expect(be.capabilities.maxBufferBytes).toBeGreaterThan(0);
    expect(be.readSync).toBeUndefined();
    expect(await get(be, be.fill(2, 4, 'int32'), 'int32', 2)).toEqual([4, 4]);
    expect(webgpuBackend).toMatchObject({ name: 'webgpu', priority: 2, async: true });
    registerBackend({ name: 'webgpu-created', priority: 0, async: true, create: () => be });
    await setBackend('webgpu-created');
    const t = randn([2]);
    expect(() => t.dataSync()).toThrow(/await t\.data\(\)/);
    expect((await t.data()).length).toBe(2);
    t.dispose();
    removeBackend('webgpu-created');
  });

  it('a lost device gives a HeedError on the next read, not a hang', async () => {
    const adapter = await gpuInstance!.requestAdapter();
    const own = await adapter!.requestDevice();
    const be = new WebGPUBackend(own);
    const id = be.fill(4, 1, 'float32');
    expect(await get(be, id, 'float32', 4)).toEqual([1, 1, 1, 1]);
    own.destroy();
    let err: unknown = null;
    try {
      const y = be.unary('exp', view(id, 'float32', [4]), 'float32');
      await be.read(y, 'float32', 4);
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(HeedError);
    expect(String(err)).toMatch(/read: .*device was lost/);
    await new Promise((r) => setTimeout(r, 20));
    expect(() => be.fill(4, 0, 'float32')).toThrow(/device was lost/);
  });

  it('a buffer above the binding limit is a HeedError naming the op and size, and nothing breaks', async () => {
    const be = new WebGPUBackend(device!);
    const max = Math.min(device!.limits.maxStorageBufferBindingSize, device!.limits.maxBufferSize);
    const n = Math.floor(max / 4) + 1024;
    expect(() => be.fill(n, 1, 'float32')).toThrow(HeedError);
    expect(() => be.fill(n, 1, 'float32')).toThrow(new RegExp(`fill: needs a ${n * 4}-byte buffer.*binds at most ${max}`));
    expect(await get(be, be.fill(3, 2, 'float32'), 'float32', 3)).toEqual([2, 2, 2]);
  });

  it('an out-of-memory error from the device becomes a HeedError on the next call', async () => {
    // Dawn on SwiftShader does not run out of memory on demand, so the error scope's result is
    // simulated: the first popErrorScope reports a GPUOutOfMemoryError-like error.
    const adapter = await gpuInstance!.requestAdapter();
    const own = await adapter!.requestDevice();
    let injected = false;
    const oomDevice = new Proxy(own, {
      get(target, prop) {
        if (prop === 'popErrorScope') {
          return async () => {
            await target.popErrorScope();
            if (injected) return null;
            injected = true;
            return { message: 'simulated allocation failure' };
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const be = new WebGPUBackend(oomDevice);
    be.fill(1 << 20, 0, 'float32');
    await new Promise((r) => setTimeout(r, 20));
    expect(() => be.fill(4, 0, 'float32')).toThrow(/fill: the GPU ran out of memory allocating 4194304 bytes \(simulated allocation failure\)/);
    own.destroy();
  });
});
