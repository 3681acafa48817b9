// SPDX-License-Identifier: MIT
// Random streams: the backend's `random` primitive must draw exactly the counter-based values
// of core's random-bits (so a seed gives the same numbers on every backend), consume counters
// contiguously, and have the right moments; randint and dropout build on it.
import { Generator, dropout, manualSeed, normalAt, ones, rand, randint, randn, tidy, uniformAt, type Tensor } from '@heed/core';
import { ensure, readHost } from '../assert.js';
import type { CaseContext, RunnableCase } from '../types.js';

/** Runs `make` under tidy and reads its result to the host (then frees it). */
export async function values(make: () => Tensor): Promise<number[]> {
  const t = tidy(make);
  try {
    return (await readHost(t)).values as number[];
  } finally {
    t.dispose();
  }
}

async function sameSeed(ctx: CaseContext): Promise<void> {
  const backend = ctx.backend;
  const a = await values(() => rand([64], { generator: new Generator(7), backend }));
  const b = await values(() => rand([64], { generator: new Generator(7), backend }));
  const c = await values(() => rand([64], { generator: new Generator(8), backend }));
  ensure(a.join() === b.join(), 'rand with the same seed gave different values');
  ensure(a.join() !== c.join(), 'rand with seeds 7 and 8 gave the same values');
  manualSeed(123);
  const n1 = await values(() => randn([33], { backend }));
  manualSeed(123);
  const n2 = await values(() => randn([33], { backend }));
  ensure(n1.join() === n2.join(), 'randn after manualSeed(123) twice gave different values');
}

async function counterBased(ctx: CaseContext): Promise<void> {
  const seed = 1234;
  const g = new Generator(seed);
  g.next(5); // start at counter 5
  const u = await values(() => rand([2, 50], { generator: g, backend: ctx.backend }));
  u.forEach((v, i) => ensure(v === Math.fround(uniformAt(seed, 5 + i)), () => `uniform element ${i}: ${v}, want uniformAt(${seed}, ${5 + i}) = ${uniformAt(seed, 5 + i)}`));
  const n = await values(() => randn([77], { generator: new Generator(seed), backend: ctx.backend }));
  n.forEach((v, i) => {
    const want = normalAt(seed, i);
    ensure(Math.abs(v - want) <= 1e-5 * (1 + Math.abs(want)), () => `normal element ${i}: ${v}, want normalAt(${seed}, ${i}) = ${want}`);
  });
}

async function offsets(ctx: CaseContext): Promise<void> {
  const g = new Generator(99);
  const first = await values(() => rand([5], { generator: g, backend: ctx.backend }));
  const second = await values(() => rand([2, 3], { generator: g, backend: ctx.backend }));
  const whole = await values(() => rand([11], { generator: new Generator(99), backend: ctx.backend }));
  ensure([...first, ...second].join() === whole.join(), 'two consecutive draws must equal one draw of the combined size');
  ensure(g.offset === 11, `the generator should have consumed 11 counters, not ${g.offset}`);
}

function moments(v: readonly number[]): { mean: number; variance: number; min: number; max: number; kurtosis: number } {
  const n = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  const m4 = v.reduce((a, b) => a + (b - mean) ** 4, 0) / n;
  return { mean, variance, min: Math.min(...v), max: Math.max(...v), kurtosis: m4 / variance ** 2 };
}

async function uniformMoments(ctx: CaseContext): Promise<void> {
  const m = moments(await values(() => rand([20000], { generator: new Generator(5), backend: ctx.backend })));
  ensure(m.min >= 0 && m.max < 1, `uniform values must lie in [0, 1), got [${m.min}, ${m.max}]`);
  ensure(Math.abs(m.mean - 0.5) < 0.01, `uniform mean ${m.mean}, want 0.5`);
  ensure(Math.abs(m.variance - 1 / 12) < 0.003, `uniform variance ${m.variance}, want 1/12`);
}

async function normalMoments(ctx: CaseContext): Promise<void> {
  const m = moments(await values(() => randn([20000], { generator: new Generator(6), backend: ctx.backend })));
  ensure(Math.abs(m.mean) < 0.03, `normal mean ${m.mean}, want 0`);
  ensure(Math.abs(m.variance - 1) < 0.04, `normal variance ${m.variance}, want 1`);
  ensure(Math.abs(m.kurtosis - 3) < 0.2, `normal kurtosis ${m.kurtosis}, want 3`);
}

async function randintRange(ctx: CaseContext): Promise<void> {
  const t = randint(-3, 4, [2000], { generator: new Generator(3), backend: ctx.backend });
  try {
    ensure(t.dtype === 'int32', `randint gave ${t.dtype}`);
    const v = (await readHost(t)).values;
    ensure(v.every((x) => Number.isInteger(x) && x >= -3 && x < 4), 'randint(-3, 4) values must be integers in [-3, 4)');
    for (let k = -3; k < 4; k++) {
      const share = v.filter((x) => x === k).length / v.length;
      ensure(Math.abs(share - 1 / 7) < 0.03, `randint value ${k} drawn ${(share * 100).toFixed(1)}% of the time, want ~14.3%`);
    }
  } finally {
    t.dispose();
  }
}

async function dropoutStats(ctx: CaseContext): Promise<void> {
  const p = 0.25;
  const a = await values(() => dropout(ones([4000], { backend: ctx.backend }), p, true, new Generator(21)));
  const b = await values(() => dropout(ones([4000], { backend: ctx.backend }), p, true, new Generator(21)));
  ensure(a.join() === b.join(), 'dropout with equal generators must drop the same elements');
  const kept = a.filter((v) => v !== 0);
  ensure(kept.every((v) => Math.abs(v - 1 / (1 - p)) < 1e-6), 'kept elements must be scaled by 1/(1-p)');
  ensure(Math.abs(1 - kept.length / a.length - p) < 0.03, `dropped ${(100 - (kept.length / a.length) * 100).toFixed(1)}%, want ${p * 100}%`);
}

/**
 * The random-stream cases.
 *
 * @example
 * ```ts
 * randomCases().map((c) => c.id); // ['random/same-seed', ...]
 * ```
 */
export function randomCases(): RunnableCase[] {
  const make = (name: string, op: string, run: (ctx: CaseContext) => Promise<void>, dtype: 'float32' | 'int32' = 'float32'): RunnableCase => ({
    id: `random/${name}`, group: 'random', op, dtypes: [dtype], hasGradient: false, run,
  });
  return [
    make('same-seed', 'rand', sameSeed),
    make('counter-based-values', 'rand', counterBased),
    make('generator-offsets', 'rand', offsets),
    make('uniform-moments', 'rand', uniformMoments),
    make('normal-moments', 'randn', normalMoments),
    make('randint', 'randint', randintRange, 'int32'),
    make('dropout', 'dropout', dropoutStats),
  ];
}
