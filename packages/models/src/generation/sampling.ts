// SPDX-License-Identifier: MIT
// Choosing the next token from one row of logits: greedy (argmax) or sampling with a
// temperature and top-k, drawing the uniform number from a seedable core Generator so a
// seed reproduces a generation exactly on every backend.
// Invariants: argmax ties go to the lowest id; temperature 0 means greedy; top-k keeps the
// k largest logits (ties at the k-th value are all kept); probabilities are computed in
// float64 on the host from float32 logits, so results do not depend on the backend's softmax.
import { HeedError, Generator, defaultGenerator, rand } from '@heed/core';

/**
 * Options of {@link sampleToken} and the models' `generate`.
 *
 * @example
 * ```ts
 * const o: SamplingOptions = { temperature: 0.8, topK: 20, generator: new Generator(42) };
 * ```
 */
export interface SamplingOptions {
  /** Softmax temperature; 0 picks the argmax (default 1). */
  temperature?: number;
  /** Sample only among the k most likely tokens (default: all). */
  topK?: number;
  /** The random stream (default: core's global generator). */
  generator?: Generator;
}

/**
 * Index of the largest value (the first one on ties).
 *
 * @example
 * ```ts
 * argmaxRow(new Float32Array([0.1, 3, 3])); // 1
 * ```
 */
export function argmaxRow(row: ArrayLike<number>, start = 0, length = row.length - start): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = row[start + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * Normalised probabilities (float64) of `logits / temperature`, restricted to the top-k.
 *
 * @example
 * ```ts
 * samplingDistribution(new Float32Array([1, 2, 3]), { temperature: 1, topK: 2 }); // [0, 0.269, 0.731]
 * ```
 */
export function samplingDistribution(logits: ArrayLike<number>, options: Omit<SamplingOptions, 'generator'> = {}): Float64Array {
  const t = options.temperature ?? 1;
  const V = logits.length;
  if (!(t > 0)) throw new HeedError('samplingDistribution', `temperature must be > 0 here (use argmax for 0), got ${t}.`);
  let threshold = -Infinity;
  const k = options.topK;
  if (k !== undefined) {
    if (!Number.isInteger(k) || k <= 0) throw new HeedError('sampleToken', `topK must be a positive integer, got ${k}.`);
    if (k < V) threshold = Array.from(logits).sort((a, b) => b - a)[k - 1];
  }
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] >= threshold && logits[i] > max) max = logits[i];
  const p = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < V; i++) {
    if (logits[i] >= threshold) {
      p[i] = Math.exp((logits[i] - max) / t);
      sum += p[i];
    }
  }
  for (let i = 0; i < V; i++) p[i] /= sum;
  return p;
}

/**
 * Draws one uniform number in `[0, 1)` from `generator` (a core Generator; the same seed
 * gives the same draws).
 *
 * @example
 * ```ts
 * const u = await uniform(new Generator(0));
 * ```
 */
export async function uniform(generator: Generator = defaultGenerator()): Promise<number> {
  return (await uniforms(1, generator))[0];
}

/**
 * Picks the next token from one row of logits: argmax at temperature 0, else a draw from
 * the tempered, top-k-restricted softmax.
 *
 * @example
 * ```ts
 * const g = new Generator(1);
 * const id = await sampleToken(new Float32Array([0, 5, 1]), { temperature: 0.7, topK: 2, generator: g });
 * ```
 */
export async function sampleToken(logits: ArrayLike<number>, options: SamplingOptions = {}): Promise<number> {
  if ((options.temperature ?? 1) === 0) return argmaxRow(logits);
  return drawIndex(samplingDistribution(logits, options), await uniform(options.generator));
}

/**
 * Inverse-CDF draw from probabilities `p` with the uniform number `u` in [0, 1): the first index
 * whose cumulative probability exceeds `u`; tokens of probability 0 are never drawn (rounding
 * that leaves the sum below `u` gives the last nonzero one). One source for sampleToken and
 * HF generate's sampleScores.
 *
 * @example
 * ```ts
 * drawIndex(Float64Array.from([0.5, 0, 0.5]), 0.75); // 2
 * ```
 */
export function drawIndex(p: ArrayLike<number>, u: number): number {
  let acc = 0;
  let last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue;
    acc += p[i];
    last = i;
    if (u < acc) return i;
  }
  return last;
}

/**
 * `n` uniform numbers in `[0, 1)` drawn from `generator` in one `rand` call (host copy; the
 * tensor is freed). One source for {@link uniform} and HF generate's per-row draws.
 *
 * @example
 * ```ts
 * const us = await uniforms(4, new Generator(0)); // Float32Array(4)
 * ```
 */
export async function uniforms(n: number, generator: Generator = defaultGenerator()): Promise<Float32Array> {
  const u = rand([n], { generator });
  try {
    return (await u.data()) as Float32Array;
  } finally {
    u.dispose();
  }
}
