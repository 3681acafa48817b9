// SPDX-License-Identifier: MIT
// A tiny seedable PRNG for data sampling in the examples (mulberry32). Its whole state is one
// uint32, so checkpoints can store it and `--resume` continues the exact same data stream.
// Invariants: same seed -> same sequence on every platform; `state` round-trips through JSON.

/**
 * Seedable uniform random numbers for shuffling and sampling data.
 *
 * @example
 * const rng = new Rng(42);
 * rng.next();        // in [0, 1)
 * rng.int(10);       // in 0..9
 * const saved = rng.state; rng.state = saved; // exact resume
 */
export class Rng {
  /** @param {number} seed */
  constructor(seed) {
    /** The whole generator state (uint32). */
    this.state = seed >>> 0;
  }

  /** @returns {number} a float in [0, 1) */
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), 1 | t);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** @param {number} n @returns {number} an integer in [0, n) */
  int(n) {
    return Math.floor(this.next() * n);
  }

  /**
   * Shuffles `items` in place (Fisher-Yates) and returns it.
   * @template T @param {T[]} items @returns {T[]}
   */
  shuffle(items) {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
