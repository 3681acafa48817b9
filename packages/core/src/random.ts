// SPDX-License-Identifier: MIT
// Seedable random generation. A Generator is (seed, offset): each draw of n values consumes
// counters [offset, offset + n) of the counter-based stream in random-bits.ts, so the same
// seed gives the same numbers on every backend. Every draw goes through `draw`, which tells a
// compile() recording (watchDraws) which Generator each 'random' kernel call drew from.
import { checkBufferLimit } from './backend.js';
import { HeedError } from './errors.js';
import { sizeOf } from './shape.js';
import { checkOptions, checkShape, describeValue, type OptionKeys } from './validate.js';
import type { Tensor } from './tensor.js';
import { fromData } from './ops/operands.js';
import { finish, resolveCreate, type CreateOptions } from './ops/creation.js';
import { cast } from './ops/elementwise.js';
import { runKernel } from './kernel-dispatch.js';

/**
 * A seeded random stream. Pass one in `options.generator` for reproducible draws, or seed
 * the global one with {@link manualSeed}.
 *
 * @example
 * ```ts
 * const g = new Generator(42);
 * const a = rand([3], { generator: g });
 * ```
 */
export class Generator {
  /** Counter of the next draw. */
  offset = 0;
  constructor(public seed = 0) {
    if (!Number.isInteger(seed)) throw new HeedError('Generator', `seed must be an integer, got ${seed}.`);
  }

  /** Reserves `n` counters and returns the first. */
  next(n: number): number {
    const start = this.offset;
    this.offset += n;
    return start;
  }

  /**
   * Restarts the stream with `seed`.
   *
   * @example
   * ```ts
   * g.manualSeed(7);
   * ```
   */
  manualSeed(seed: number): this {
    if (!Number.isInteger(seed)) throw new HeedError('manualSeed', `seed must be an integer, got ${describeValue(seed)}.`);
    this.seed = seed;
    this.offset = 0;
    return this;
  }
}

let globalGenerator = new Generator(0);

let drawWatcher: ((generator: Generator) => void) | null = null;

/**
 * @internal Calls `watcher` with the Generator of each draw, just before its 'random' kernel
 * call (compile()'s recorder pairs them); returns the previous watcher to restore.
 *
 * @example
 * ```ts
 * const previous = watchDraws((g) => drawn.push(g));
 * try { step(); } finally { watchDraws(previous); }
 * ```
 */
export function watchDraws(watcher: ((generator: Generator) => void) | null): ((generator: Generator) => void) | null {
  const previous = drawWatcher;
  drawWatcher = watcher;
  return previous;
}

/**
 * Seeds the global generator (like `torch.manual_seed`).
 *
 * @example
 * ```ts
 * manualSeed(0);
 * randn([2]); // the same two numbers every run
 * ```
 */
export function manualSeed(seed: number): Generator {
  globalGenerator = new Generator(seed);
  return globalGenerator;
}

/**
 * The global generator used when no `generator` option is given.
 *
 * @example
 * ```ts
 * defaultGenerator().seed;
 * ```
 */
export function defaultGenerator(): Generator {
  return globalGenerator;
}

/**
 * Options for random creation ops.
 *
 * @example
 * ```ts
 * randn([4], { generator: new Generator(1) });
 * ```
 */
export interface RandomOptions extends CreateOptions {
  /** The stream to draw from (default: the global generator). */
  generator?: Generator;
}

const RANDOM_KEYS: OptionKeys<RandomOptions> = { dtype: true, backend: true, requiresGrad: true, generator: true };
const RANDINT_KEYS: OptionKeys<Omit<RandomOptions, 'dtype'>> = { backend: true, requiresGrad: true, generator: true };

function draw(op: string, kind: 'uniform' | 'normal', shape: readonly number[], options?: RandomOptions): Tensor {
  const s = checkShape(op, shape);
  const { backend, dtype } = resolveCreate(op, options, 'float32', RANDOM_KEYS);
  if (dtype !== 'float32') throw new HeedError(op, `only float32 is supported, got ${dtype}.`);
  const generator: unknown = options?.generator;
  if (generator !== undefined && !(generator instanceof Generator)) {
    throw new HeedError(op, `generator must be a Generator (new Generator(seed)), got ${describeValue(generator)}.`);
  }
  const gen = options?.generator ?? globalGenerator;
  const size = sizeOf(s);
  checkBufferLimit(backend, op, s, 'float32');
  const offset = gen.next(size);
  drawWatcher?.(gen);
  const data = runKernel(backend, 'random', kind, size, gen.seed, offset);
  return finish(fromData(backend, data, s, 'float32'), options);
}

/**
 * Uniform random values in `[0, 1)`.
 *
 * @example
 * ```ts
 * rand([2, 3]);
 * ```
 */
export function rand(shape: readonly number[], options?: RandomOptions): Tensor {
  return draw('rand', 'uniform', shape, options);
}

/**
 * Standard-normal random values.
 *
 * @example
 * ```ts
 * randn([2, 3]);
 * ```
 */
export function randn(shape: readonly number[], options?: RandomOptions): Tensor {
  return draw('randn', 'normal', shape, options);
}

/**
 * Random integers in `[low, high)` (int32).
 *
 * @example
 * ```ts
 * randint(0, 10, [5]);
 * ```
 */
export function randint(low: number, high: number, shape: readonly number[], options?: Omit<RandomOptions, 'dtype'>): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low || low < -(2 ** 31) || high > 2 ** 31) {
    throw new HeedError('randint', `needs integers low < high within the int32 range (-2^31 <= low, high <= 2^31), ` +
      `got low=${describeValue(low)}, high=${describeValue(high)}.`);
  }
  if (checkOptions('randint', options, RANDINT_KEYS).requiresGrad) {
    throw new HeedError('randint', 'requiresGrad: true needs a float dtype, but randint returns int32; only float tensors can require gradients.');
  }
  const u = draw('randint', 'uniform', shape, { ...options, requiresGrad: false });
  const stretched = u.mul(high - low);
  const scaled = stretched.add(low);
  const floored = scaled.floor();
  const out = cast(floored, 'int32');
  for (const t of [u, stretched, scaled, floored]) t.dispose();
  return out;
}
