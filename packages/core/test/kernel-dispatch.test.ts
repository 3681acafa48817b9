// SPDX-License-Identifier: MIT
// The dispatch seam: every backend call core makes must pass through runKernel/runFusedKernel.
// A Proxy over the CPU backend counts every method call it receives; an observer installed with
// onKernel must have seen exactly the same calls, so a direct call that bypasses the seam fails.
import { afterEach, describe, expect, it } from 'vitest';
import {
  adamStep, arange, argsort, concat, conv2d, full, gather, gelu, indexSelect, layerNorm, logSoftmax, matmul,
  memory, ones, rand, randn, registerBackend, removeBackend, scatterAdd, scaledDotProductAttention, setBackend,
  softmax, stack, tensor, tidy, topk, where, zeros, type Backend, type FusedKernels,
} from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { onKernel, runFusedKernel } from '../src/kernel-dispatch.js';
import './setup.js';

const FUSED: readonly (keyof FusedKernels)[] = ['softmax', 'logSoftmax', 'gelu', 'layerNorm', 'attention', 'adam', 'argsort', 'topk', 'conv2d'];

/** The CPU backend under `name` behind a Proxy that logs every method call it receives. */
function counted(name: string, declineFused = false): { backend: Backend; calls: string[] } {
  const target = new CpuBackend();
  const calls: string[] = [];
  const backend = new Proxy(target, {
    get(t, key, receiver) {
      if (key === 'name') return name;
      const value: unknown = Reflect.get(t, key, receiver);
      if (typeof value !== 'function' || typeof key !== 'string') return value;
      const fn = value as (...a: unknown[]) => unknown;
      return (...args: unknown[]) => {
        calls.push(key);
        if (declineFused && (FUSED as readonly string[]).includes(key)) return null;
        return fn.apply(t, args); // `this` is the real backend: its own internal calls are not counted
      };
    },
  }) as unknown as Backend;
  return { backend, calls };
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function use(name: string, declineFused = false): Promise<{ calls: string[]; seen: string[] }> {
  const { backend, calls } = counted(name, declineFused);
  registerBackend({ name, priority: -1, create: () => backend });
  await setBackend(name);
  const seen: string[] = [];
  const stop = onKernel((b, kernel) => {
    if (b === backend) seen.push(kernel);
  });
  cleanups.push(() => removeBackend(name), () => setBackend('cpu').then(() => undefined), stop);
  return { calls, seen };
}

describe('kernel dispatch seam', () => {
  it('every backend call core makes passes the seam (observer sees exactly what the backend receives)', async () => {
    const { calls, seen } = await use('counted');
    const before = memory().numTensors;
    tidy(() => {
      // creation
      const a = tensor([[1, -2, 3], [4, 5, -6]]);
      const b = zeros([2, 3]).add(ones([2, 3])).add(full([2, 3], 2));
      const r = arange(0, 6).reshape([2, 3]);
      const u = rand([2, 3]).add(randn([2, 3]));
      // elementwise, where, cast
      const e = a.mul(b).sub(r.float()).div(2).exp().neg().abs().add(u);
      where(a.gt(0), a, 0).sum();
      a.int().bool().float();
      // reductions
      e.sum(); e.mean({ axis: 1 }); e.max({ axis: 0 }); e.argmax({ axis: 1 }); e.prod();
      // views and copies
      const t = a.transpose(0, 1).contiguous();
      t.reshape([6]); a.expand([3, 2, 3]).contiguous(); a.clone();
      // matmul (incl. broadcast batch)
      matmul(a, t); matmul(ones([2, 2, 3]), t);
      // indexing
      const idx = tensor([0, 2, 1], { dtype: 'int32' });
      indexSelect(a, 1, idx);
      const gi = tensor([[0, 1, 2], [2, 1, 0]], { dtype: 'int32' });
      gather(a, 1, gi);
      scatterAdd(zeros([2, 3]), 1, gi, a);
      // joins
      concat([a, b], 0); stack([a, b], 1);
      // sorting
      argsort(e); topk(e, 2);
      // composites (fused on the CPU backend)
      softmax(e); logSoftmax(e, 0); gelu(e); gelu(e, 'tanh');
      layerNorm(e, [3], ones([3]), zeros([3]));
      scaledDotProductAttention(rand([1, 1, 2, 4]), rand([1, 1, 3, 4]), rand([1, 1, 3, 4]));
      conv2d(rand([1, 2, 4, 4]), rand([3, 2, 3, 3]), { padding: 1 });
    });
    // backward through a small graph
    const w = tensor([[0.5, -1], [2, 0.25]], { requiresGrad: true });
    const x = tensor([[1, 2], [3, 4]]);
    const loss = tidy(() => softmax(matmul(x, w)).mul(gelu(w)).sum());
    loss.backward();
    // one Adam step
    const m = zeros([2, 2]);
    const v = zeros([2, 2]);
    const p = w.detach();
    const step = adamStep(p, w.grad!, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
    // reads (contiguous and strided)
    await step.param.data();
    const mt = step.expAvg.transpose(0, 1);
    const vt = step.expAvgSq.transpose(0, 1);
    mt.dataSync();
    await vt.data();
    String(step.param);
    for (const t of [w, x, loss, m, v, p, mt, vt, step.param, step.expAvg, step.expAvgSq]) t.dispose();
    expect(memory().numTensors).toBe(before);

    for (const k of ['upload', 'fill', 'copy', 'unary', 'binary', 'where', 'reduce', 'matmul', 'cast', 'gather',
      'indexSelect', 'scatterAdd', 'concat', 'random', 'read', 'readSync', 'free', 'softmax', 'logSoftmax', 'gelu',
      'layerNorm', 'adam', 'argsort', 'topk', 'conv2d']) {
      expect(calls, k).toContain(k);
    }
    expect(seen).toEqual(calls);
  });

  it('fused kernels that decline (null) fall back to primitives, still through the seam', async () => {
    const expected = tidy(() => Array.from(softmax(tensor([[1, 2, 3], [0, -1, 5]])).dataSync()));
    const { calls, seen } = await use('declining', true);
    const y = softmax(tensor([[1, 2, 3], [0, -1, 5]]));
    const got = Array.from(y.dataSync());
    y.dispose();
    got.forEach((g, i) => expect(g).toBeCloseTo(expected[i], 6));
    expect(calls).toContain('softmax');
    expect(calls).toContain('reduce'); // the fallback ran
    expect(seen).toEqual(calls);
  });

  it('runFusedKernel returns null without a call when the backend lacks the kernel', () => {
    const { backend, calls } = counted('plain');
    const seen: string[] = [];
    const stop = onKernel((_b, k) => seen.push(k));
    try {
      const view = { data: {}, dtype: 'float32' as const, shape: [1, 1, 1, 1], strides: [1, 1, 1, 1], offset: 0 };
      expect(runFusedKernel(backend, 'attention', view, view, view, null, 1, false)).toBeNull();
    } finally {
      stop();
    }
    expect(calls).toEqual([]);
    expect(seen).toEqual([]);
  });

  it('onKernel returns an unsubscribe', () => {
    const seen: string[] = [];
    const stop = onKernel((_b, k) => seen.push(k));
    zeros([2]).dispose();
    stop();
    zeros([2]).dispose();
    expect(seen).toEqual(['fill', 'free']);
  });
});
