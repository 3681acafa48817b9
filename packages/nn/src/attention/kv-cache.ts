// SPDX-License-Identifier: MIT
// The key/value cache for incremental decoding: MultiheadAttention appends each step's
// projected keys and values (per head, after rotary embedding) and attends over everything
// cached so far. A `static` cache (for cross-attention over a fixed memory) is filled once and
// then reused without projecting the memory again.
// Invariants: `keys`/`values` are `[N, H, S, headDim]`, owned by the cache (kept out of every
// scope) and disposed when replaced, reset or disposed; `length` is S (0 when empty).
import { HeedError, concat, fmtShape, keep, type Tensor } from '@heed/core';

/**
 * Options of {@link KVCache}.
 *
 * @example
 * ```ts
 * const cross = new KVCache({ static: true });
 * ```
 */
export interface KVCacheOptions {
  /** Fill once, then reuse (cross-attention over encoder memory). Default false. */
  static?: boolean;
}

/**
 * Keys and values of earlier decoding steps, reused across calls of `MultiheadAttention.forward`
 * through its `cache` option. Dispose it (or `reset()`) when the sequence is done.
 *
 * @example
 * ```ts
 * const cache = new KVCache();
 * for (const token of tokens) {
 *   const x = embed(token); // [1, N, E]
 *   const { output } = mha.forward(x, x, x, { cache, isCausal: true, needWeights: false });
 * }
 * cache.dispose();
 * ```
 */
export class KVCache {
  /** Cached keys `[N, H, S, headDim]`, or null when empty. */
  keys: Tensor | null = null;
  /** Cached values `[N, H, S, headDim]`, or null when empty. */
  values: Tensor | null = null;
  /** Whether this cache is filled once and then reused as is. */
  readonly static: boolean;

  constructor(options: KVCacheOptions = {}) {
    this.static = options.static ?? false;
  }

  /** Number of cached positions (S). */
  get length(): number {
    return this.keys?.shape[2] ?? 0;
  }

  /** Whether a static cache already holds its keys and values. */
  get filled(): boolean {
    return this.keys !== null;
  }

  /**
   * Appends `keys`/`values` `[N, H, S_new, headDim]` along the position axis (replaces them for a
   * static cache) and returns the full cached tensors. The returned tensors belong to the cache.
   *
   * @example
   * ```ts
   * const { keys, values } = cache.append(k, v);
   * ```
   */
  append(keys: Tensor, values: Tensor): { keys: Tensor; values: Tensor } {
    if (keys.rank !== 4 || values.rank !== 4 || keys.shape[2] !== values.shape[2]) {
      throw new HeedError('KVCache', `keys and values must be [N, H, S, headDim] with equal S, got ${fmtShape(keys.shape)} and ${fmtShape(values.shape)}.`);
    }
    const prevK = this.keys;
    const prevV = this.values;
    if (prevK && prevV && !this.static) {
      for (const [name, prev, next] of [['keys', prevK, keys], ['values', prevV, values]] as const) {
        if (prev.shape[0] !== next.shape[0] || prev.shape[1] !== next.shape[1] || prev.shape[3] !== next.shape[3]) {
          throw new HeedError('KVCache', `new ${name} ${fmtShape(next.shape)} do not match the cached ${fmtShape(prev.shape)} (batch, heads and head size must agree).`);
        }
      }
      this.keys = keep(concat([prevK, keys], 2));
      this.values = keep(concat([prevV, values], 2));
    } else {
      this.keys = keep(keys.reshape(keys.shape));
      this.values = keep(values.reshape(values.shape));
    }
    prevK?.dispose();
    prevV?.dispose();
    return { keys: this.keys, values: this.values };
  }

  /**
   * Empties the cache (disposing its tensors) for a new sequence.
   *
   * @example
   * ```ts
   * cache.reset();
   * ```
   */
  reset(): void {
    this.keys?.dispose();
    this.values?.dispose();
    this.keys = null;
    this.values = null;
  }

  /**
   * Frees the cached tensors. Same as `reset()`.
   *
   * @example
   * ```ts
   * cache.dispose();
   * ```
   */
  dispose(): void {
    this.reset();
  }

  /**
   * Support for `using cache = new KVCache()`.
   *
   * @example
   * ```ts
   * { using cache = new KVCache(); }
   * ```
   */
  [Symbol.dispose](): void {
    this.reset();
  }
}
