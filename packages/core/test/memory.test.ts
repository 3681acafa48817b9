// SPDX-License-Identifier: MIT
// Lifetime: dispose, tidy, keep, scopes, use-after-dispose errors, views sharing storage,
// graphs keeping saved data alive, and checkLeaks.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import { beginScope, checkLeaks, endScope, keep, memory, ones, tensor, tidy, tidyAsync, zeros } from '@heed/core';

describe('memory', () => {
  it('dispose frees buffers; double dispose is safe; use after dispose throws', () => {
    const before = memory().numBuffers;
    const t = zeros([10]);
    expect(memory().numBuffers).toBe(before + 1);
    t.dispose();
    t.dispose();
    expect(memory().numBuffers).toBe(before);
    expect(() => t.add(1)).toThrow(/disposed/);
  });

  it('views share storage until the last handle goes', () => {
    const before = memory().numBuffers;
    const t = tensor([[1, 2], [3, 4]]);
    const v = t.transpose();
    t.dispose();
    expectClose(v, [1, 3, 2, 4], [2, 2]);
    v.dispose();
    expect(memory().numBuffers).toBe(before);
  });

  it('tidy keeps the result and frees temporaries', () => {
    const before = memory();
    const y = tidy(() => ones([4]).mul(2).add(1).exp());
    expect(memory().numTensors).toBe(before.numTensors + 1);
    y.dispose();
    expect(memory().numBuffers).toBe(before.numBuffers);
  });

  it('keep survives tidy; scopes work for async code', async () => {
    let kept = zeros([1]);
    tidy(() => { kept = keep(ones([2])); });
    expect(kept.isDisposed).toBe(false);
    kept.dispose();
    const scope = beginScope();
    const a = ones([3]);
    await Promise.resolve();
    const b = a.mul(2);
    endScope(scope, b);
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(false);
    b.dispose();
    const r = await tidyAsync(async () => ones([2]).add(1));
    expectClose(r, [2, 2], [2]);
    r.dispose();
  });

  it('a graph keeps saved tensors alive after their handles are disposed', async () => {
    await checkLeaks(() => {
      const w = tensor([2, 3], { requiresGrad: true });
      tidy(() => {
        const loss = tidy(() => w.mul(w).exp().sum());
        loss.backward();
      });
      expectClose(w.grad!, [4 * Math.exp(4), 6 * Math.exp(9)], [2], 1e-5);
      w.dispose();
    });
  });

  it('checkLeaks reports leaks', async () => {
    let leaked: ReturnType<typeof zeros> | null = null;
    await expect(checkLeaks(() => { leaked = zeros([1]); })).rejects.toThrow(/leaked/);
    leaked!.dispose();
  });
});

describe('functional gradients and memory', () => {
  it('valueAndGrad frees the intermediates of f', async () => {
    const { valueAndGrad } = await import('@heed/core');
    const x = tensor([1, 2, 3]);
    const result = await checkLeaks(() => valueAndGrad((t: typeof x) => t.exp().mul(2).sum())(x));
    expectClose(result.grads[0], [2 * Math.E, 2 * Math.E ** 2, 2 * Math.E ** 3], [3], 1e-5);
    result.value.dispose();
    result.grads[0].dispose();
    x.dispose();
  });

  it('a loop of valueAndGrad that never yields to the event loop retains no tensor objects', () => {
    // A training loop awaiting reads that resolve at once (the CPU backend's) runs as ONE job;
    // V8 keeps every WeakRef's target alive until the job ends, so a WeakRef per fresh leaf used
    // to keep 1 Tensor (with its Storage) per call. Counted in a heap snapshot of a child process.
    const script = `
      const core = await import('@heed/core');
      const { cpuBackend } = await import('@heed/backend-cpu');
      const v8 = await import('node:v8');
      const fs = await import('node:fs');
      core.registerBackend(cpuBackend);
      await core.setBackend('cpu');
      const w = core.randn([4, 4]);
      const f = core.valueAndGrad((a) => a.mul(a).sum());
      for (let i = 0; i < 2000; i++) {
        const { value, grads } = f(w);
        value.dispose();
        grads.forEach((g) => g.dispose());
        await Promise.resolve();
      }
      globalThis.gc();
      const file = v8.writeHeapSnapshot();
      const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
      fs.unlinkSync(file);
      const { node_fields: fields, node_types: [types] } = snap.snapshot.meta;
      const L = fields.length, t = fields.indexOf('type'), n = fields.indexOf('name');
      let tensors = 0;
      for (let i = 0; i < snap.nodes.length; i += L) if (types[snap.nodes[i + t]] === 'object' && snap.strings[snap.nodes[i + n]] === 'Tensor') tensors++;
      console.log('TENSORS ' + tensors);`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
      encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)), maxBuffer: 1 << 20,
    });
    const tensors = Number(/TENSORS (\d+)/.exec(out)?.[1]);
    expect(tensors).toBeGreaterThan(0); // w itself
    expect(tensors).toBeLessThan(50); // the leak kept 2000
  });
});
