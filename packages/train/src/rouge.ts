// SPDX-License-Identifier: MIT
// ROUGE, the summarization metric (Lin, 2004), with the definitions of Google's `rouge-score`
// package: ROUGE-N counts the n-grams a prediction shares with its reference (each shared
// n-gram at most as often as it occurs in either), ROUGE-L uses their longest common
// subsequence of tokens; each gives precision (over the prediction), recall (over the
// reference) and their harmonic mean F1. A corpus score is the mean of the per-pair scores.
// Tokens: lowercased runs of Unicode letters and digits. For ASCII text that is exactly
// rouge-score's default tokenizer (no stemming); rouge-score would delete accented letters
// (it keeps only [a-z0-9]), which would make the metric meaningless in German or Spanish.
// Invariants: scores are in [0, 1]; an empty prediction or reference scores 0 (as rouge-score).
import { HeedError } from '@heed/core';

/**
 * Precision, recall and F1 of one ROUGE variant, each in [0, 1].
 *
 * @example
 * ```ts
 * const s: RougeScore = rouge('the cat sat', 'the cat ran').rouge1; // { precision: 2/3, recall: 2/3, f1: 2/3 }
 * ```
 */
export interface RougeScore {
  /** Matches over the prediction's n-grams (or tokens, for ROUGE-L). */
  precision: number;
  /** Matches over the reference's n-grams (or tokens, for ROUGE-L). */
  recall: number;
  /** Harmonic mean of precision and recall (0 when both are 0). */
  f1: number;
}

/**
 * ROUGE-1 (unigrams), ROUGE-2 (bigrams) and ROUGE-L (longest common subsequence) of one
 * prediction, or the means over a corpus.
 *
 * @example
 * ```ts
 * const { rouge1, rouge2, rougeL }: RougeScores = rouge('Berlin: sun, 25 degrees', 'Berlin: rain, 25 degrees');
 * ```
 */
export interface RougeScores {
  rouge1: RougeScore;
  rouge2: RougeScore;
  rougeL: RougeScore;
}

const TOKEN = /[\p{L}\p{N}]+/gu;
const VARIANTS = ['rouge1', 'rouge2', 'rougeL'] as const satisfies readonly (keyof RougeScores)[];

/**
 * The tokens ROUGE compares: lowercased runs of Unicode letters and digits (punctuation and
 * spaces separate tokens and are dropped).
 *
 * @example
 * ```ts
 * rougeTokens('München: Regen, 12 Grad!'); // ['münchen', 'regen', '12', 'grad']
 * ```
 */
export function rougeTokens(text: string): string[] {
  if (typeof text !== 'string') throw new HeedError('rougeTokens', `expected a string, got ${typeof text}.`);
  return text.toLowerCase().match(TOKEN) ?? [];
}

function score(matches: number, predicted: number, reference: number): RougeScore {
  const precision = predicted > 0 ? matches / predicted : 0;
  const recall = reference > 0 ? matches / reference : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join('\u0000');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * ROUGE-N of token lists: shared n-grams (clipped counts) over the prediction's and the
 * reference's n-gram counts.
 *
 * @example
 * ```ts
 * rougeN(['a', 'b', 'c'], ['a', 'b', 'd'], 2); // { precision: 0.5, recall: 0.5, f1: 0.5 }
 * ```
 */
export function rougeN(prediction: readonly string[], reference: readonly string[], n: number): RougeScore {
  if (!Number.isInteger(n) || n < 1) throw new HeedError('rougeN', `n must be a positive integer, got ${String(n)}.`);
  const p = ngramCounts(prediction, n);
  const r = ngramCounts(reference, n);
  let matches = 0;
  for (const [key, count] of p) matches += Math.min(count, r.get(key) ?? 0);
  return score(matches, Math.max(0, prediction.length - n + 1), Math.max(0, reference.length - n + 1));
}

/**
 * Length of the longest common subsequence of two token lists (dynamic programming, O(m n)).
 *
 * @example
 * ```ts
 * lcsLength(['a', 'b', 'c', 'd'], ['a', 'c', 'b', 'd']); // 3
 * ```
 */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  let cur = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/**
 * ROUGE-L of token lists: the longest common subsequence over the prediction's and the
 * reference's lengths (rouge-score's sentence-level `rougeL`).
 *
 * @example
 * ```ts
 * rougeL(['a', 'b', 'c', 'd'], ['a', 'c', 'b', 'd']); // { precision: 0.75, recall: 0.75, f1: 0.75 }
 * ```
 */
export function rougeL(prediction: readonly string[], reference: readonly string[]): RougeScore {
  return score(lcsLength(prediction, reference), prediction.length, reference.length);
}

/**
 * ROUGE-1, ROUGE-2 and ROUGE-L of one prediction against its reference text.
 *
 * @example
 * ```ts
 * rouge('police kill the gunman', 'police killed the gunman').rougeL.f1; // 0.75
 * ```
 */
export function rouge(prediction: string, reference: string): RougeScores {
  const p = rougeTokens(prediction);
  const r = rougeTokens(reference);
  return { rouge1: rougeN(p, r, 1), rouge2: rougeN(p, r, 2), rougeL: rougeL(p, r) };
}

/**
 * Mean ROUGE-1/2/L (precision, recall and F1 each averaged over the pairs) of predictions
 * against their references, one reference per prediction.
 *
 * @example
 * ```ts
 * const s = corpusRouge(['berlin: sun, 25 degrees'], ['Berlin: rain, 25 degrees']);
 * s.rougeL.f1; // 0.75
 * ```
 */
export function corpusRouge(predictions: readonly string[], references: readonly string[]): RougeScores {
  if (predictions.length !== references.length || predictions.length === 0) {
    throw new HeedError('corpusRouge', `needs one reference per prediction and at least one pair, got ${predictions.length} predictions and ${references.length} references.`);
  }
  const sum: RougeScores = { rouge1: score(0, 0, 0), rouge2: score(0, 0, 0), rougeL: score(0, 0, 0) };
  predictions.forEach((p, i) => {
    const s = rouge(p, references[i]);
    for (const k of VARIANTS) {
      sum[k].precision += s[k].precision;
      sum[k].recall += s[k].recall;
      sum[k].f1 += s[k].f1;
    }
  });
  const n = predictions.length;
  for (const k of VARIANTS) sum[k] = { precision: sum[k].precision / n, recall: sum[k].recall / n, f1: sum[k].f1 / n };
  return sum;
}
