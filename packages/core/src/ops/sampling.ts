// SPDX-License-Identifier: MIT
// Random draws driven by a tensor: bernoulli (one uniform per element) and multinomial (inverse
// CDF on one uniform per sample). Both take their uniforms from core's counter-based stream
// (rand with a Generator) and then use only comparisons, additions and multiplications, which
// are correctly rounded on every backend, so the same seed gives the same samples on CPU and
// WebGPU. The CDF is a blocked log-step (Hillis-Steele) scan of plain adds in a fixed order,
// not a backend reduction whose summation order could differ.
import { HeedError, fmtShape } from '../errors.js';
import { isFloatDType } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { Generator, rand } from '../random.js';
import { tidy } from '../scope.js';
import { checkBoolean, checkInt, checkOptions, describeValue, type OptionKeys } from '../validate.js';
import { commonBackend } from './operands.js';
import { binary, cast, where } from './elementwise.js';
import { arange, zeros } from './creation.js';
import { concat } from './join.js';
import { max, sum } from './reduce.js';
import { narrow, reshape, unsqueeze } from './views.js';

/**
 * Options of {@link bernoulli}.
 *
 * @example
 * ```ts
 * const o: BernoulliOptions = { generator: new Generator(0) };
 * ```
 */
export interface BernoulliOptions {
  /** The stream to draw from (default: the global generator). */
  generator?: Generator;
}

/**
 * Options of {@link multinomial}.
 *
 * @example
 * ```ts
 * const o: MultinomialOptions = { replacement: true, generator: new Generator(0) };
 * ```
 */
export interface MultinomialOptions {
  /** Draw with replacement (default false: each category at most once per row). */
  replacement?: boolean;
  /** The stream to draw from (default: the global generator). */
  generator?: Generator;
}

/** Most elementwise comparisons inverseCdf materialises at once. */
const COMPARE_CHUNK = 2 ** 24;

const BERNOULLI_KEYS: OptionKeys<BernoulliOptions> = { generator: true };
const MULTINOMIAL_KEYS: OptionKeys<MultinomialOptions> = { replacement: true, generator: true };

function checkGenerator(op: string, generator: unknown): Generator | undefined {
  if (generator !== undefined && !(generator instanceof Generator)) {
    throw new HeedError(op, `generator must be a Generator (new Generator(seed)), got ${describeValue(generator)}.`);
  }
  return generator;
}

/**
 * Draws 1 with probability `p` and 0 otherwise, independently for each element of the float
 * tensor `p` (like `torch.bernoulli`); the result is float32 with `p`'s shape and no gradient.
 * Element i is `uniform_i < p_i`, so probabilities below 0 (and NaN) act as 0 and above 1 as 1
 * (they are not checked: that would read the data back).
 *
 * @example
 * ```ts
 * bernoulli(full([4], 0.5), { generator: new Generator(0) }); // e.g. [1, 0, 0, 1]
 * ```
 */
export function bernoulli(p: Tensor, options?: BernoulliOptions): Tensor {
  commonBackend('bernoulli', [p]);
  const o = checkOptions('bernoulli', options, BERNOULLI_KEYS);
  const generator = checkGenerator('bernoulli', o.generator);
  if (!isFloatDType(p.dtype)) throw new HeedError('bernoulli', `p must be a float tensor of probabilities, got ${p.dtype} ${fmtShape(p.shape)}.`);
  return noGrad(() => tidy(() => cast(binary('lt', rand(p.shape, { backend: p.backend.name, generator }), p), 'float32')));
}

/** Block length of {@link scanLast}: rows are scanned in blocks of this many entries. */
const SCAN_BLOCK = 16;

/** Inclusive prefix sums along the last axis by log-step shifted adds (at most SCAN_BLOCK long). */
function scanShort(x: Tensor): Tensor {
  const n = x.shape[x.rank - 1];
  let acc = x;
  for (let d = 1; d < n; d *= 2) {
    const pad = zeros([...x.shape.slice(0, -1), d], { backend: x.backend.name });
    acc = binary('add', acc, concat([pad, narrow(acc, -1, 0, n - d)], -1));
  }
  return acc;
}

/**
 * Inclusive prefix sums along the last axis of [rows, n], in one fixed order of plain adds (so
 * every backend rounds the same way): log-step scans within blocks of SCAN_BLOCK, the block
 * totals scanned the same way (recursively), then each block's exclusive offset added.
 */
function scanLast(x: Tensor): Tensor {
  const [rows, n] = x.shape;
  if (n <= SCAN_BLOCK) return scanShort(x);
  const blocks = Math.ceil(n / SCAN_BLOCK);
  const padded = blocks * SCAN_BLOCK === n ? x : concat([x, zeros([rows, blocks * SCAN_BLOCK - n], { backend: x.backend.name })], 1);
  const inner = scanShort(reshape(padded, [rows, blocks, SCAN_BLOCK]));
  const totals = reshape(narrow(inner, 2, SCAN_BLOCK - 1, 1), [rows, blocks]);
  const before = scanLast(totals);
  const offsets = concat([zeros([rows, 1], { backend: x.backend.name }), narrow(before, 1, 0, blocks - 1)], 1);
  const out = binary('add', inner, unsqueeze(offsets, -1));
  return narrow(reshape(out, [rows, blocks * SCAN_BLOCK]), 1, 0, n);
}

/**
 * For each row of `weights` [rows, n] and each uniform of `u` [rows, s]: the category whose
 * CDF interval holds `u * total` (int32 [rows, s]). Zero-weight categories are never picked;
 * a product that rounds up to the total picks the last positive category.
 */
function inverseCdf(weights: Tensor, u: Tensor): Tensor {
  const [rows, n] = weights.shape;
  const cdf = unsqueeze(scanLast(weights), 1); // [rows, 1, n]
  const total = narrow(cdf, 2, n - 1, 1);
  const positions = where(binary('gt', weights, 0), arange(n, undefined, 1, { backend: weights.backend.name }), 0);
  const lastPositive = max(positions, { axis: -1, keepdim: true });
  // The comparisons are [rows, samples, n]: take the samples in chunks of at most 2^24 comparisons.
  const chunk = Math.max(1, Math.floor(COMPARE_CHUNK / Math.max(1, rows * n)));
  const parts: Tensor[] = [];
  for (let s = 0; s < u.shape[1]; s += chunk) {
    const target = binary('mul', unsqueeze(narrow(u, 1, s, Math.min(chunk, u.shape[1] - s)), -1), total); // [rows, c, 1]
    parts.push(sum(binary('le', cdf, target), { axis: -1 }));
  }
  const index = parts.length === 1 ? parts[0] : concat(parts, 1);
  return binary('minimum', index, lastPositive);
}

/**
 * Samples `numSamples` category indices from each row of non-negative `weights` (1-D `[n]` or
 * 2-D `[rows, n]`, not necessarily normalised), like `torch.multinomial`: int32 `[numSamples]`
 * or `[rows, numSamples]`. Without replacement (the default) each category appears at most once
 * per row, so `numSamples <= n`. Seeded by `options.generator`; the same seed gives the same
 * indices on every backend. Weights are not read back: negative, NaN or infinite weights, or
 * rows with fewer positive weights than samples drawn without replacement, give unspecified
 * (but in-range) indices instead of an error.
 *
 * @example
 * ```ts
 * multinomial(tensor([0.1, 0.0, 0.9]), 4, { replacement: true, generator: new Generator(1) }); // e.g. [2, 2, 0, 2]
 * multinomial(logits.softmax(-1), 1); // one token id per row
 * ```
 */
export function multinomial(weights: Tensor, numSamples: number, options?: MultinomialOptions): Tensor {
  commonBackend('multinomial', [weights]);
  const o = checkOptions('multinomial', options, MULTINOMIAL_KEYS);
  const generator = checkGenerator('multinomial', o.generator);
  const replacement = checkBoolean('multinomial', 'replacement', o.replacement) ?? false;
  if (!isFloatDType(weights.dtype)) {
    throw new HeedError('multinomial', `weights must be a float tensor, got ${weights.dtype} ${fmtShape(weights.shape)}.`);
  }
  if (weights.rank !== 1 && weights.rank !== 2) {
    throw new HeedError('multinomial', `weights must be 1-D [n] or 2-D [rows, n], got ${fmtShape(weights.shape)}.`);
  }
  const n = weights.shape[weights.rank - 1];
  if (n === 0) throw new HeedError('multinomial', `weights ${fmtShape(weights.shape)} have no categories to sample from.`);
  checkInt('multinomial', 'numSamples', numSamples, { min: 1 });
  if (!replacement && numSamples > n) {
    throw new HeedError('multinomial', `cannot draw ${numSamples} samples without replacement from ${n} categories ` +
      `(weights ${fmtShape(weights.shape)}); pass { replacement: true } or ask for at most ${n}.`);
  }
  return noGrad(() => tidy(() => {
    const w = weights.rank === 1 ? reshape(weights, [1, n]) : weights;
    const rows = w.shape[0];
    const u = rand([rows, numSamples], { backend: w.backend.name, generator });
    let out: Tensor;
    if (replacement) {
      out = inverseCdf(w, u);
    } else {
      // One draw per step from the remaining weights; a drawn category's weight becomes 0.
      const picks: Tensor[] = [];
      let remaining = w;
      const categories = arange(n, undefined, 1, { backend: w.backend.name });
      for (let s = 0; s < numSamples; s++) {
        const pick = inverseCdf(remaining, narrow(u, 1, s, 1)); // [rows, 1]
        picks.push(pick);
        if (s + 1 < numSamples) remaining = where(binary('eq', categories, pick), 0, remaining);
      }
      out = concat(picks, 1);
    }
    return weights.rank === 1 ? reshape(out, [numSamples]) : out;
  }));
}
