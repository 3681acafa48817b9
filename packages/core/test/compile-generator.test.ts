// SPDX-License-Identifier: MIT
// compile() with a private dropout Generator (not the global manualSeed stream): each replay
// draws from that Generator and advances its offset exactly as the eager step does, so masks,
// losses, parameters and the saved offset match eager step for step, also when two traces
// (batch shapes) alternate and when a run resumes from a saved offset; a Generator made inside
// the function gives the same numbers on every call, eager or replayed; also over lazy execution.
import { describe, expect, it } from 'vitest';
import './setup.js';
import { Generator, LazyBackend, compile, defaultGenerator, manualSeed, noGrad, rand, tensor, tidy, valueAndGrad, type Tensor } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { useBackendDuring } from './compile-support.js';

interface Net { w1: Tensor; w2: Tensor; gen: Generator }

function net(gen: Generator, from?: { w1: number[]; w2: number[] }): Net {
  const w1 = tensor(from?.w1 ?? Array.from({ length: 32 }, (_, i) => Math.sin(i) * 0.5), { shape: [4, 8] });
  const w2 = tensor(from?.w2 ?? Array.from({ length: 8 }, (_, i) => Math.cos(i) * 0.3), { shape: [8, 1] });
  return { w1, w2, gen };
}

function batch(i: number, rows: number): [Tensor, Tensor] {
  const x = tensor(Array.from({ length: rows * 4 }, (_, k) => Math.sin(k * 0.7 + i)), { shape: [rows, 4] });
  const y = tensor(Array.from({ length: rows }, (_, k) => Math.cos(k + i)), { shape: [rows, 1] });
  return [x, y];
}

/** One SGD step with dropout drawn from `n.gen` (made by `gen()` when given: a Generator per call). */
function step(n: Net, x: Tensor, y: Tensor, gen: () => Generator = () => n.gen): Tensor {
  return tidy(() => {
    const { value, grads } = valueAndGrad((w1: Tensor, w2: Tensor) => {
      const h = x.matmul(w1).relu();
      return h.mul(rand(h.shape, { generator: gen() }).lt(0.5)).mul(2).matmul(w2).sub(y).square().mean();
    })(n.w1, n.w2);
    noGrad(() => [n.w1, n.w2].forEach((p, i) => p.assign(p.sub(grads[i].mul(0.1)))));
    return value;
  });
}

/** Per step: the loss, the generator's offset after it, and w2. */
type Trace = [number, number, ...number[]][];

function run(n: Net, rows: (i: number) => number, steps: number, fn: (x: Tensor, y: Tensor) => Tensor, first = 0): Trace {
  const out: Trace = [];
  for (let i = first; i < first + steps; i++) {
    const [x, y] = batch(i, rows(i));
    const l = fn(x, y);
    out.push([l.dataSync()[0], n.gen.offset, ...n.w2.dataSync()]);
    l.dispose(); x.dispose(); y.dispose();
  }
  return out;
}

const weights = (n: Net): { w1: number[]; w2: number[] } => ({ w1: Array.from(n.w1.dataSync()), w2: Array.from(n.w2.dataSync()) });

describe('compile with a private dropout Generator', () => {
  it('advances the Generator on every replay like eager: same masks, losses and offsets, global stream untouched', () => {
    manualSeed(3);
    const eager = net(new Generator(42)), comp = net(new Generator(42));
    const want = run(eager, () => 6, 9, (x, y) => step(eager, x, y));
    const globalBefore = defaultGenerator().offset;
    const compiled = compile((x: Tensor, y: Tensor) => step(comp, x, y));
    const got = run(comp, () => 6, 9, compiled);
    expect(compiled.stats).toMatchObject({ traces: 1, replays: 6, notCompiled: [] });
    expect(got).toEqual(want);
    expect(comp.gen.offset).toBe(9 * 6 * 8);
    expect(defaultGenerator().offset).toBe(globalBefore);
  });

  it('keeps one stream when two traces (batch shapes) alternate: no random numbers reused', () => {
    // 4 steps of 3 rows (traced, one replay), 4 of 5 rows, then alternating replays of both.
    const rows = (i: number): number => (i < 4 ? 3 : i < 8 ? 5 : i % 2 === 0 ? 3 : 5);
    const eager = net(new Generator(7)), comp = net(new Generator(7));
    const want = run(eager, rows, 14, (x, y) => step(eager, x, y));
    const compiled = compile((x: Tensor, y: Tensor) => step(comp, x, y));
    const got = run(comp, rows, 14, compiled);
    expect(compiled.stats).toMatchObject({ traces: 2, replays: 8, notCompiled: [] });
    expect(got).toEqual(want);
    expect(comp.gen.offset).toBe((4 * 3 + 4 * 5 + 3 * (3 + 5)) * 8);
  });

  it('resumes from a saved offset and weights like an uninterrupted run', () => {
    const whole = net(new Generator(11));
    const compiledWhole = compile((x: Tensor, y: Tensor) => step(whole, x, y));
    const want = run(whole, () => 4, 12, compiledWhole);
    const first = net(new Generator(11));
    const compiledFirst = compile((x: Tensor, y: Tensor) => step(first, x, y));
    const head = run(first, () => 4, 6, compiledFirst);
    const saved = { ...weights(first), seed: first.gen.seed, offset: first.gen.offset };
    const gen = new Generator(saved.seed);
    gen.offset = saved.offset;
    const resumed = net(gen, saved);
    const compiledResumed = compile((x: Tensor, y: Tensor) => step(resumed, x, y));
    const tail = run(resumed, () => 4, 6, compiledResumed, 6);
    expect(compiledFirst.stats.replays).toBe(3);
    expect(compiledResumed.stats.replays).toBe(3);
    expect([...head, ...tail]).toEqual(want);
  });

  it('follows a manualSeed of the Generator between replays like eager', () => {
    const eager = net(new Generator(1)), comp = net(new Generator(1));
    const compiled = compile((x: Tensor, y: Tensor) => step(comp, x, y));
    const both = (n: Net, fn: (x: Tensor, y: Tensor) => Tensor): Trace => {
      const a = run(n, () => 6, 5, fn);
      n.gen.manualSeed(99);
      return [...a, ...run(n, () => 6, 3, fn, 5)];
    };
    expect(both(comp, compiled)).toEqual(both(eager, (x, y) => step(eager, x, y)));
    expect(compiled.stats.replays).toBe(5);
  });

  it('gives the same numbers on every call for a Generator made inside the function, like eager', () => {
    const eager = net(new Generator(0)), comp = net(new Generator(0));
    const fresh = (): Generator => new Generator(5);
    const want = run(eager, () => 6, 7, (x, y) => step(eager, x, y, fresh));
    const compiled = compile((x: Tensor, y: Tensor) => step(comp, x, y, fresh));
    const got = run(comp, () => 6, 7, compiled);
    expect(compiled.stats.replays).toBe(4);
    expect(got).toEqual(want);
  });
});

describe('compile with a private dropout Generator over lazy execution', () => {
  useBackendDuring('lazy-generator', () => new LazyBackend(new CpuBackend({ fast: false }), { name: 'lazy-generator' }));

  it('replays the fused schedule drawing from the Generator like the lazy eager step', () => {
    const eager = net(new Generator(9)), comp = net(new Generator(9));
    const want = run(eager, () => 6, 8, (x, y) => step(eager, x, y));
    const compiled = compile((x: Tensor, y: Tensor) => step(comp, x, y));
    const got = run(comp, () => 6, 8, compiled);
    expect(compiled.stats).toMatchObject({ traces: 1, replays: 5, notCompiled: [] });
    expect(got).toEqual(want);
    expect(comp.gen.offset).toBe(8 * 6 * 8);
  });
});
