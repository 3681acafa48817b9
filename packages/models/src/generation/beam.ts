// SPDX-License-Identifier: MIT
// Batched beam search over any incremental decoder: the model supplies a `BeamStepper`
// (next-token log-probabilities for each row, and a way to reorder its per-row state such as
// kv-caches); this file keeps the hypotheses. Rows are laid out source-major: row n*K + j is
// beam j of source n.
// Invariants: beam 1 is exactly greedy decoding (same argmax tie rule: lowest id, then lowest
// beam); an EOS candidate is finished only if it ranks within the top K of its step (as in
// Hugging Face); a source is done once it has K finished hypotheses and the best alive beam
// cannot beat the K-th of them (exact with lengthPenalty 0, the default; Hugging Face's bound
// at the current length otherwise); at maxLen the alive beams are finished as they are.
// Scores are summed log-probabilities divided by length^lengthPenalty (length counts the
// generated tokens, EOS included).
import { HeedError } from '@heed/core';

/**
 * What {@link beamSearch} needs from a model.
 *
 * @example
 * ```ts
 * const stepper: BeamStepper = {
 *   vocabSize: 10,
 *   async step(tokens, position) { return logProbsFor(tokens, position); }, // Float32Array [rows * vocabSize]
 *   reorder(index) { reorderCaches(index); },
 * };
 * ```
 */
export interface BeamStepper {
  /** Size of the last axis of the log-probabilities. */
  readonly vocabSize: number;
  /** Log-probabilities `[rows * vocabSize]` of the next token after each row's `tokens[row]` at `position` (0-based). */
  step(tokens: readonly number[], position: number): Promise<Float32Array>;
  /** Makes row `i` continue from the state of row `index[i]` (e.g. reorder kv-caches). */
  reorder(index: readonly number[]): void;
}

/**
 * Options of {@link beamSearch}.
 *
 * @example
 * ```ts
 * const o: BeamSearchOptions = { batchSize: 2, beamSize: 4, bosId: 1, eosId: 2, maxLen: 20, lengthPenalty: 0 };
 * ```
 */
export interface BeamSearchOptions {
  /** Number of sources N (rows = N * beamSize). */
  batchSize: number;
  /** Beams per source K. */
  beamSize: number;
  /** First token fed to every row. */
  bosId: number;
  /** End-of-sequence token. */
  eosId: number;
  /** Maximum number of generated tokens (EOS included). */
  maxLen: number;
  /** Exponent of the length normalisation (default 0 = raw log-probability). */
  lengthPenalty?: number;
  /** Stop a source as soon as it has K finished hypotheses (Hugging Face's early_stopping=True; default false). */
  earlyStopping?: boolean;
}

/**
 * One finished hypothesis.
 *
 * @example
 * ```ts
 * const h: BeamHypothesis = { tokens: [5, 7], score: -0.3, logProb: -0.9 };
 * ```
 */
export interface BeamHypothesis {
  /** Generated tokens without BOS and without the final EOS. */
  tokens: number[];
  /** Length-normalised score used for ranking. */
  score: number;
  /** Sum of the log-probabilities (EOS included when it ended the hypothesis). */
  logProb: number;
}

interface Beam {
  tokens: number[];
  logProb: number;
}

/** The `count` best (value, index) of row `r` (value desc, index asc). */
function topOfRow(lp: Float32Array, offset: number, V: number, count: number): [number, number][] {
  const best: [number, number][] = [];
  for (let v = 0; v < V; v++) {
    const x = lp[offset + v];
    if (best.length === count && x <= best[count - 1][0]) continue;
    let i = best.length;
    while (i > 0 && best[i - 1][0] < x) i--;
    best.splice(i, 0, [x, v]);
    if (best.length > count) best.pop();
  }
  return best;
}

/**
 * Runs beam search and returns, for each source, its hypotheses best first.
 *
 * @example
 * ```ts
 * const results = await beamSearch(stepper, { batchSize: 1, beamSize: 4, bosId: 1, eosId: 2, maxLen: 16 });
 * results[0][0].tokens; // the best hypothesis of source 0
 * ```
 */
export async function beamSearch(stepper: BeamStepper, options: BeamSearchOptions): Promise<BeamHypothesis[][]> {
  const { batchSize: N, beamSize: K, bosId, eosId, maxLen } = options;
  const alpha = options.lengthPenalty ?? 0;
  for (const [name, v] of [['batchSize', N], ['beamSize', K], ['maxLen', maxLen]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new HeedError('beamSearch', `${name} must be a positive integer, got ${v}.`);
  }
  const V = stepper.vocabSize;
  const norm = (logProb: number, length: number) => logProb / Math.pow(length, alpha);
  const alive: Beam[][] = Array.from({ length: N }, () =>
    Array.from({ length: K }, (_, j) => ({ tokens: [], logProb: j === 0 ? 0 : -Infinity })));
  const finished: BeamHypothesis[][] = Array.from({ length: N }, () => []);
  const done = new Array<boolean>(N).fill(false);
  for (let pos = 0; pos < maxLen && done.some((d) => !d); pos++) {
    const last = alive.flatMap((beams) => beams.map((b) => (b.tokens.length ? b.tokens[b.tokens.length - 1] : bosId)));
    const lp = await stepper.step(last, pos);
    const index: number[] = [];
    for (let n = 0; n < N; n++) {
      if (done[n]) {
        for (let j = 0; j < K; j++) index.push(n * K + j);
        continue;
      }
      const cands: { logProb: number; beam: number; token: number }[] = [];
      for (let j = 0; j < K; j++) {
        const b = alive[n][j];
        if (b.logProb === -Infinity) continue;
        for (const [x, v] of topOfRow(lp, (n * K + j) * V, V, 2 * K)) cands.push({ logProb: b.logProb + x, beam: j, token: v });
      }
      cands.sort((a, b) => b.logProb - a.logProb || a.beam - b.beam || a.token - b.token);
      const next: Beam[] = [];
      const parents: number[] = [];
      for (let rank = 0; rank < cands.length && next.length < K; rank++) {
        const c = cands[rank];
        const tokens = [...alive[n][c.beam].tokens, c.token];
        if (c.token === eosId) {
          if (rank < K) finished[n].push({ tokens: tokens.slice(0, -1), logProb: c.logProb, score: norm(c.logProb, tokens.length) });
        } else {
          next.push({ tokens, logProb: c.logProb });
          parents.push(c.beam);
        }
      }
      while (next.length < K) {
        next.push({ tokens: [...alive[n][0].tokens, eosId], logProb: -Infinity });
        parents.push(0);
      }
      alive[n] = next;
      for (let j = 0; j < K; j++) index.push(n * K + parents[j]);
      // Done once K hypotheses finished and no alive beam can beat the K-th best of them
      // (exact for lengthPenalty 0, Hugging Face's bound at the current length otherwise).
      if (finished[n].length >= K) {
        finished[n].sort((a, b) => b.score - a.score);
        const bound = next[0].logProb === -Infinity ? -Infinity : norm(next[0].logProb, pos + 1);
        if (options.earlyStopping || bound <= finished[n][K - 1].score) done[n] = true;
      }
    }
    stepper.reorder(index);
  }
  return finished.map((f, n) => {
    const all = done[n] ? f : [
      ...f,
      ...alive[n].filter((b) => b.logProb > -Infinity).map((b) => ({ tokens: b.tokens, logProb: b.logProb, score: norm(b.logProb, b.tokens.length) })),
    ];
    return all.sort((a, b) => b.score - a.score).slice(0, K);
  });
}
