// SPDX-License-Identifier: MIT
// The DataLoader: batches of a map-style or iterable dataset, with a seeded shuffle that is
// reproducible per epoch, drop-last, a collate function, and background prefetch (async
// look-ahead: the next `prefetch` batches are fetched and collated while the consumer works on
// the current one), iterated with `for await`.
// Invariants: epoch e's order depends only on (seed, e); every batch yielded is the consumer's
// to dispose and belongs to no scope (a tidy/tidyAsync around the consumer never frees it); batches fetched ahead but never yielded (the consumer broke out, or an error)
// are disposed by the loader before the iteration finishes; a failed fetch never becomes an
// unhandled rejection (it is thrown to the consumer at that batch).
import { HeedError, checkOptions, describeValue, keep, tidy, type OptionKeys } from '@heed/core';
import { defaultCollate, disposeBatch, forEachTensor, type Collated } from './collate.js';
import { checkMapDataset, isMapDataset, toRng, type Dataset, type IterableDataset } from './data.js';
import { Rng, epochPermutation } from './rng.js';

/**
 * Options of {@link DataLoader}.
 *
 * @example
 * ```ts
 * const o: DataLoaderOptions<Item, PaddedBatch> = { batchSize: 32, shuffle: true, seed: 1, dropLast: true, collate: padCollate({ padId: 0 }), prefetch: 2 };
 * ```
 */
export interface DataLoaderOptions<T, B> {
  /** Items per batch (default 1). */
  batchSize?: number;
  /** Shuffle the items each epoch (map-style datasets only; default false). */
  shuffle?: boolean;
  /** The shuffle seed: epoch `e`'s order depends only on (seed, e). Default: a random seed. */
  seed?: number;
  /**
   * Alternatively an {@link Rng}: each epoch's order is drawn from it when the epoch starts
   * (like PyTorch's `generator`), so `epoch({ epoch })` cannot recreate a past epoch; use
   * `seed` for runs that resume.
   */
  generator?: Rng;
  /** Drop the last batch if it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** Makes a batch from its items (default {@link defaultCollate}); runs inside `tidy`. */
  collate?: (items: T[]) => B;
  /** Batches fetched and collated ahead while the consumer works (default 1; 0 = none). */
  prefetch?: number;
}

const OPTION_KEYS: OptionKeys<DataLoaderOptions<unknown, unknown>> = {
  batchSize: true, shuffle: true, seed: true, generator: true, dropLast: true, collate: true, prefetch: true,
};

/**
 * Where an iteration of a {@link DataLoader} starts: the epoch (its shuffle order) and the
 * first batch of it to yield (to resume a run mid-epoch).
 *
 * @example
 * ```ts
 * const at: EpochStart = { epoch: 3, start: 40 };
 * ```
 */
export interface EpochStart {
  /** The epoch whose order to use (default: the loader's current epoch, see `setEpoch`). */
  epoch?: number;
  /** The first batch to yield (default 0). */
  start?: number;
}

/**
 * Batches of a dataset, iterated with `for await`. Map-style datasets ({@link Dataset}) can be
 * shuffled: with `seed`, epoch `e`'s order depends only on the seed and `e`, so a run resumed
 * at epoch `e`, batch `k` (`loader.epoch({ epoch: e, start: k })`) sees the same batches; each
 * plain `for await` over the loader uses the current epoch and then advances it (like
 * PyTorch's `set_epoch` done for you; `setEpoch` sets it). Iterable datasets are batched in
 * order. With `prefetch: n` the next n batches are fetched (awaiting an async `get`) and
 * collated while the consumer awaits its step, so a slow data source and a slow step overlap.
 *
 * Ownership: every batch yielded is new and the consumer's; dispose it when the step is done
 * ({@link disposeBatch}). Batches belong to no scope: a `tidy`/`tidyAsync` around the step does
 * not free them (a batch fetched ahead during it must outlive it). Batches fetched ahead and never yielded are disposed by the loader.
 * Items stay the dataset's, unless its `itemsOwnedByLoader` is true (then the loader disposes
 * their tensors once collated).
 *
 * @example
 * ```ts
 * const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 32, shuffle: true, seed: 0 });
 * loader.length; // batches per epoch
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   for await (const [xb, yb] of loader) {
 *     trainStep(xb, yb);
 *     disposeBatch([xb, yb]);
 *   }
 * }
 * ```
 */
export class DataLoader<T, B = Collated<T>> implements AsyncIterable<B> {
  /** The dataset batched. */
  readonly dataset: Dataset<T> | IterableDataset<T>;
  /** Items per batch. */
  readonly batchSize: number;
  /** Whether each epoch is shuffled. */
  readonly shuffle: boolean;
  /** Whether a short last batch is dropped. */
  readonly dropLast: boolean;
  /** Batches fetched ahead of the consumer. */
  readonly prefetch: number;
  private readonly collateFn: (items: T[]) => B;
  private readonly seed: number;
  private readonly generator: Rng | undefined;
  private currentEpoch = 0;

  constructor(dataset: Dataset<T> | IterableDataset<T>, options?: DataLoaderOptions<T, B>) {
    const op = 'DataLoader';
    const o = checkOptions(op, options, OPTION_KEYS as OptionKeys<DataLoaderOptions<T, B>>);
    const mapStyle = isMapDataset(dataset);
    if (mapStyle) checkMapDataset(op, dataset);
    else if (dataset === null || typeof dataset !== 'object' || (!(Symbol.iterator in dataset) && !(Symbol.asyncIterator in dataset))) {
      throw new HeedError(op, `expected a dataset (length + get(index)) or an iterable, got ${describeValue(dataset)}.`);
    }
    const posInt = (name: string, v: unknown, min: number, fallback: number): number => {
      if (v === undefined) return fallback;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new HeedError(op, `${name} must be an integer >= ${min}, got ${describeValue(v)}.`);
      return v;
    };
    this.batchSize = posInt('batchSize', o.batchSize, 1, 1);
    this.prefetch = posInt('prefetch', o.prefetch, 0, 1);
    this.shuffle = o.shuffle === true;
    this.dropLast = o.dropLast === true;
    if (this.shuffle && !mapStyle) {
      throw new HeedError(op, 'shuffle needs a map-style dataset (length + get); an iterable dataset is read in order (shuffle its source instead).');
    }
    if (o.seed !== undefined && o.generator !== undefined) throw new HeedError(op, "give either 'seed' or 'generator', not both.");
    if (o.generator !== undefined && !(o.generator instanceof Rng)) throw new HeedError(op, `generator must be an Rng, got ${describeValue(o.generator)}.`);
    if (o.collate !== undefined && typeof o.collate !== 'function') throw new HeedError(op, `collate must be a function, got ${describeValue(o.collate)}.`);
    this.seed = toRng(op, o.seed).state;
    this.generator = o.generator;
    this.collateFn = o.collate ?? (defaultCollate as unknown as (items: T[]) => B);
    this.dataset = dataset;
  }

  /**
   * Batches per epoch (map-style datasets; an iterable dataset has no length and throws).
   *
   * @example
   * ```ts
   * new DataLoader({ length: 10, get: (i) => i }, { batchSize: 4 }).length; // 3 (2 with dropLast)
   * ```
   */
  get length(): number {
    if (!isMapDataset(this.dataset)) throw new HeedError('DataLoader.length', 'an iterable dataset has no length; count the batches as you iterate.');
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /**
   * The epoch the next plain `for await` uses (it advances by one each time).
   *
   * @example
   * ```ts
   * loader.setEpoch(5); // resume: the next pass uses epoch 5's order
   * ```
   */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new HeedError('DataLoader.setEpoch', `epoch must be a non-negative integer, got ${describeValue(epoch)}.`);
    this.currentEpoch = epoch;
  }

  /**
   * The epoch the next plain `for await` uses.
   *
   * @example
   * ```ts
   * for await (const b of loader) disposeBatch(b);
   * loader.epochIndex; // 1
   * ```
   */
  get epochIndex(): number {
    return this.currentEpoch;
  }

  /**
   * The item indices of each batch of `epoch` (map-style datasets): the sampler's plan.
   * With `generator`, this draws the order from it (advancing it).
   *
   * @example
   * ```ts
   * new DataLoader({ length: 5, get: (i) => i }, { batchSize: 2 }).batchIndices(0); // [[0, 1], [2, 3], [4]]
   * ```
   */
  batchIndices(epoch = this.currentEpoch): number[][] {
    const ds = checkMapDataset('DataLoader.batchIndices', this.dataset);
    let order = Array.from({ length: ds.length }, (_, i) => i);
    if (this.shuffle && this.generator) new Rng(Math.floor(this.generator.next() * 4294967296)).shuffle(order);
    else if (this.shuffle) order = epochPermutation(ds.length, this.seed, epoch);
    const out: number[][] = [];
    for (let i = 0; i < order.length; i += this.batchSize) {
      const b = order.slice(i, i + this.batchSize);
      if (b.length < this.batchSize && this.dropLast) break;
      out.push(b);
    }
    return out;
  }

  /**
   * Iterates one epoch: its batches from `start` (see {@link EpochStart}). Does not change the
   * loader's current epoch.
   *
   * @example
   * ```ts
   * const step = 130, perEpoch = loader.length;
   * for await (const batch of loader.epoch({ epoch: Math.floor(step / perEpoch), start: step % perEpoch })) { ... }
   * ```
   */
  epoch(at: EpochStart = {}): AsyncGenerator<B, void, undefined> {
    const o = checkOptions('DataLoader.epoch', at, { epoch: true, start: true });
    const epoch = o.epoch ?? this.currentEpoch;
    const start = o.start ?? 0;
    if (!Number.isInteger(epoch) || epoch < 0) throw new HeedError('DataLoader.epoch', `epoch must be a non-negative integer, got ${describeValue(epoch)}.`);
    if (!Number.isInteger(start) || start < 0) throw new HeedError('DataLoader.epoch', `start must be a non-negative integer, got ${describeValue(start)}.`);
    return this.run(this.loaders(epoch, start));
  }

  /**
   * `for await (const batch of loader)`: one pass over the current epoch, which then advances.
   *
   * @example
   * ```ts
   * for await (const batch of loader) disposeBatch(batch);
   * ```
   */
  [Symbol.asyncIterator](): AsyncGenerator<B, void, undefined> {
    const it = this.epoch({ epoch: this.currentEpoch });
    this.currentEpoch++;
    return it;
  }

  /** One thunk per batch, in order; each fetches its items and collates them. */
  private loaders(epoch: number, start: number): Iterator<() => Promise<B | typeof END | typeof SKIP>> {
    if (isMapDataset(this.dataset)) {
      const ds = this.dataset as Dataset<T>;
      const plan = this.batchIndices(epoch).slice(start);
      const owned = ds.itemsOwnedByLoader === true;
      const make = (indices: number[]) => async () => {
        const settled = await Promise.allSettled(indices.map(async (i) => ds.get(i)));
        const items = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const failed = settled.find((r) => r.status === 'rejected');
        if (failed !== undefined) {
          if (owned) disposeBatch(items); // the items that did arrive
          throw (failed as PromiseRejectedResult).reason;
        }
        return this.collate(items, owned);
      };
      return plan.map(make)[Symbol.iterator]();
    }
    return this.iterableLoaders(this.dataset, start);
  }

  /** Endless thunks: each pulls the next batch's items (after the previous batch's) and ends with END. */
  private *iterableLoaders(source: IterableDataset<T>, start: number): Generator<() => Promise<B | typeof END | typeof SKIP>> {
    const it: Iterator<T> | AsyncIterator<T> = Symbol.asyncIterator in source
      ? (source as AsyncIterable<T>)[Symbol.asyncIterator]() : (source as Iterable<T>)[Symbol.iterator]();
    let done = false;
    const pull = async (): Promise<T[]> => {
      const items: T[] = [];
      while (!done && items.length < this.batchSize) {
        const r = await it.next();
        if (r.done === true) done = true;
        else items.push(r.value);
      }
      return items;
    };
    let chain: Promise<unknown> = Promise.resolve();
    try {
      for (let index = 0; ; index++) {
        const mine = chain.then(pull);
        chain = mine.catch(() => undefined);
        const i = index;
        yield async () => {
          const items = await mine;
          if (items.length === 0 || (items.length < this.batchSize && this.dropLast)) return END;
          if (i < start) return SKIP;
          return this.collate(items, false);
        };
      }
    } finally {
      // Left early (the consumer broke out, or an error): close the source, as for-of would.
      if (!done) void Promise.resolve(it.return?.()).catch(() => undefined);
    }
  }

  /**
   * Collates inside tidy, then takes the batch's tensors out of every scope: a batch fetched
   * ahead while the consumer runs inside tidy/tidyAsync must not die when that scope ends.
   */
  private collate(items: T[], owned: boolean): B {
    try {
      const batch = tidy(() => this.collateFn(items));
      forEachTensor(batch, (t) => { keep(t); });
      return batch;
    } finally {
      if (owned) disposeBatch(items);
    }
  }

  /** Runs the thunks with `prefetch` of them in flight ahead of the consumer. */
  private async *run(loaders: Iterator<() => Promise<B | typeof END | typeof SKIP>>): AsyncGenerator<B, void, undefined> {
    const queue: Promise<B | typeof END | typeof SKIP>[] = [];
    let more = true;
    const fill = (target: number) => {
      while (more && queue.length < target) {
        const r = loaders.next();
        if (r.done) { more = false; break; }
        const p = r.value();
        p.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
        queue.push(p);
      }
    };
    try {
      for (;;) {
        fill(this.prefetch + 1);
        const head = queue.shift();
        if (head === undefined) return;
        const batch = await head;
        fill(this.prefetch);
        if (batch === END) return;
        if (batch === SKIP) continue;
        yield batch;
      }
    } finally {
      const pending = queue.splice(0);
      for (const b of await Promise.allSettled(pending)) if (b.status === 'fulfilled' && b.value !== END && b.value !== SKIP) disposeBatch(b.value);
      loaders.return?.();
    }
  }
}

/** An iterable dataset's loader: the source is exhausted (or only a dropped short batch was left). */
const END: unique symbol = Symbol('end of data');
/** An iterable dataset's loader: a batch before `start`, read and skipped. */
const SKIP: unique symbol = Symbol('skipped batch');
