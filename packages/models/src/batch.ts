// SPDX-License-Identifier: MIT
// Turning token-id lists into int32 tensors: right-padding a batch to a common length, and
// the shared config checks of the models.
// Invariants: padded batches are `[N, L]` int32 with `L = max(length)` (or the given length);
// sequences longer than an explicit length are an error, never silently cut.
import { HeedError, checkNumel, describeValue, tensor, type Tensor } from '@heed/core';

/** The largest token id an int32 tensor holds. */
const MAX_ID = 2 ** 31 - 1;

function checkId(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_ID) {
    throw new HeedError('padBatch', `${where} is ${describeValue(v)}; token ids must be integers in 0..${MAX_ID} ` +
      '(fractional ids would be truncated and negative ones would index out of range).');
  }
  return v;
}

/**
 * Right-pads `sequences` with `padId` into an int32 tensor `[N, L]`. Every id (and `padId`)
 * must be a non-negative integer that fits in int32; `length`, if given, a positive integer
 * at least as long as every sequence.
 *
 * @example
 * ```ts
 * await padBatch([[5, 6, 7], [8]], 0).array(); // [[5, 6, 7], [8, 0, 0]]
 * ```
 */
export function padBatch(sequences: readonly (readonly number[])[], padId: number, length?: number): Tensor {
  if (!Array.isArray(sequences)) throw new HeedError('padBatch', `sequences must be an array of arrays of token ids, got ${describeValue(sequences)}.`);
  if (sequences.length === 0) throw new HeedError('padBatch', 'needs at least one sequence.');
  checkId(padId, 'padId');
  sequences.forEach((s: unknown, i) => {
    if (!Array.isArray(s)) throw new HeedError('padBatch', `sequence ${i} must be an array of token ids, got ${describeValue(s)}.`);
    s.forEach((v: unknown, j) => checkId(v, `token ${j} of sequence ${i}`));
  });
  if (length !== undefined && (!Number.isInteger(length) || length <= 0)) {
    throw new HeedError('padBatch', `length must be a positive integer, got ${describeValue(length)}.`);
  }
  const L = length ?? Math.max(1, ...sequences.map((s) => s.length));
  checkNumel('padBatch', [sequences.length, L]);
  const data = new Int32Array(sequences.length * L).fill(padId);
  sequences.forEach((s, i) => {
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
