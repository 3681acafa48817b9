// SPDX-License-Identifier: MIT
// A tiny seedable PRNG for data sampling (mulberry32). Its whole state is one uint32, so
// training checkpoints can store it and a resumed run continues the exact same data stream.
// Invariants: same seed -> same sequence on every platform; `state` round-trips through JSON.
import { HeedError } from '@heed/core';

/**
 * Seedable uniform random numbers for shuffling and sampling training data.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.next();        // in [0, 1)
 * rng.int(10);       // in 0..9
 * const saved = rng.state;
 * rng.state = saved; // exact resume
 * ```
 */
export class Rng {
  /** The whole generator state (a uint32): save it to resume the same stream. */
  state: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new HeedError('Rng', `seed must be an integer, got ${String(seed)}.`);
    this.state = seed >>> 0;
  }

  /**
   * A float in [0, 1).
   *
   * @example
   * ```ts
   * new Rng(0).next(); // same value on every platform
   * ```
   */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), 1 | t);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /**
   * An integer in [0, n).
   *
   * @example
   * ```ts
   * const i = rng.int(items.length);
   * ```
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new HeedError('Rng.int', `n must be a positive integer, got ${String(n)}.`);
    return Math.floor(this.next() * n);
  }

  /**
   * Shuffles `items` in place (Fisher-Yates) and returns it.
   *
   * @example
   * ```ts
   * new Rng(1).shuffle([1, 2, 3, 4]);
   * ```
   */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}

/**
 * The shuffled order of `0..length-1` for `epoch` of a run seeded with `seed`: depends only on
 * (seed, epoch), on every platform. The DataLoader's seeded shuffle and the DistributedSampler
 * both use it, so a 1-rank sampler yields the loader's own order.
 *
 * @example
 * ```ts
 * epochPermutation(5, 0, 3); // the same 5 indices in the same order on every run
 * ```
 */
export function epochPermutation(length: number, seed: number, epoch: number): number[] {
  const order = Array.from({ length }, (_, i) => i);
  const rng = new Rng((seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  return new Rng(Math.floor(rng.next() * 4294967296)).shuffle(order);
}
