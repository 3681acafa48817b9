// SPDX-License-Identifier: MIT
// bernoulli and multinomial draw the same values on every backend: each case compares a
// backend's draws with a host evaluation of the documented algorithm on core's counter stream
// (uniformAt): bernoulli is `u_i < p_i`; multinomial picks, for u = uniform * total, the number
// of float32 CDF entries <= u, the CDF built in core's blocked log-step order of adds.
import { Generator, bernoulli, multinomial, tensor, uniformAt } from '@heed/core';
import { ensure } from '../assert.js';
import type { CaseContext, RunnableCase } from '../types.js';
import { values } from './random.js';

const f32 = Math.fround;

const BLOCK = 16;

/** Log-step inclusive scan of at most BLOCK float32 values. */
function scanShort(v: readonly number[]): number[] {
  let acc = [...v];
  for (let d = 1; d < v.length; d *= 2) acc = acc.map((c, j) => (j >= d ? f32(c + acc[j - d]) : c));
  return acc;
}

/** core's blocked scan order: log-step within blocks of 16, block totals scanned recursively, offsets added. */
function scanRow(v: readonly number[]): number[] {
  if (v.length <= BLOCK) return scanShort(v);
  const blocks = Math.ceil(v.length / BLOCK);
  const padded = [...v, ...new Array<number>(blocks * BLOCK - v.length).fill(0)];
  const inner = Array.from({ length: blocks }, (_, b) => scanShort(padded.slice(b * BLOCK, (b + 1) * BLOCK)));
  const before = scanRow(inner.map((blk) => blk[BLOCK - 1]));
  return inner.flatMap((blk, b) => blk.map((c) => (b === 0 ? f32(c + 0) : f32(c + before[b - 1])))).slice(0, v.length);
}

/** Host inverse-CDF draw for one row of float32 weights at uniform `u`. */
function drawRow(weights: readonly number[], u: number): number {
  const n = weights.length;
  const cdf = scanRow(weights.map(f32));
  const target = f32(u * cdf[n - 1]);
  const index = cdf.filter((c) => c <= target).length;
  let lastPositive = 0;
  weights.forEach((w, j) => { if (w > 0) lastPositive = j; });
  return Math.min(index, lastPositive);
}

/** Host multinomial on rows of weights, counters from `offset` (row-major [rows, samples]). */
function hostMultinomial(rows: readonly number[][], samples: number, replacement: boolean, seed: number): number[] {
  const out: number[] = [];
  rows.forEach((row, r) => {
    let remaining = [...row];
    for (let s = 0; s < samples; s++) {
      const pick = drawRow(remaining, f32(uniformAt(seed, r * samples + s)));
      out.push(pick);
      if (!replacement) remaining = remaining.map((w, j) => (j === pick ? 0 : w));
    }
  });
  return out;
}

async function bernoulliStream(ctx: CaseContext): Promise<void> {
  const p = Array.from({ length: 300 }, (_, i) => (i % 7) / 6 + (i % 3) * 1e-3 - 1e-3);
  const got = await values(() => bernoulli(tensor(p, { backend: ctx.backend }), { generator: new Generator(31) }));
  got.forEach((v, i) => {
    const want = f32(uniformAt(31, i)) < f32(p[i]) ? 1 : 0;
    ensure(v === want, () => `bernoulli element ${i} (p = ${p[i]}): got ${v}, want ${want}`);
  });
}

async function multinomialStream(ctx: CaseContext): Promise<void> {
  // Unnormalised weights with zeros, a dominant entry, ties and a long row (several scan steps).
  const rows = [
    [0.1, 0, 0.3, 0.05, 0, 0.55],
    [3, 3, 3, 0, 1e-3, 7],
    Array.from({ length: 6 }, (_, j) => (j === 5 ? 0 : 1 / (j + 1))),
  ];
  // Longer rows: several scan blocks, and block totals scanned over two levels.
  const long = [Array.from({ length: 37 }, (_, j) => ((j * 7919) % 13) / 13), Array.from({ length: 37 }, (_, j) => 1 / (j + 1))];
  const longer = [Array.from({ length: 300 }, (_, j) => ((j * 104729) % 97) / 97)];
  for (const [w, samples, replacement, seed] of [[rows, 25, true, 5], [rows, 4, false, 6], [long, 12, false, 7], [long, 50, true, 8], [longer, 40, true, 9], [longer, 3, false, 10]] as const) {
    const got = await values(() => multinomial(tensor(w as number[][], { backend: ctx.backend }), samples, { replacement, generator: new Generator(seed) }));
    const want = hostMultinomial(w as number[][], samples, replacement, seed);
    ensure(got.join() === want.join(), () => `multinomial (${replacement ? 'with' : 'without'} replacement, seed ${seed}): ` +
      `got [${got.join(', ')}], want [${want.join(', ')}]`);
  }
}

/**
 * The bernoulli and multinomial stream cases (group 'random').
 *
 * @example
 * ```ts
 * samplingCases().map((c) => c.id); // ['random/bernoulli-stream', 'random/multinomial-stream']
 * ```
 */
export function samplingCases(): RunnableCase[] {
  return [
    { id: 'random/bernoulli-stream', group: 'random', op: 'bernoulli', dtypes: ['float32'], hasGradient: false, run: bernoulliStream },
    { id: 'random/multinomial-stream', group: 'random', op: 'multinomial', dtypes: ['float32', 'int32'], hasGradient: false, run: multinomialStream },
  ];
}
