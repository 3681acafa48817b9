// SPDX-License-Identifier: MIT
// Hugging Face's logits processors for generation, on one row of next-token scores on the host:
// repetition penalty, min length / min new tokens (eos suppressed), and, when sampling, the
// warpers temperature, top-k, top-p and min-p, applied in the order HF's generate() builds them
// (`_get_logits_processor`), then the softmax the next token is drawn from.
// Invariants: scores are float32 and every step rounds to float32 as torch does on float32
// tensors; removed tokens get -Infinity; top-k keeps ties at the k-th value; top-p and min-p
// always keep the most likely token (HF's min_tokens_to_keep = 1). Heed's own GPT keeps its
// float64 sampler (generation/sampling.ts); this file is the Hugging Face-exact one.
import { HeedError } from '@heed/core';
import { drawIndex } from '../generation/sampling.js';

/**
 * The resolved processing settings of one generation (HF's `GenerationConfig` fields in camelCase).
 *
 * @example
 * ```ts
 * const s: LogitsProcessorSettings = { doSample: true, temperature: 0.7, topK: 50, topP: 0.9, repetitionPenalty: 1.2 };
 * ```
 */
export interface LogitsProcessorSettings {
  /** Apply the sampling warpers (temperature, top-k, top-p, min-p). */
  doSample?: boolean;
  /** Divide the scores by this (> 0; 1 = off). */
  temperature?: number;
  /** Keep the k highest scores (0 = off). */
  topK?: number;
  /** Keep the smallest most-likely set with probability >= topP (1 = off). */
  topP?: number;
  /** Keep tokens with probability >= minP times the largest (undefined = off). */
  minP?: number;
  /** Scores of tokens already in the row: positive divided, negative multiplied by this (1 = off). */
  repetitionPenalty?: number;
  /** Minimum total length (prompt included): eos is suppressed below it. */
  minLength?: number;
  /** Minimum number of new tokens: eos is suppressed below it. */
  minNewTokens?: number;
  /** The end-of-sequence ids suppressed by the min lengths. */
  eosTokenIds?: readonly number[];
}

/**
 * Where a row stands: its ids so far (prompt included, padding too, as HF sees them) and the
 * prompt's length.
 *
 * @example
 * ```ts
 * const r: RowState = { ids: [5, 17, 9, 38], promptLength: 3 };
 * ```
 */
export interface RowState {
  /** Every id of the row so far (prompt + generated). */
  readonly ids: ArrayLike<number>;
  /** The prompt's length (the padded input width). */
  readonly promptLength: number;
}

/**
 * The names of the processors HF would build for `settings`, in order (for messages and tests).
 *
 * @example
 * ```ts
 * processorNames({ doSample: true, temperature: 0.7, topK: 50 }); // ['TemperatureLogitsWarper', 'TopKLogitsWarper']
 * ```
 */
export function processorNames(settings: LogitsProcessorSettings): string[] {
  const s = settings;
  const names: string[] = [];
  const eos = (s.eosTokenIds?.length ?? 0) > 0;
  if (s.repetitionPenalty !== undefined && s.repetitionPenalty !== 1) names.push('RepetitionPenaltyLogitsProcessor');
  if (eos && (s.minLength ?? 0) > 0) names.push('MinLengthLogitsProcessor');
  if (eos && (s.minNewTokens ?? 0) > 0) names.push('MinNewTokensLengthLogitsProcessor');
  if (s.doSample) {
    if (s.temperature !== undefined && s.temperature !== 1) names.push('TemperatureLogitsWarper');
    if (s.topK !== undefined && s.topK !== 0) names.push('TopKLogitsWarper');
    if (s.topP !== undefined && s.topP < 1) names.push('TopPLogitsWarper');
    if (s.minP !== undefined) names.push('MinPLogitsWarper');
  }
  return names;
}

/**
 * Float64 softmax of a row of scores (-Infinity gives probability 0).
 *
 * @example
 * ```ts
 * softmaxRow(Float32Array.from([0, -Infinity, 0])); // [0.5, 0, 0.5]
 * ```
 */
export function softmaxRow(scores: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  const p = new Float64Array(scores.length);
  if (max === -Infinity) throw new HeedError('generate', 'every token was filtered out of the next-token distribution (all scores are -Infinity).');
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    p[i] = Math.exp(scores[i] - max);
    sum += p[i];
  }
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

function suppress(scores: Float32Array, ids: readonly number[] | undefined): void {
  for (const id of ids ?? []) if (id >= 0 && id < scores.length) scores[id] = -Infinity;
}

function topK(scores: Float32Array, k: number): void {
  const V = scores.length;
  const kk = Math.min(Math.max(k, 1), V);
  const kth = Float32Array.from(scores).sort()[V - kk]; // ascending: the k-th largest value
  for (let i = 0; i < V; i++) if (scores[i] < kth) scores[i] = -Infinity;
}

function topP(scores: Float32Array, p: number): void {
  const V = scores.length;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b); // ascending
  const probs = softmaxRow(scores);
  const limit = Math.fround(1 - p);
  let cumulative = 0;
  for (let r = 0; r < V - 1; r++) { // the last (most likely) token is always kept
    const i = order[r];
    cumulative = Math.fround(cumulative + Math.fround(probs[i]));
    if (cumulative <= limit) scores[i] = -Infinity;
  }
}

function minP(scores: Float32Array, m: number): void {
  const probs = softmaxRow(scores);
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
  const cut = Math.fround(m) * probs[best];
  for (let i = 0; i < probs.length; i++) if (i !== best && probs[i] < cut) scores[i] = -Infinity;
}

/**
 * Applies HF's logits processors for `settings` to one row of next-token `scores` in place
 * (float32, `[vocab]`) and returns it.
 *
 * @example
 * ```ts
 * const row = Float32Array.from([2, -1, 0.5, 3]);
 * processLogits(row, { ids: [0, 1], promptLength: 2 }, { repetitionPenalty: 2 }); // [1, -2, 0.5, 3]
 * ```
 */
export function processLogits(scores: Float32Array, row: RowState, settings: LogitsProcessorSettings): Float32Array {
  const s = settings;
  const V = scores.length;
  const length = row.ids.length;
  if (s.repetitionPenalty !== undefined && s.repetitionPenalty !== 1) {
    const penalty = Math.fround(s.repetitionPenalty);
    const seen = new Set<number>();
    for (let j = 0; j < length; j++) {
      const id = row.ids[j];
      if (id < 0 || id >= V || seen.has(id)) continue;
      seen.add(id);
      const v = scores[id];
      scores[id] = v < 0 ? v * penalty : v / penalty;
    }
  }
  if (length < (s.minLength ?? 0)) suppress(scores, s.eosTokenIds as number[] | undefined);
  if (length - row.promptLength < (s.minNewTokens ?? 0)) suppress(scores, s.eosTokenIds as number[] | undefined);
  if (!s.doSample) return scores;
  if (s.temperature !== undefined && s.temperature !== 1) {
    const t = Math.fround(s.temperature);
    for (let i = 0; i < V; i++) scores[i] = scores[i] / t;
  }
  if (s.topK !== undefined && s.topK !== 0) topK(scores, s.topK);
  if (s.topP !== undefined && s.topP < 1) topP(scores, s.topP);
  if (s.minP !== undefined) minP(scores, s.minP);
  return scores;
}

/**
 * Draws a token from the softmax of processed `scores` with the uniform number `u` in [0, 1)
 * (inverse CDF; tokens of probability 0 are never drawn).
 *
 * @example
 * ```ts
 * sampleScores(Float32Array.from([0, -Infinity, 0]), 0.75); // 2
 * ```
 */
export function sampleScores(scores: ArrayLike<number>, u: number): number {
  return drawIndex(softmaxRow(scores), u);
}
