// SPDX-License-Identifier: MIT
// DistributedSampler (PyTorch's name and behaviour): splits a map-style dataset into one shard
// per rank, with an epoch-seeded shuffle shared by all ranks and equal shard sizes (padding by
// repeating the first indices, or dropLast), and `shard(dataset)`, a Dataset view of this
// rank's shard for the existing DataLoader.
// Invariants: for a given (seed, epoch) the shards of ranks 0..R-1 are disjoint unless padded,
// together cover the whole (padded or truncated) order, and all have `length` items.
import { HeedError, describeValue } from '@heed/core';
import { checkMapDataset, type Dataset } from './data.js';
import { epochPermutation } from './rng.js';

/**
 * Options of {@link DistributedSampler}.
 *
 * @example
 * ```ts
 * const o: DistributedSamplerOptions = { numReplicas: group.worldSize, rank: group.rank, shuffle: true, seed: 0 };
 * ```
 */
export interface DistributedSamplerOptions {
  /** Number of ranks (e.g. the process group's `worldSize`). */
  numReplicas: number;
  /** This rank, 0..numReplicas-1. */
  rank: number;
  /** Shuffle each epoch, the same way on every rank (default true). */
  shuffle?: boolean;
  /** The shuffle seed; must be the same on every rank (default 0). */
  seed?: number;
  /** Drop the tail so the length divides evenly (default false: pad by repeating the first indices). */
  dropLast?: boolean;
}

/**
 * Which items of a dataset of `length` items each rank sees, like PyTorch's
 * `DistributedSampler`: epoch `e`'s order (shuffled from `(seed, e)`, identical on every rank)
 * is padded by repeating its first indices up to a multiple of `numReplicas` (or truncated with
 * `dropLast`), and rank `r` takes positions `r, r + R, r + 2R, ...`. Every rank gets `length`
 * items, so every rank runs the same number of steps. Call `setEpoch(e)` at the start of each
 * epoch (on every rank). Use it with the DataLoader through {@link DistributedSampler.shard}.
 *
 * @example
 * ```ts
 * const sampler = new DistributedSampler(dataset.length, { numReplicas: 2, rank: group.rank, seed: 1 });
 * const loader = new DataLoader(sampler.shard(dataset), { batchSize: 16 });
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   sampler.setEpoch(epoch);
 *   for await (const batch of loader) { step(batch); disposeBatch(batch); }
 * }
 * ```
 */
export class DistributedSampler {
  /** Number of ranks. */
  readonly numReplicas: number;
  /** This rank. */
  readonly rank: number;
  /** Whether each epoch is shuffled. */
  readonly shuffle: boolean;
  /** The shuffle seed. */
  readonly seed: number;
  /** Whether the tail is dropped instead of padded. */
  readonly dropLast: boolean;
  /** Items per rank and epoch. */
  readonly length: number;
  /** Items of all ranks together per epoch (`length * numReplicas`). */
  readonly totalSize: number;
  private epoch = 0;
  private cache: { epoch: number; indices: number[] } | null = null;

  constructor(readonly datasetLength: number, options: DistributedSamplerOptions) {
    const op = 'DistributedSampler';
    const int = (name: string, v: unknown, min: number): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new HeedError(op, `${name} must be an integer >= ${min}, got ${describeValue(v)}.`);
      return v;
    };
    int('datasetLength', datasetLength, 0);
    if (options === null || typeof options !== 'object') throw new HeedError(op, `options { numReplicas, rank } are required, got ${describeValue(options)}.`);
    this.numReplicas = int('numReplicas', options.numReplicas, 1);
    this.rank = int('rank', options.rank, 0);
    if (this.rank >= this.numReplicas) {
      throw new HeedError(op, `rank ${this.rank} is out of range for numReplicas ${this.numReplicas} (ranks are 0..${this.numReplicas - 1}).`);
    }
    this.shuffle = options.shuffle ?? true;
    this.seed = int('seed', options.seed ?? 0, 0);
    this.dropLast = options.dropLast ?? false;
    this.length = this.dropLast ? Math.floor(datasetLength / this.numReplicas) : Math.ceil(datasetLength / this.numReplicas);
    this.totalSize = this.length * this.numReplicas;
    if (this.length === 0 && datasetLength > 0) {
      throw new HeedError(op, `dropLast leaves no items: ${datasetLength} items over ${this.numReplicas} ranks; use dropLast: false (padding).`);
    }
  }

  /**
   * Sets the epoch whose order {@link DistributedSampler.indices} uses (call it on every rank at
   * the start of each epoch; without it every epoch has epoch 0's order, like PyTorch).
   *
   * @example
   * ```ts
   * sampler.setEpoch(epoch);
   * ```
   */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new HeedError('DistributedSampler.setEpoch', `epoch must be a non-negative integer, got ${describeValue(epoch)}.`);
    this.epoch = epoch;
  }

  /**
   * The current epoch.
   *
   * @example
   * ```ts
   * sampler.epochIndex; // 0 until setEpoch
   * ```
   */
  get epochIndex(): number {
    return this.epoch;
  }

  /**
   * This rank's dataset indices for `epoch` (default: the current one), `length` of them.
   *
   * @example
   * ```ts
   * new DistributedSampler(5, { numReplicas: 2, rank: 1, shuffle: false }).indices(); // [1, 3, 0] (0 repeats: padding)
   * ```
   */
  indices(epoch = this.epoch): number[] {
    if (this.cache?.epoch === epoch) return [...this.cache.indices];
    const n = this.datasetLength;
    let order = this.shuffle ? epochPermutation(n, this.seed, epoch) : Array.from({ length: n }, (_, i) => i);
    if (this.totalSize <= n) order = order.slice(0, this.totalSize);
    else if (n > 0) while (order.length < this.totalSize) order = order.concat(order.slice(0, this.totalSize - order.length));
    const mine: number[] = [];
    for (let i = this.rank; i < this.totalSize; i += this.numReplicas) mine.push(order[i]);
    this.cache = { epoch, indices: mine };
    return [...mine];
  }

  /**
   * A map-style view of `dataset` holding this rank's shard of the current epoch (item `i` is
   * `dataset.get(indices()[i])`, re-read after `setEpoch`), for `new DataLoader(view, ...)`
   * without the loader's own shuffle.
   *
   * @example
   * ```ts
   * const loader = new DataLoader(sampler.shard(dataset), { batchSize: 16 });
   * ```
   */
  shard<T>(dataset: Dataset<T>): Dataset<T> {
    const ds = checkMapDataset('DistributedSampler.shard', dataset) as Dataset<T>;
    if (ds.length !== this.datasetLength) {
      throw new HeedError('DistributedSampler.shard', `the dataset has ${ds.length} items but the sampler was made for ${this.datasetLength}.`);
    }
    return {
      length: this.length,
      get: (index: number) => {
        if (!Number.isInteger(index) || index < 0 || index >= this.length) {
          throw new HeedError('DistributedSampler.shard', `index ${describeValue(index)} is out of range for a shard of ${this.length} items.`);
        }
        return ds.get((this.cache?.epoch === this.epoch ? this.cache.indices : this.indices())[index]);
      },
    };
  }
}
