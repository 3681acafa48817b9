// SPDX-License-Identifier: MIT
// Bucketing for compiled steps: variable lengths (sequence lengths) padded up to a few bucket
// lengths, so a compiled function sees a few input shapes (one trace each, within its
// `maxTraces`) instead of one per length. Invariant: buckets are ascending positive integers;
// the padding is appended at the end of the axis (mask it, e.g. with a padding id or -inf).
import { HeedError } from '../errors.js';
import { concat } from '../ops/join.js';
import { full } from '../ops/creation.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';

function checkBuckets(op: string, buckets: readonly number[]): void {
  if (buckets.length === 0 || buckets.some((b, i) => !Number.isInteger(b) || b < 1 || (i > 0 && b <= buckets[i - 1]))) {
    throw new HeedError(op, `buckets must be ascending positive integers, got [${buckets.join(', ')}].`);
  }
}

/**
 * The smallest of `buckets` (ascending lengths) that holds `length`.
 *
 * @example
 * ```ts
 * bucketLength(37, [32, 64, 128]); // 64
 * ```
 */
export function bucketLength(length: number, buckets: readonly number[]): number {
  checkBuckets('bucketLength', buckets);
  for (const b of buckets) if (b >= length) return b;
  throw new HeedError('bucketLength', `length ${length} exceeds the largest bucket ${buckets[buckets.length - 1]}; add a larger bucket.`);
}

/**
 * `x` padded with `value` at the end of `axis` up to the smallest of `buckets` that holds its
 * length there (`x` itself, not a copy, when it already has a bucket length). Pass the result
 * to a compiled step so every batch has one of a few shapes.
 *
 * @example
 * ```ts
 * const step = compile((ids: Tensor, targets: Tensor) => trainStep(ids, targets));
 * const ids = padToBucket(batchIds, 1, [16, 32, 64], PAD_ID);        // [B, 37] -> [B, 64]
 * const targets = padToBucket(batchTargets, 1, [16, 32, 64], IGNORE); // masked in the loss
 * const loss = step(ids, targets);
 * ```
 */
export function padToBucket(x: Tensor, axis: number, buckets: readonly number[], value = 0): Tensor {
  checkBuckets('padToBucket', buckets);
  const a = normalizeAxis(axis, x.rank, 'padToBucket');
  const n = x.shape[a];
  const target = bucketLength(n, buckets);
  if (target === n) return x;
  const shape = [...x.shape];
  shape[a] = target - n;
  const pad = full(shape, value, { dtype: x.dtype, backend: x.backend.name });
  try {
    return concat([x, pad], a);
  } finally {
    pad.dispose();
  }
}
