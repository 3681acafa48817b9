// SPDX-License-Identifier: MIT
// Host-side helpers: a seeded PRNG (so every run and every backend gets the same inputs),
// value generators for smooth well-conditioned inputs, uploads, and the non-contiguous
// layouts used to feed ops views instead of fresh buffers.
// Invariant: nothing here depends on the backend's random primitive.
import { tensor, type Tensor } from '@heed/core';
import type { HostTensor } from './assert.js';

/**
 * A small seeded PRNG (mulberry32) for test inputs.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * rng.uniform(-1, 1);
 * ```
 */
export class Rng {
  private state: number;
  constructor(seed: number | string) {
    this.state = typeof seed === 'number' ? seed >>> 0 : hashString(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi), rounded to float32. */
  uniform(lo: number, hi: number): number {
    return Math.fround(lo + (hi - lo) * this.next());
  }

  /** An integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }

  /** Standard normal (Box-Muller), rounded to float32. */
  normal(): number {
    const u = 1 - this.next();
    return Math.fround(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next()));
  }
}

/**
 * FNV-1a hash of a string (seeds per case id).
 *
 * @example
 * ```ts
 * hashString('finite-diff/exp'); // a 32-bit unsigned integer
 * ```
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * Number of elements of a shape.
 *
 * @example
 * ```ts
 * numel([2, 3]); // 6
 * ```
 */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * How to draw a float input: `uniform` in [lo, hi); `positive` in [lo, hi) (default
 * [0.5, 2)); `away` with |x| in [lo, hi) and random sign (no kinks at 0); `distinct` a
 * shuffled ladder of well-separated values (no ties); `frac` values k + [0.2, 0.8) (away from
 * integers, for floor/ceil/round).
 *
 * @example
 * ```ts
 * const g: ValueKind = { kind: 'away', lo: 0.5, hi: 2 };
 * ```
 */
export type ValueKind =
  | { kind: 'uniform' | 'positive' | 'away'; lo?: number; hi?: number }
  | { kind: 'distinct'; step?: number }
  | { kind: 'frac' };

/**
 * Draws `n` float32 values of `kind`.
 *
 * @example
 * ```ts
 * draw(new Rng(1), 6, { kind: 'positive' });
 * ```
 */
export function draw(rng: Rng, n: number, kind: ValueKind): number[] {
  const out: number[] = [];
  switch (kind.kind) {
    case 'uniform':
      for (let i = 0; i < n; i++) out.push(rng.uniform(kind.lo ?? -2, kind.hi ?? 2));
      return out;
    case 'positive':
      for (let i = 0; i < n; i++) out.push(rng.uniform(kind.lo ?? 0.5, kind.hi ?? 2));
      return out;
    case 'away':
      for (let i = 0; i < n; i++) out.push(rng.uniform(kind.lo ?? 0.3, kind.hi ?? 2) * (rng.next() < 0.5 ? -1 : 1));
      return out;
    case 'distinct': {
      const ladder = Array.from({ length: n }, (_, i) => Math.fround((i - n / 2) * (kind.step ?? 0.37) + 0.05));
      for (let i = n - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        [ladder[i], ladder[j]] = [ladder[j], ladder[i]];
      }
      return ladder;
    }
    case 'frac':
      for (let i = 0; i < n; i++) out.push(Math.fround(rng.int(-2, 3) + rng.uniform(0.2, 0.8)));
      return out;
  }
}

/**
 * Uploads host values as a tensor on `backend`.
 *
 * @example
 * ```ts
 * const x = upload({ shape: [2], dtype: 'float32', values: [1, 2] }, 'cpu');
 * ```
 */
export function upload(h: HostTensor, backend: string, requiresGrad = false): Tensor {
  return tensor(h.values as number[], { shape: h.shape, dtype: h.dtype, backend, requiresGrad });
}

/**
 * A non-contiguous way of holding the same logical values: `transposed` stores the last two
 * dims swapped and views them back; `strided` stores every value at an odd position of a
 * padded last dim (offset 1, stride 2) with poison in between (NaN, -99999, or true).
 *
 * @example
 * ```ts
 * const l: Layout = 'strided';
 * ```
 */
export type Layout = 'contiguous' | 'transposed' | 'strided';

/**
 * Whether `layout` changes how a tensor of `shape` is stored.
 *
 * @example
 * ```ts
 * layoutApplies('transposed', [3]); // false (needs rank >= 2)
 * ```
 */
export function layoutApplies(layout: Layout, shape: readonly number[]): boolean {
  if (layout === 'contiguous' || numel(shape) === 0) return false;
  return layout === 'transposed' ? shape.length >= 2 : shape.length >= 1;
}

/**
 * Stores `h` in `layout` on `backend`. Returns the stored leaf `base` and `view`, which turns
 * `base` (or any tensor of base's shape, such as its gradient) into the logical tensor.
 *
 * @example
 * ```ts
 * const { base, view } = storeWithLayout(h, 'strided', 'cpu');
 * const x = view(base); // same values as h, strides [..., 2], offset 1
 * ```
 */
export function storeWithLayout(h: HostTensor, layout: Layout, backend: string, requiresGrad: boolean): { base: Tensor; view: (t: Tensor) => Tensor } {
  if (!layoutApplies(layout, h.shape)) {
    return { base: upload(h, backend, requiresGrad), view: (t) => t };
  }
  const shape = h.shape;
  const r = shape.length;
  if (layout === 'transposed') {
    const stored = [...shape.slice(0, r - 2), shape[r - 1], shape[r - 2]];
    const rows = shape[r - 2];
    const cols = shape[r - 1];
    const values = new Array<number>(h.values.length);
    const block = rows * cols;
    for (let b = 0; b < h.values.length / block; b++) {
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) values[b * block + j * rows + i] = h.values[b * block + i * cols + j];
    }
    return { base: upload({ shape: stored, dtype: h.dtype, values }, backend, requiresGrad), view: (t) => t.transpose(-2, -1) };
  }
  const last = shape[r - 1];
  const stored = [...shape.slice(0, r - 1), 2 * last + 1];
  const poison = h.dtype === 'float32' ? NaN : h.dtype === 'int32' ? -99999 : 1;
  const values = new Array<number>(numel(stored)).fill(poison);
  for (let i = 0; i < h.values.length; i++) {
    const row = Math.floor(i / last);
    values[row * (2 * last + 1) + 1 + 2 * (i % last)] = h.values[i];
  }
  const ranges = [...new Array<null>(r - 1).fill(null), [1, 2 * last + 1, 2] as const];
  return { base: upload({ shape: stored, dtype: h.dtype, values }, backend, requiresGrad), view: (t) => t.slice(ranges) };
}
