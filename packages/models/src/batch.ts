// SPDX-License-Identifier: MIT
// Turning token-id lists into int32 tensors: right-padding a batch to a common length, and
// the shared config checks of the models.
// Invariants: padded batches are `[N, L]` int32 with `L = max(length)` (or the given length);
// sequences longer than an explicit length are an error, never silently cut.
import { HeedError, tensor, type Tensor } from '@heed/core';

/**
 * Right-pads `sequences` with `padId` into an int32 tensor `[N, L]`.
 *
 * @example
 * ```ts
 * await padBatch([[5, 6, 7], [8]], 0).array(); // [[5, 6, 7], [8, 0, 0]]
 * ```
 */
export function padBatch(sequences: readonly (readonly number[])[], padId: number, length?: number): Tensor {
  if (sequences.length === 0) throw new HeedError('padBatch', 'needs at least one sequence.');
  const L = length ?? Math.max(1, ...sequences.map((s) => s.length));
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
