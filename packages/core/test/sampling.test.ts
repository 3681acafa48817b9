// SPDX-License-Identifier: MIT
// bernoulli and multinomial: bernoulli is exactly `uniformAt(seed, counter) < p` (core's stream);
// both consume the generator's counters; frequencies match the probabilities; multinomial never
// picks zero-weight categories, draws distinct categories without replacement, handles
// unnormalised weights and rows; argument errors. Exact cross-backend values are checked by
// the conformance suite's random group.
import { describe, expect, it } from 'vitest';
import './setup.js';
import { Generator, bernoulli, full, multinomial, tensor, uniformAt } from '@heed/core';

function counts(values: ArrayLike<number>, n: number): number[] {
  const c = new Array<number>(n).fill(0);
  for (const v of Array.from(values)) c[v]++;
  return c;
}

describe('bernoulli', () => {
  it('is uniform < p on core\'s counter stream, and advances the generator', () => {
    const p = tensor([[0, 1, 0.5], [0.25, 0.75, 0.999]]);
    const g = new Generator(11);
    g.next(3);
    const got = Array.from(bernoulli(p, { generator: g }).dataSync());
    const want = Array.from(p.dataSync()).map((q, i) => (Math.fround(uniformAt(11, 3 + i)) < q ? 1 : 0));
    expect(got).toEqual(want);
    expect(g.offset).toBe(9);
    expect(p.bernoulli({ generator: new Generator(11) }).dtype).toBe('float32');
  });

  it('has mean p and no gradient', () => {
    const p = full([20000], 0.3).requiresGrad_();
    const b = bernoulli(p, { generator: new Generator(2) });
    expect(b.requiresGrad).toBe(false);
    const mean = Array.from(b.dataSync()).reduce((s, v) => s + v, 0) / 20000;
    expect(Math.abs(mean - 0.3)).toBeLessThan(0.01);
  });

  it('rejects int probabilities and unknown options', () => {
    expect(() => bernoulli(tensor([1], { dtype: 'int32' }))).toThrow(/bernoulli: p must be a float tensor/);
    expect(() => bernoulli(tensor([0.5]), { seed: 1 } as never)).toThrow(/bernoulli/);
  });
});

describe('multinomial', () => {
  it('with replacement: frequencies follow unnormalised weights; zero weights never drawn', () => {
    const w = tensor([2, 0, 1, 5, 0]);
    const s = multinomial(w, 40000, { replacement: true, generator: new Generator(4) });
    expect(s.dtype).toBe('int32');
    expect([...s.shape]).toEqual([40000]);
    const c = counts(s.dataSync(), 5);
    expect(c[1]).toBe(0);
    expect(c[4]).toBe(0);
    [2 / 8, 0, 1 / 8, 5 / 8, 0].forEach((p, i) => expect(Math.abs(c[i] / 40000 - p)).toBeLessThan(0.01));
  });

  it('per row of a 2-D input, reproducibly for a seed', () => {
    const w = tensor([[0, 0, 1], [1, 0, 0], [0.5, 0.5, 0]]);
    const a = multinomial(w, 6, { replacement: true, generator: new Generator(9) });
    const b = w.multinomial(6, { replacement: true, generator: new Generator(9) });
    expect([...a.shape]).toEqual([3, 6]);
    const rows = Array.from(a.dataSync());
    expect(rows.slice(0, 6)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(rows.slice(6, 12)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(rows.slice(12).every((v) => v === 0 || v === 1)).toBe(true);
    expect(Array.from(b.dataSync())).toEqual(rows);
  });

  it('without replacement: distinct categories, only positive weights, first pick ~ weights', () => {
    const w = tensor([[1, 0, 3, 0, 2], [0, 1, 0, 1, 0]]);
    const s = Array.from(multinomial(w, 2, { generator: new Generator(1) }).dataSync());
    expect(new Set(s.slice(0, 2)).size).toBe(2);
    expect(s.slice(0, 2).every((v) => [0, 2, 4].includes(v))).toBe(true);
    expect([...s.slice(2)].sort()).toEqual([1, 3]);
    const all = Array.from(multinomial(tensor([1, 0, 3, 0, 2]), 3, { generator: new Generator(2) }).dataSync());
    expect([...all].sort()).toEqual([0, 2, 4]);
    const firsts = new Array<number>(5).fill(0);
    const g = new Generator(3);
    const many = multinomial(full([3000, 5], 1).mul(tensor([1, 0, 3, 0, 2])), 2, { generator: g });
    const v = Array.from(many.dataSync());
    for (let r = 0; r < 3000; r++) {
      firsts[v[2 * r]]++;
      expect(v[2 * r]).not.toBe(v[2 * r + 1]);
    }
    [1 / 6, 0, 3 / 6, 0, 2 / 6].forEach((p, i) => expect(Math.abs(firsts[i] / 3000 - p)).toBeLessThan(0.03));
    expect(g.offset).toBe(6000);
  });

  it('rejects bad arguments', () => {
    const w = tensor([0.5, 0.5]);
    expect(() => multinomial(w, 3)).toThrow(/cannot draw 3 samples without replacement from 2 categories/);
    expect(() => multinomial(w, 0)).toThrow(/multinomial: numSamples/);
    expect(() => multinomial(w, 1.5)).toThrow(/multinomial: numSamples/);
    expect(() => multinomial(tensor([[[1]]]), 1)).toThrow(/weights must be 1-D \[n\] or 2-D \[rows, n\], got \[1, 1, 1\]/);
    expect(() => multinomial(tensor([1], { dtype: 'int32' }), 1)).toThrow(/weights must be a float tensor, got int32/);
    expect(() => multinomial(tensor([[]]), 1, { replacement: true })).toThrow(/no categories/);
    expect(() => multinomial(w, 1, { replacement: 'yes' } as never)).toThrow(/replacement/);
  });
});
