// SPDX-License-Identifier: MIT
// compile() on WebGPU (Dawn; SwiftShader where there is no GPU): a compiled SGD-momentum MLP
// step with dropout gives the eager WebGPU step's losses and parameters bit for bit (the same
// shaders run, reads are async and happen after the call), eagerly and over lazy execution, and
// replays hold a constant number of buffers. Skipped, with the reason, where WebGPU is missing.
import { describe, expect, it } from 'vitest';
import {
  LazyBackend, compile, manualSeed, memory, noGrad, rand, registerBackend, tensor, tidy, valueAndGrad, zeros, type Tensor,
} from '@heed/core';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, skipReason } from '../../backend-webgpu/test/gpu.js';

const suite = device ? describe : describe.skip;

suite(`compile on WebGPU${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const gpu = device as GPUDevice;
  registerBackend({ name: 'webgpu-compile-test', priority: -10, create: () => new WebGPUBackend(gpu, {}, 'webgpu-compile-test') });
  registerBackend({ name: 'webgpu-compile-lazy', priority: -10, create: () => new LazyBackend(new WebGPUBackend(gpu, {}, 'webgpu-compile-inner'), { name: 'webgpu-compile-lazy' }) });

  const run = async (backend: string, compiled: boolean) => {
    manualSeed(11);
    const o = { backend };
    const w1 = tensor(Array.from({ length: 32 }, (_, i) => Math.sin(i) * 0.5), { shape: [4, 8], ...o });
    const w2 = tensor(Array.from({ length: 8 }, (_, i) => Math.cos(i) * 0.3), { shape: [8, 1], ...o });
    const bufs = [zeros([4, 8], o), zeros([8, 1], o)];
    const x = tensor(Array.from({ length: 24 }, (_, k) => Math.sin(k * 0.7)), { shape: [6, 4], ...o });
    const y = tensor(Array.from({ length: 6 }, (_, k) => Math.cos(k)), { shape: [6, 1], ...o });
    const stepFn = (xb: Tensor, yb: Tensor): Tensor => tidy(() => {
      const { value, grads } = valueAndGrad((a: Tensor, b: Tensor) => {
        const h = xb.matmul(a).relu();
        return h.mul(rand(h.shape, o).lt(0.5)).mul(2).matmul(b).sub(yb).square().mean();
      })(w1, w2);
      noGrad(() => [w1, w2].forEach((p, i) => {
        bufs[i].assign(bufs[i].mul(0.9).add(grads[i]));
        p.assign(p.sub(bufs[i].mul(0.05)));
      }));
      return value;
    });
    const step = compiled ? compile(stepFn) : stepFn;
    const losses: number[] = [];
    let before = memory();
    for (let i = 0; i < 8; i++) {
      if (i === 4) before = memory();
      const l = step(x, y);
      losses.push((await l.data())[0]);
      l.dispose();
    }
    const after = memory();
    expect([after.numTensors, after.numBuffers]).toEqual([before.numTensors, before.numBuffers]);
    if (compiled) expect((step as ReturnType<typeof compile>).stats.replays).toBe(5);
    const params = [Array.from(await w1.data()), Array.from(await w2.data())];
    for (const t of [w1, w2, ...bufs, x, y]) t.dispose();
    return { losses, params };
  };

  for (const backend of ['webgpu-compile-test', 'webgpu-compile-lazy']) {
    it(`replays an SGD-momentum step with dropout bit for bit like eager (${backend})`, async () => {
      const eager = await run(backend, false), compiled = await run(backend, true);
      expect(compiled.losses).toEqual(eager.losses);
      expect(compiled.params).toEqual(eager.params);
      expect(new Set(compiled.losses).size).toBe(8);
    });
  }
});
