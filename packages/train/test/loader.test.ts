// SPDX-License-Identifier: MIT
// DataLoader: batch plans (length, drop-last, in-order and shuffled epochs that are
// permutations, reproducible per (seed, epoch), resumable mid-epoch, `generator` like
// PyTorch's), iterable datasets, collated values, errors delivered at their batch; prefetch
// overlaps a slow async dataset with a slow consumer (total ≈ max, not sum, and batch k+1
// starts loading before step k ends); memory returns to baseline after an epoch, after a
// `break` with batches prefetched, and after a failed fetch; a batch prefetched inside the
// consumer's tidyAsync outlives it; trainLoop awaits async batches.
import { describe, expect, it } from 'vitest';
import { memory, registerBackend, setBackend, tensor, tidyAsync, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Linear, SGD } from '@heed/nn';
import { DataLoader, Rng, TensorDataset, disposeBatch, trainLoop, type Dataset } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const range = (n: number): Dataset<number> => ({ length: n, get: (i) => i });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect(it: AsyncIterable<Tensor>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of it) {
    out.push(Array.from(await b.data()));
    b.dispose();
  }
  return out;
}

describe('DataLoader batches', () => {
  it('batches in order, with length and dropLast', async () => {
    const loader = new DataLoader<number, Tensor>(range(10), { batchSize: 4 });
    expect(loader.length).toBe(3);
    expect(await collect(loader)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const dropped = new DataLoader<number, Tensor>(range(10), { batchSize: 4, dropLast: true });
    expect(dropped.length).toBe(2);
    expect(await collect(dropped)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(new DataLoader(range(8), { batchSize: 4, dropLast: true }).length).toBe(2);
    expect(new DataLoader(range(0), { batchSize: 4 }).length).toBe(0);
    expect(await collect(new DataLoader<number, Tensor>(range(0)))).toEqual([]);
  });

  it('shuffles each epoch differently, reproducibly per (seed, epoch), and resumes mid-epoch', async () => {
    const make = () => new DataLoader<number, Tensor>(range(10), { batchSize: 3, shuffle: true, seed: 7 });
    const a = make();
    const e0 = await collect(a);
    const e1 = await collect(a);
    expect(a.epochIndex).toBe(2);
    for (const e of [e0, e1]) {
      expect(e.map((b) => b.length)).toEqual([3, 3, 3, 1]);
      expect(e.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    }
    expect(e0.flat()).not.toEqual(e1.flat());
    expect(e0.flat()).not.toEqual(Array.from({ length: 10 }, (_, i) => i));
    // Same seed: same epochs; epoch 1 alone, from its third batch, is the tail of the second pass.
    const b = make();
    expect(await collect(b)).toEqual(e0);
    expect(await collect(make().epoch({ epoch: 1, start: 2 }))).toEqual(e1.slice(2));
    const c = make();
    c.setEpoch(1);
    expect(await collect(c)).toEqual(e1);
    expect(make().batchIndices(1)).toEqual(e1);
    expect(await collect(new DataLoader<number, Tensor>(range(10), { batchSize: 3, shuffle: true, seed: 8 }))).not.toEqual(e0);
    // dropLast with shuffle drops the short last batch of the permutation.
    const d = await collect(new DataLoader<number, Tensor>(range(10), { batchSize: 3, shuffle: true, seed: 7, dropLast: true }));
    expect(d).toEqual(e0.slice(0, 3));
  });

  it('with a generator, draws each epoch from it (two equal generators give equal epochs)', async () => {
    const g1 = new DataLoader<number, Tensor>(range(9), { batchSize: 9, shuffle: true, generator: new Rng(3) });
    const g2 = new DataLoader<number, Tensor>(range(9), { batchSize: 9, shuffle: true, generator: new Rng(3) });
    const [a0, a1] = [await collect(g1), await collect(g1)];
    expect([await collect(g2), await collect(g2)]).toEqual([a0, a1]);
    expect(a0).not.toEqual(a1);
  });

  it('batches iterable datasets in order (sync and async), with dropLast and start', async () => {
    function* gen(n: number) { for (let i = 0; i < n; i++) yield i; }
    async function* agen(n: number) { for (let i = 0; i < n; i++) { await sleep(0); yield i * 10; } }
    expect(await collect(new DataLoader<number, Tensor>(gen(10), { batchSize: 4 }))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(await collect(new DataLoader<number, Tensor>(agen(6), { batchSize: 2, prefetch: 3 }))).toEqual([[0, 10], [20, 30], [40, 50]]);
    expect(await collect(new DataLoader<number, Tensor>(gen(10), { batchSize: 4, dropLast: true }))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(await collect(new DataLoader<number, Tensor>(gen(8), { batchSize: 4 }))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(await collect(new DataLoader<number, Tensor>(gen(10), { batchSize: 4 }).epoch({ start: 1 }))).toEqual([[4, 5, 6, 7], [8, 9]]);
    // Breaking out closes the source (its finally runs) once the batches in flight are settled and disposed.
    const before = memory().numTensors;
    let closed = false;
    async function* source() { try { for (let i = 0; ; i++) yield i; } finally { closed = true; } }
    for await (const b of new DataLoader<number, Tensor>(source(), { batchSize: 2, prefetch: 2 })) { b.dispose(); break; }
    await sleep(0);
    expect(closed).toBe(true);
    expect(memory().numTensors).toBe(before);
    expect(() => new DataLoader(gen(3), { shuffle: true })).toThrow(/shuffle needs a map-style dataset/);
    expect(() => new DataLoader(gen(3)).length).toThrow(/no length/);
  });

  it('rejects bad options', () => {
    expect(() => new DataLoader(range(3), { batchSize: 0 })).toThrow(/batchSize must be an integer >= 1, got 0/);
    expect(() => new DataLoader(range(3), { prefetch: -1 })).toThrow(/prefetch must be an integer >= 0/);
    expect(() => new DataLoader(range(3), { seed: 1, generator: new Rng(1) })).toThrow(/either 'seed' or 'generator'/);
    expect(() => new DataLoader(range(3), { batch: 2 } as never)).toThrow(/unknown option 'batch'/);
    expect(() => new DataLoader(42 as never)).toThrow(/expected a dataset/);
    expect(() => new DataLoader({ length: -1, get: () => 0 })).toThrow(/non-negative integer/);
    expect(() => new DataLoader(range(3)).epoch({ start: -1 })).toThrow(/start must be a non-negative integer/);
  });
});

describe('DataLoader prefetch', () => {
  it('overlaps a slow async dataset with a slow consumer: total ≈ max, not sum', async () => {
    const ms = 40;
    const n = 8;
    const events: string[] = [];
    const slow: Dataset<number> = {
      length: n,
      get: async (i) => { events.push(`load ${i}`); await sleep(ms); return i; },
    };
    const time = async (prefetch: number) => {
      events.length = 0;
      const t0 = performance.now();
      let k = 0;
      for await (const b of new DataLoader<number, Tensor>(slow, { batchSize: 1, prefetch })) {
        events.push(`step ${k} start`);
        await sleep(ms); // the training step
        events.push(`step ${k++} end`);
        b.dispose();
      }
      return performance.now() - t0;
    };
    const serial = await time(0);
    expect(events.indexOf('load 1')).toBeGreaterThan(events.indexOf('step 0 end')); // no look-ahead
    const overlapped = await time(1);
    expect(events.indexOf('load 1')).toBeLessThan(events.indexOf('step 0 end')); // batch 1 loads during step 0
    expect(events.indexOf('load 2')).toBeLessThan(events.indexOf('step 1 end'));
    expect(serial).toBeGreaterThanOrEqual(2 * n * ms * 0.95); // sum: 640 ms
    // max: (n + 1) * ms = 360 ms; allow for a loaded machine, but well under the sum.
    expect(overlapped).toBeLessThan(serial * 0.75);
  });

  it('memory returns to baseline after an epoch, after a break with batches in flight, and after a failed fetch', async () => {
    const x = tensor(Array.from({ length: 40 }, (_, i) => i), { shape: [20, 2] });
    const y = tensor(Array.from({ length: 20 }, (_, i) => i % 2), { dtype: 'int32' });
    const ds = new TensorDataset(x, y);
    const base = memory();
    const loader = new DataLoader<Tensor[], Tensor[]>(ds, { batchSize: 6, shuffle: true, seed: 1, prefetch: 2 });
    let rows = 0;
    for await (const [xb, yb] of loader) {
      expect(xb.shape[1]).toBe(2);
      const [xs, ys] = [await xb.data(), await yb.data()];
      for (let r = 0; r < yb.shape[0]; r++) expect(ys[r]).toBe((xs[2 * r] / 2) % 2); // rows stay paired
      rows += yb.shape[0];
      disposeBatch([xb, yb]);
    }
    expect(rows).toBe(20);
    expect(memory().numTensors).toBe(base.numTensors);
    expect(memory().numBuffers).toBe(base.numBuffers);
    for await (const batch of loader) { disposeBatch(batch); break; } // two batches were prefetched
    expect(memory().numTensors).toBe(base.numTensors);
    const failing: Dataset<Tensor> = { length: 10, get: async (i) => { if (i === 5) throw new Error('disk error at 5'); return tensor([i]); }, itemsOwnedByLoader: true };
    const seen: number[] = [];
    await expect((async () => {
      for await (const b of new DataLoader<Tensor, Tensor>(failing, { batchSize: 2, prefetch: 3 })) {
        seen.push(...Array.from(await b.data()));
        b.dispose();
      }
    })()).rejects.toThrow('disk error at 5');
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(memory().numTensors).toBe(base.numTensors);
    disposeBatch([x, y]);
  });
});

describe('DataLoader and scopes', () => {
  it('a batch prefetched while the consumer is inside tidyAsync survives it (batches belong to no scope)', async () => {
    const loader = new DataLoader<number, Tensor>(range(6), { batchSize: 2, prefetch: 1 });
    const it = loader[Symbol.asyncIterator]();
    const first = await tidyAsync(async () => {
      const r = await it.next(); // batch [2, 3] is fetched ahead inside this scope
      const v = Array.from(await (r.value as Tensor).data());
      (r.value as Tensor).dispose();
      return v;
    });
    expect(first).toEqual([0, 1]);
    const second = (await it.next()).value as Tensor;
    expect(second.isDisposed).toBe(false);
    expect(Array.from(await second.data())).toEqual([2, 3]);
    second.dispose();
    await it.return?.();
  });
});

describe('trainLoop with a DataLoader', () => {
  it('awaits an async batchLoss and disposes each batch', async () => {
    const model = new Linear(2, 1);
    const optimizer = new SGD(model, { lr: 0.1 });
    const ds: Dataset<{ x: number[]; y: number[] }> = { length: 8, get: async (i) => { await sleep(1); return { x: [i / 8, 1], y: [i / 4] }; } };
    const loader = new DataLoader<{ x: number[]; y: number[] }, { x: Tensor; y: Tensor }>(ds, { batchSize: 4 });
    const made: Tensor[] = [];
    let it = loader[Symbol.asyncIterator]();
    const history: { step: number; loss: number; series: string }[] = [];
    const r = await trainLoop({
      model, optimizer, startStep: 0, endStep: 6, history,
      batchLoss: async () => {
        let next = await it.next();
        if (next.done === true) { it = loader[Symbol.asyncIterator](); next = await it.next(); }
        const { x, y } = next.value as { x: Tensor; y: Tensor };
        made.push(x, y);
        const loss = model.forward(x).sub(y).square().mean();
        return { loss, tokens: 4, dispose: () => disposeBatch([x, y]) };
      },
    });
    expect(r.lastStep).toBe(6);
    expect(history.map((h) => h.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(history[4].loss).toBeLessThan(history[0].loss); // steps 1, 3, 5 see the first batch
    await it.return?.();
    expect(made).toHaveLength(12);
    expect(made.every((t) => t.isDisposed)).toBe(true); // (the loop itself keeps grads alive, so no memory() baseline here)
  });
});
