// SPDX-License-Identifier: MIT
// DistributedDataParallel over an in-thread world of 2 and 4 ranks (ddp-world.ts): the start
// broadcast, equivalence with one model on the whole batch (gradients within 1e-6, weights
// after SGD steps), buckets launched during backward in reverse registration order, noSync
// accumulation, findUnusedParameters, identical clipGradNorm on every rank, state dict keys,
// and misuse errors.
import { describe, expect, it } from 'vitest';
import { HeedError, manualSeed, randn, registerBackend, setBackend, tidy, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { DistributedDataParallel, Linear, Module, SGD, buffer, clipGradNorm } from '../src/index.js';
import { FakeWorld } from './ddp-world.js';

registerBackend(cpuBackend);
await setBackend('cpu');

class Net extends Module {
  fc1 = new Linear(4, 8);
  fc2 = new Linear(8, 3);
  scale = buffer(randn([3]));
  forward(x: Tensor): Tensor {
    return tidy(() => this.fc2.forward(this.fc1.forward(x).tanh()));
  }
}

/** A branch used only when `useSide` is set (for findUnusedParameters). */
class SideNet extends Net {
  side = new Linear(3, 3);
  useSide = false;
  override forward(x: Tensor): Tensor {
    const h = super.forward(x);
    if (!this.useSide) return h;
    const out = this.side.forward(h);
    h.dispose();
    return out;
  }
}

const N = 8;
manualSeed(7);
const X = randn([N, 4]);
const Y = randn([N, 3]);

/** Sum of squared errors over rows [from, to) divided by `denom`. */
function lossOf(m: Net, from: number, to: number, denom: number): Tensor {
  return tidy(() => m.forward(X.slice([[from, to]])).sub(Y.slice([[from, to]])).square().sum().div(denom));
}

const values = (t: Tensor) => Array.from(t.dataSync());

function expectNear(got: Tensor, want: Tensor, atol: number, rtol = 0): void {
  const g = values(got);
  const w = values(want);
  expect(g.length).toBe(w.length);
  g.forEach((v, i) => expect(Math.abs(v - w[i]), `element ${i}: ${v} vs ${w[i]}`).toBeLessThanOrEqual(atol + rtol * Math.abs(w[i])));
}

/** World of `n` ranks, each its own differently initialised Net, wrapped after broadcast; plus a reference clone of rank 0. */
async function setup<T extends Net = Net>(n: number, options: Parameters<typeof DistributedDataParallel.create>[2] = {}, make: () => T = () => new Net() as T) {
  const world = new FakeWorld(n);
  const models = Array.from({ length: n }, (_, r) => { manualSeed(100 + r); return make(); });
  const reference = models[0].clone();
  const ddps = await Promise.all(models.map((m, r) => DistributedDataParallel.create(m, world.groups[r], options)));
  return { world, models, reference, ddps };
}

describe('DistributedDataParallel', () => {
  it('broadcasts rank 0\'s parameters and buffers at creation', async () => {
    const { models } = await setup(3);
    for (const m of models.slice(1)) {
      for (const [[k, a], [, b]] of [...models[0].stateDict()].map((e, i) => [e, [...m.stateDict()][i]] as const)) {
        expect(values(b), k).toEqual(values(a));
      }
    }
  });

  for (const n of [2, 4]) {
    for (const reduceOp of ['sum', 'mean'] as const) {
      it(`${n} ranks (${reduceOp}) match one model on the whole batch: gradients within 1e-6, weights after 3 SGD steps`, async () => {
        const { models, reference, ddps } = await setup(n, { reduceOp });
        const k = N / n;
        // 'sum': each rank divides its sum by the global count; 'mean': by its own count, averaged over ranks.
        const denom = reduceOp === 'sum' ? N : k;
        const opts = models.map((m) => new SGD(m.parameters(), { lr: 0.1 }));
        const refOpt = new SGD(reference.parameters(), { lr: 0.1 });
        for (let step = 0; step < 3; step++) {
          const refLoss = lossOf(reference, 0, N, N);
          refLoss.backward();
          refLoss.dispose();
          await Promise.all(models.map(async (m, r) => {
            const loss = lossOf(m, r * k, (r + 1) * k, denom);
            loss.backward();
            loss.dispose();
            await ddps[r].finishGradSync();
          }));
          if (step === 0) {
            for (const m of models) {
              reference.parameters().forEach((p, i) => {
                if (p.grad) expectNear(m.parameters()[i].grad!, p.grad, 1e-6);
                else expect(m.parameters()[i].grad).toBeNull();
              });
            }
          }
          for (const o of [...opts, refOpt]) { o.step(); o.zeroGrad(); }
        }
        for (const m of models) reference.parameters().forEach((p, i) => expectNear(m.parameters()[i], p, 1e-5, 1e-4));
      });
    }
  }

  it('buckets in reverse registration order and starts each all-reduce during backward, as soon as it is final', async () => {
    const { world, models, ddps } = await setup(2, { bucketCapMb: 108 / 2 ** 20, findUnusedParameters: true }, () => new SideNet());
    // side (48 + 12 bytes) is unused here but bucketed first (reverse registration order).
    expect(ddps[0].buckets).toEqual([['side.bias', 'side.weight', 'fc2.bias'], ['fc2.weight'], ['fc1.bias'], ['fc1.weight']]);
    world.log.length = 0;
    const loss = lossOf(models[0], 0, 4, 8);
    loss.backward();
    loss.dispose();
    // side's bucket waits for finishGradSync (findUnusedParameters), so nothing after it may start either.
    expect(world.log.filter((c) => c.kind === 'allReduce').length).toBe(0);
    const { world: w2, models: m2, ddps: d2 } = await setup(2, { bucketCapMb: 108 / 2 ** 20 });
    expect(d2[0].buckets).toEqual([['fc2.bias', 'fc2.weight'], ['fc1.bias'], ['fc1.weight']]);
    const probeSeen: boolean[] = [];
    w2.log.length = 0;
    w2.probe = (rec) => { if (rec.rank === 0) probeSeen.push(m2[0].fc1.weight.grad !== null); };
    const l2 = lossOf(m2[0], 0, 4, 8);
    l2.backward();
    l2.dispose();
    // Launched inside backward (before finishGradSync): fc2's buckets while fc1.weight had no gradient yet.
    expect(w2.log.filter((c) => c.kind === 'allReduce').map((c) => c.count)).toEqual([2, 1, 1]);
    expect(probeSeen).toEqual([false, false, true]);
    const l3 = lossOf(m2[1], 4, 8, 8);
    l3.backward();
    l3.dispose();
    await Promise.all(d2.map((d) => d.finishGradSync()));
    expect(values(m2[0].fc1.weight.grad!)).toEqual(values(m2[1].fc1.weight.grad!));
  });

  it('noSync accumulates locally; the next synced backward reduces the accumulated gradients', async () => {
    const { world, models, reference, ddps } = await setup(2, { reduceOp: 'sum' });
    const refLoss = lossOf(reference, 0, N, N);
    refLoss.backward();
    refLoss.dispose();
    world.log.length = 0;
    await Promise.all(models.map(async (m, r) => {
      const base = r * 4;
      ddps[r].noSync(() => { const l = lossOf(m, base, base + 2, N); l.backward(); l.dispose(); });
      expect(world.log.filter((c) => c.rank === r)).toEqual([]);
      const l = lossOf(m, base + 2, base + 4, N);
      l.backward();
      l.dispose();
      await ddps[r].finishGradSync();
    }));
    for (const m of models) reference.parameters().forEach((p, i) => { if (p.grad) expectNear(m.parameters()[i].grad!, p.grad, 1e-6); });
    expect(world.log.filter((c) => c.rank === 0).length).toBe(1); // one bucket, one all-reduce
  });

  it('findUnusedParameters: an unused branch contributes zeros; without it finishGradSync names the parameters', async () => {
    const strict = await setup(2, {}, () => new SideNet());
    const l0 = lossOf(strict.models[0], 0, 4, N);
    l0.backward();
    l0.dispose();
    await expect(strict.ddps[0].finishGradSync()).rejects.toThrow(HeedError);
    const again = lossOf(strict.models[0], 0, 4, N);
    again.backward();
    again.dispose();
    await expect(strict.ddps[0].finishGradSync()).rejects.toThrow(/rank 0: 2 parameter\(s\) got no gradient .*'side.bias', 'side.weight'/);

    const { models, ddps } = await setup(2, { findUnusedParameters: true }, () => new SideNet());
    models[1].useSide = true;
    const local = models[1].clone();
    const lLocal = lossOf(local, 4, 8, N);
    lLocal.backward();
    lLocal.dispose();
    await Promise.all(models.map(async (m, r) => {
      const l = lossOf(m, r * 4, r * 4 + 4, N);
      l.backward();
      l.dispose();
      await ddps[r].finishGradSync();
    }));
    for (const m of models) expectNear(m.side.weight.grad!, local.side.weight.grad!.div(2), 1e-7);
  });

  it('gives bitwise identical gradients on every rank, so clipGradNorm agrees everywhere', async () => {
    const { models, ddps } = await setup(4);
    const norms = await Promise.all(models.map(async (m, r) => {
      const l = lossOf(m, r * 2, r * 2 + 2, 2);
      l.backward();
      l.dispose();
      await ddps[r].finishGradSync();
      return values(clipGradNorm(m, 0.05))[0];
    }));
    expect(new Set(norms).size).toBe(1);
    expect(norms[0]).toBeGreaterThan(0.05); // clipping happened
    for (const m of models.slice(1)) m.parameters().forEach((p, i) => expect(values(p.grad!)).toEqual(values(models[0].parameters()[i].grad!)));
  });

  it('leaves frozen parameters out of the buckets (no error, no reduction)', async () => {
    const world = new FakeWorld(2);
    const models = [0, 1].map((r) => { manualSeed(200 + r); const m = new Net(); m.fc1.requiresGrad_(false); return m; });
    const ddps = await Promise.all(models.map((m, r) => DistributedDataParallel.create(m, world.groups[r])));
    expect(ddps[0].buckets).toEqual([['fc2.bias', 'fc2.weight']]);
    await Promise.all(models.map(async (m, r) => {
      const l = lossOf(m, r * 4, r * 4 + 4, 4);
      l.backward();
      l.dispose();
      await ddps[r].finishGradSync();
    }));
    expect(values(models[0].fc2.weight.grad!)).toEqual(values(models[1].fc2.weight.grad!));
    expect(models[0].fc1.weight.grad).toBeNull();
  });

  it('has the module\'s state dict keys (no module. prefix) and refuses misuse', async () => {
    const { models, ddps } = await setup(2);
    expect([...ddps[0].stateDict().keys()]).toEqual([...models[0].stateDict().keys()]);
    expect(ddps[0].loadStateDict(models[1].stateDict()).missingKeys).toEqual([]);
    const l = lossOf(models[0], 0, 4, N);
    l.backward({ retainGraph: true });
    expect(() => l.backward()).toThrow(/became ready twice before finishGradSync/);
    l.dispose();
    await expect(DistributedDataParallel.create(new Net(), new FakeWorld(1).groups[0], { bucketCapMb: 0 })).rejects.toThrow(/bucketCapMb/);
    await expect(DistributedDataParallel.create(new Net(), new FakeWorld(1).groups[0], { reduceOp: 'max' as 'sum' })).rejects.toThrow(/reduceOp/);
    ddps[1].dispose();
    const l1 = lossOf(models[1], 0, 4, N);
    l1.backward();
    l1.dispose();
    await ddps[1].finishGradSync(); // hooks removed: nothing to sync, no collective
    expect(ddps[1].group.worldSize).toBe(2);
  });
});
