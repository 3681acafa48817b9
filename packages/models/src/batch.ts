// SPDX-License-Identifier: MIT
// Turning token-id lists into int32 tensors: right-padding a batch to a common length, and
// the shared config checks of the models. Ids may be numbers or bigints (int64 ids from
// datasets: arrays of bigint, BigInt64Array), range-checked into int32.
// Invariants: padded batches are `[N, L]` int32 with `L = max(length)` (or the given length);
// sequences longer than an explicit length are an error, never silently cut.
import { HeedError, checkNumel, describeValue, tensor, type Tensor } from '@heed/core';

/** The largest token id an int32 tensor holds. */
const MAX_ID = 2 ** 31 - 1;

function checkId(v: unknown, where: string): number {
  if (typeof v === 'bigint' && v >= 0n && v <= BigInt(MAX_ID)) return Number(v);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID) {
    throw new HeedError('padBatch', `${where} is ${describeValue(v)}; token ids must be integers in 0..${MAX_ID} ` +
      '(fractional ids would be truncated and negative ones would index out of range).');
  }
  return v;
}

/**
 * Token ids of one sequence accepted by {@link padBatch}: numbers, or int64 ids as bigints
 * (an array of bigint, a BigInt64Array) or an Int32Array.
 *
 * @example
 * ```ts
 * const s: SequenceIds = new BigInt64Array([5n, 6n]);
 * ```
 */
export type SequenceIds = readonly number[] | readonly bigint[] | Int32Array | BigInt64Array;

/**
 * Right-pads `sequences` with `padId` into an int32 tensor `[N, L]`. Every id (and `padId`)
 * must be a non-negative integer that fits in int32 (bigints, e.g. int64 ids from a dataset,
 * are range-checked, never wrapped); `length`, if given, a positive integer at least as long
 * as every sequence.
 *
 * @example
 * ```ts
 * await padBatch([[5, 6, 7], [8]], 0).array(); // [[5, 6, 7], [8, 0, 0]]
 * await padBatch([new BigInt64Array([5n, 6n]), [7n]], 0n).array(); // [[5, 6], [7, 0]]
 * ```
 */
export function padBatch(sequences: readonly SequenceIds[], padId: number | bigint, length?: number): Tensor {
  if (!Array.isArray(sequences)) throw new HeedError('padBatch', `sequences must be an array of arrays of token ids, got ${describeValue(sequences)}.`);
  if (sequences.length === 0) throw new HeedError('padBatch', 'needs at least one sequence.');
  const pad = checkId(padId, 'padId');
  const ids = sequences.map((s: unknown, i) => {
    if (!Array.isArray(s) && !(s instanceof Int32Array) && !(s instanceof BigInt64Array)) {
      throw new HeedError('padBatch', `sequence ${i} must be an array (or Int32Array / BigInt64Array) of token ids, got ${describeValue(s)}.`);
    }
    return Array.from(s as ArrayLike<unknown>, (v, j) => checkId(v, `token ${j} of sequence ${i}`));
  });
  if (length !== undefined && (!Number.isInteger(length) || length <= 0)) {
    throw new HeedError('padBatch', `length must be a positive integer, got ${describeValue(length)}.`);
  }
  const L = length ?? Math.max(1, ...ids.map((s) => s.length));
  checkNumel('padBatch', [sequences.length, L]);
  const data = new Int32Array(sequences.length * L).fill(pad);
  ids.forEach((s, i) => {
    if (s.length > L) throw new HeedError('padBatch', `sequence ${i} has ${s.length} tokens, more than the length ${L}.`);
    data.set(s, i * L);
  });
  return tensor(data, { shape: [sequences.length, L], dtype: 'int32' });
}

/**
 * Throws unless each value is a positive integer (model config checks).
 *
 * @example
 * ```ts
 * checkPositiveInts('GPT', { vocabSize: 100, dModel: 64 });
 * ```
 */
export function checkPositiveInts(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (!Number.isInteger(v) || v <= 0) throw new HeedError(op, `${name} must be a positive integer, got ${v}.`);
  }
}

/**
 * Throws unless `dModel` is divisible by `nhead` and `dropout` is a probability.
 *
 * @example
 * ```ts
 * checkAttentionConfig('GPT', 64, 4, 0.1);
 * ```
 */
export function checkAttentionConfig(op: string, dModel: number, nhead: number, dropout: number): void {
  if (dModel % nhead !== 0) throw new HeedError(op, `dModel (${dModel}) must be divisible by nhead (${nhead}).`);
  if (!(dropout >= 0 && dropout < 1)) throw new HeedError(op, `dropout must be in [0, 1), got ${dropout}.`);
}
