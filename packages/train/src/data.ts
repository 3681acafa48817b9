// SPDX-License-Identifier: MIT
// Datasets for the DataLoader: the map-style `Dataset` interface (`length` + `get(i)`, sync or
// async), iterable datasets (any Iterable / AsyncIterable), `TensorDataset` (rows of tensors
// sharing their first dimension), `Subset`, and `randomSplit` with PyTorch's semantics.
// Invariants: `randomSplit` partitions 0..n-1 exactly (every index in one subset, none twice);
// fractions are floored and the remainder handed out one by one round-robin from the first
// subset; the same seed gives the same split on every platform (the package's Rng).
import { HeedError, describeValue, select, type Tensor } from '@heed/core';
import { Rng } from './rng.js';

/**
 * A map-style dataset: `length` items, item `i` from `get(i)` (sync, or a Promise for data
 * read on demand). Items are the dataset's own: the {@link DataLoader} never disposes tensors
 * inside them unless `itemsOwnedByLoader` is true (each `get` then returns fresh tensors that
 * the loader disposes once they are collated, as {@link TensorDataset} does).
 *
 * @example
 * ```ts
 * const squares: Dataset<{ x: number; y: number }> = { length: 100, get: (i) => ({ x: i, y: i * i }) };
 * ```
 */
export interface Dataset<T> {
  /** The number of items. */
  readonly length: number;
  /** Item `index` (0 <= index < length). */
  get(index: number): T | Promise<T>;
  /** True when `get` returns fresh tensors the loader may dispose after collating them. */
  readonly itemsOwnedByLoader?: boolean;
}

/**
 * An iterable dataset: items come in order from a (possibly async) iterator, e.g. lines read
 * from a stream. Has no length and cannot be shuffled by the loader.
 *
 * @example
 * ```ts
 * async function* lines(): AsyncGenerator<string> { yield 'a'; yield 'b'; }
 * const ds: IterableDataset<string> = lines();
 * ```
 */
export type IterableDataset<T> = Iterable<T> | AsyncIterable<T>;

/**
 * Whether `value` is a map-style {@link Dataset} (a non-negative integer `length` and a `get` function).
 *
 * @example
 * ```ts
 * isMapDataset({ length: 3, get: (i: number) => i }); // true
 * isMapDataset([1, 2, 3]); // false (an array is an iterable dataset)
 * ```
 */
export function isMapDataset(value: unknown): value is Dataset<unknown> {
  if (value === null || typeof value !== 'object') return false;
  const v = value as { length?: unknown; get?: unknown };
  return typeof v.get === 'function' && typeof v.length === 'number';
}

/** @internal Throws unless `dataset` is a map-style dataset with a valid length. */
export function checkMapDataset(op: string, dataset: unknown): Dataset<unknown> {
  if (!isMapDataset(dataset)) {
    throw new HeedError(op, `expected a dataset with a numeric 'length' and a 'get(index)' method, got ${describeValue(dataset)}; ` +
      'wrap an array as { length: a.length, get: (i) => a[i] } or use TensorDataset.');
  }
  if (!Number.isInteger(dataset.length) || dataset.length < 0) {
    throw new HeedError(op, `the dataset's length must be a non-negative integer, got ${describeValue(dataset.length)}.`);
  }
  return dataset;
}

/**
 * Rows of one or more tensors that share their first dimension: item `i` is the tuple of
 * row `i` of each tensor (views, disposed by the loader once collated). The tensors stay the
 * caller's: dispose them when the dataset is no longer used.
 *
 * @example
 * ```ts
 * const ds = new TensorDataset(tensor([[1, 2], [3, 4], [5, 6]]), tensor([0, 1, 0], { dtype: 'int32' }));
 * ds.length; // 3
 * const [x, y] = ds.get(1); // x: [3, 4], y: 1 (0-d); dispose them if you call get yourself
 * ```
 */
export class TensorDataset implements Dataset<Tensor[]> {
  /** The wrapped tensors. */
  readonly tensors: readonly Tensor[];
  /** True: items are fresh views that the loader disposes after collating. */
  readonly itemsOwnedByLoader = true;

  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new HeedError('TensorDataset', 'needs at least one tensor.');
    tensors.forEach((t, i) => {
      if (t === null || typeof t !== 'object' || !('shape' in t) || typeof (t as { dispose?: unknown }).dispose !== 'function') {
        throw new HeedError('TensorDataset', `argument ${i} must be a Tensor, got ${describeValue(t)}.`);
      }
      if (t.shape.length === 0) throw new HeedError('TensorDataset', `tensor ${i} is 0-d; each tensor needs a first dimension to index rows.`);
    });
    const n = tensors[0].shape[0];
    const bad = tensors.findIndex((t) => t.shape[0] !== n);
    if (bad >= 0) {
      throw new HeedError('TensorDataset', `all tensors must have the same first dimension: tensor 0 has shape [${tensors[0].shape.join(', ')}], ` +
        `tensor ${bad} has [${tensors[bad].shape.join(', ')}].`);
    }
    this.tensors = tensors;
  }

  /** The number of rows. */
  get length(): number {
    return this.tensors[0].shape[0];
  }

  /**
   * Row `index` of every tensor.
   *
   * @example
   * ```ts
   * const [x] = new TensorDataset(tensor([[1, 2], [3, 4]])).get(0); // [1, 2]
   * ```
   */
  get(index: number): Tensor[] {
    checkIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => select(t, 0, index));
  }
}

function checkIndex(op: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new HeedError(op, `index ${describeValue(index)} is out of range for a dataset of length ${length}.`);
  }
}

/**
 * The items of `dataset` at `indices`, in that order.
 *
 * @example
 * ```ts
 * const firstTen = new Subset(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 * ```
 */
export class Subset<T> implements Dataset<T> {
  /** The underlying dataset. */
  readonly dataset: Dataset<T>;
  /** The underlying dataset's index of each item of the subset. */
  readonly indices: readonly number[];
  /** As the underlying dataset's. */
  readonly itemsOwnedByLoader: boolean;

  constructor(dataset: Dataset<T>, indices: readonly number[]) {
    const ds = checkMapDataset('Subset', dataset) as Dataset<T>;
    if (!Array.isArray(indices)) throw new HeedError('Subset', `indices must be an array of integers, got ${describeValue(indices)}.`);
    indices.forEach((i) => checkIndex('Subset', i, ds.length));
    this.dataset = ds;
    this.indices = indices;
    this.itemsOwnedByLoader = ds.itemsOwnedByLoader === true;
  }

  /** The number of indices. */
  get length(): number {
    return this.indices.length;
  }

  /**
   * Item `indices[index]` of the underlying dataset.
   *
   * @example
   * ```ts
   * new Subset(ds, [5, 2]).get(0); // ds.get(5)
   * ```
   */
  get(index: number): T | Promise<T> {
    checkIndex('Subset.get', index, this.indices.length);
    return this.dataset.get(this.indices[index]);
  }
}

/**
 * The subset lengths `randomSplit` uses for `n` items: integer lengths as given (they must sum
 * to `n`), or fractions summing to 1, floored, with the remainder added one at a time to the
 * subsets in order (round-robin), as PyTorch does.
 *
 * @example
 * ```ts
 * splitLengths(10, [0.5, 0.3, 0.2]); // [5, 3, 2]
 * splitLengths(11, [0.5, 0.5]);      // [6, 5]
 * splitLengths(10, [7, 3]);          // [7, 3]
 * ```
 */
export function splitLengths(n: number, lengths: readonly number[]): number[] {
  const op = 'randomSplit';
  if (!Array.isArray(lengths) || lengths.length === 0 || lengths.some((l) => typeof l !== 'number' || !Number.isFinite(l) || l < 0)) {
    throw new HeedError(op, `lengths must be a non-empty array of non-negative numbers (counts or fractions), got ${describeValue(lengths)}.`);
  }
  const total = lengths.reduce((a, b) => a + b, 0);
  // As in PyTorch, lengths summing to 1 are fractions (so [1, 0] means everything in the first).
  if (Math.abs(total - 1) <= 1e-9) {
    const out = lengths.map((f) => Math.floor(n * f));
    const remainder = n - out.reduce((a, b) => a + b, 0);
    for (let i = 0; i < remainder; i++) out[i % out.length] += 1;
    return out;
  }
  if (!lengths.every(Number.isInteger)) {
    throw new HeedError(op, `lengths ${describeValue(lengths)} are neither integer counts nor fractions summing to 1 (they sum to ${total}).`);
  }
  if (total !== n) {
    throw new HeedError(op, `the lengths ${describeValue(lengths)} sum to ${total}, but the dataset has ${n} items; ` +
      'give counts that sum to the dataset length, or fractions that sum to 1.');
  }
  return [...lengths];
}

/**
 * Splits `dataset` into non-overlapping random subsets of the given lengths (counts summing
 * to the dataset length, or fractions summing to 1: see {@link splitLengths}). The order comes
 * from `generator` (an {@link Rng} or a seed; by default a random seed), so a seeded split is
 * the same on every platform. The permutation is the package's Fisher-Yates shuffle, not
 * PyTorch's `randperm` stream: same sizes as PyTorch, different members. (PyTorch also
 * insists the fractions sum to at most 1 exactly, so float rounding makes it reject e.g.
 * [0.1, 0.2, 0.7]; this accepts sums within 1e-9 of 1.)
 *
 * @example
 * ```ts
 * const [train, val] = randomSplit(ds, [0.9, 0.1], 42);
 * const [a, b, c] = randomSplit(ds, [60, 20, 20], new Rng(0));
 * ```
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], generator?: Rng | number): Subset<T>[] {
  const ds = checkMapDataset('randomSplit', dataset) as Dataset<T>;
  const sizes = splitLengths(ds.length, lengths);
  const rng = toRng('randomSplit', generator);
  const order = rng.shuffle(Array.from({ length: ds.length }, (_, i) => i));
  let offset = 0;
  return sizes.map((size) => {
    const subset = new Subset(ds, order.slice(offset, offset + size));
    offset += size;
    return subset;
  });
}

/** @internal An Rng from an Rng, an integer seed, or (undefined) a random seed. */
export function toRng(op: string, generator: Rng | number | undefined): Rng {
  if (generator instanceof Rng) return generator;
  if (generator === undefined) return new Rng(Math.floor(Math.random() * 2 ** 32));
  if (typeof generator !== 'number' || !Number.isInteger(generator)) {
    throw new HeedError(op, `generator must be an Rng or an integer seed, got ${describeValue(generator)}.`);
  }
  return new Rng(generator);
}
