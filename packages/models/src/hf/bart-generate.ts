// SPDX-License-Identifier: MIT
// Hugging Face's `generate()` for encoder-decoder models (BART): the encoder runs once, the
// decoder steps with its kv-cache, greedy decoding (`numBeams` 1) or beam search through the
// shared beam search of generation/beam.ts, with HF's logits processors for seq2seq: repetition
// penalty and min lengths (logits-process.ts), no-repeat n-grams, forced BOS after the decoder
// start and forced EOS at the last position.
// Invariants: settings resolve as HF does (call options > generation_config.json > HF
// defaults: max_length 20, length_penalty 1, early_stopping false); `maxNewTokens` counts decoder
// tokens after the start token; outputs are HF's `sequences`: start token first, finished rows
// padded with pad_token_id; beam search equals HF's for early_stopping true/false (not "never").
// Runs in eval mode under noGrad and restores the training flag; no tensor outlives the call.
import { HeedError, noGrad, tensor, tidy, keep, type Tensor } from '@heed/core';
import { withEval } from '@heed/nn';
import { beamSearch } from '../generation/beam.js';
import { disposeEncoderDecoderCache, type EncoderDecoderCache } from './bart-config.js';
import type { BartForConditionalGeneration } from './bart-model.js';
import type { TokenIdField } from './config.js';
import { processLogits, processorNames, type LogitsProcessorSettings } from './logits-process.js';

/**
 * Options of {@link BartForConditionalGeneration.generate} (HF's `generate()` keywords in
 * camelCase; unset ones come from `generationConfig`).
 *
 * @example
 * ```ts
 * const o: Seq2SeqGenerateOptions = { attentionMask, maxNewTokens: 40, numBeams: 4, lengthPenalty: 2, noRepeatNgramSize: 3, earlyStopping: true };
 * ```
 */
export interface Seq2SeqGenerateOptions {
  /** `[B, S]` 0/1 source mask. */
  attentionMask?: Tensor;
  /** New decoder tokens at most (after the start token). */
  maxNewTokens?: number;
  /** Decoder length at most, start token included (HF's max_length; default 20). */
  maxLength?: number;
  /** EOS is suppressed while the decoder length is below this. */
  minLength?: number;
  /** EOS is suppressed until this many tokens were generated. */
  minNewTokens?: number;
  /** Beams (1 = greedy). */
  numBeams?: number;
  /** Beam score = log-probability / length^lengthPenalty (default 1). */
  lengthPenalty?: number;
  /** Beam search stops a row once it has numBeams finished hypotheses (default false: HF's heuristic). */
  earlyStopping?: boolean;
  /** No n-gram of this size appears twice (0 = off). */
  noRepeatNgramSize?: number;
  /** HF's repetition penalty (1 = off). */
  repetitionPenalty?: number;
  /** Token forced right after the decoder start token (null = none). */
  forcedBosTokenId?: number | null;
  /** Token forced at the last position (null = none). */
  forcedEosTokenId?: number | null;
  /** First decoder token. */
  decoderStartTokenId?: number;
  /** End-of-sequence id(s). */
  eosTokenId?: number | number[];
  /** Padding id of finished rows. */
  padTokenId?: number;
}

interface Resolved {
  maxLength: number; numBeams: number; lengthPenalty: number; earlyStopping: boolean; noRepeat: number; forcedBos: number | null;
  forcedEos: number | null; start: number; eos: number[]; pad: number; processors: LogitsProcessorSettings;
}

const OP = 'BartForConditionalGeneration.generate';

function ids(v: TokenIdField | undefined): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v : [v];
}

function resolve(model: BartForConditionalGeneration, o: Seq2SeqGenerateOptions): Resolved {
  const g = model.generationConfig;
  const c = model.config;
  if (g.do_sample === true) throw new HeedError(OP, 'generation_config.json asks for sampling (do_sample); seq2seq generation supports greedy and beam search only.');
  const first = (...vs: (TokenIdField | number[] | undefined)[]) => vs.map((v) => ids(v)).find((v) => v !== undefined);
  const eos = first(o.eosTokenId, g.eos_token_id, c.eos_token_id) ?? [];
  const one = (name: string, v: number[] | undefined, fallback: number | null): number | null => {
    if (v === undefined) return fallback;
    if (v.length !== 1 || !Number.isInteger(v[0]) || v[0] < 0) throw new HeedError(OP, `${name} must be one token id, got ${JSON.stringify(v)}.`);
    return v[0];
  };
  const start = one('decoder_start_token_id', first(o.decoderStartTokenId, g.decoder_start_token_id, c.decoder_start_token_id), model.model.decoderStartTokenId) as number;
  const pad = one('pad_token_id', first(o.padTokenId, g.pad_token_id, c.pad_token_id), eos[0] ?? 0) as number;
  const forcedBos = o.forcedBosTokenId === null ? null : one('forced_bos_token_id', first(o.forcedBosTokenId, g.forced_bos_token_id, c.forced_bos_token_id), null);
  const forcedEos = o.forcedEosTokenId === null ? null : one('forced_eos_token_id', first(o.forcedEosTokenId, g.forced_eos_token_id, c.forced_eos_token_id), null);
  const maxNew = o.maxNewTokens ?? (o.maxLength === undefined ? g.max_new_tokens : undefined);
  const maxLength = maxNew !== undefined ? 1 + maxNew : (o.maxLength ?? g.max_length ?? 20);
  const numBeams = o.numBeams ?? g.num_beams ?? 1;
  const early = o.earlyStopping ?? g.early_stopping ?? false;
  if (early !== true && early !== false) throw new HeedError(OP, `early_stopping ${JSON.stringify(early)} is not supported; use true or false.`);
  for (const [name, v, min] of [['maxLength', maxLength, 2], ['numBeams', numBeams, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new HeedError(OP, `${name} must be an integer >= ${min}, got ${v}.`);
  }
  const noRepeat = o.noRepeatNgramSize ?? g.no_repeat_ngram_size ?? 0;
  if (!Number.isInteger(noRepeat) || noRepeat < 0) throw new HeedError(OP, `noRepeatNgramSize must be a non-negative integer, got ${noRepeat}.`);
  return {
    maxLength, numBeams, lengthPenalty: o.lengthPenalty ?? g.length_penalty ?? 1, earlyStopping: early, noRepeat, forcedBos, forcedEos,
    start, eos, pad, processors: {
      repetitionPenalty: o.repetitionPenalty ?? g.repetition_penalty, minLength: o.minLength ?? g.min_length,
      minNewTokens: o.minNewTokens ?? g.min_new_tokens, eosTokenIds: eos,
    },
  };
}

/**
 * HF's NoRepeatNGramLogitsProcessor on one row: bans every token that would complete an
 * n-gram already in `row` (the decoder ids so far, start token included).
 *
 * @example
 * ```ts
 * noRepeatNgram(scores, [2, 5, 7, 5], 2); // scores[7] = -Infinity
 * ```
 */
export function noRepeatNgram(scores: Float32Array, row: readonly number[], n: number): Float32Array {
  const len = row.length;
  if (n <= 0 || len + 1 < n) return scores;
  const prefixStart = len - n + 1;
  for (let i = 0; i + n <= len; i++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = row[i + j] === row[prefixStart + j];
    if (same && row[i + n - 1] < scores.length) scores[row[i + n - 1]] = -Infinity;
  }
  return scores;
}

/** Every score -Infinity except `token`'s, which becomes 0 (HF's forced BOS/EOS). */
function force(scores: Float32Array, token: number): void {
  scores.fill(-Infinity);
  if (token < scores.length) scores[token] = 0;
}

/** All of HF's processors for one row of scores, in place. */
function processRow(scores: Float32Array, row: readonly number[], r: Resolved, active: boolean): void {
  if (active) processLogits(scores, { ids: row, promptLength: 1 }, r.processors);
  if (r.noRepeat > 0) noRepeatNgram(scores, row, r.noRepeat);
  const curLen = row.length;
  if (r.forcedBos !== null && curLen === 1) force(scores, r.forcedBos);
  if (r.forcedEos !== null && curLen === r.maxLength - 1) force(scores, r.forcedEos);
}

/** A decoder session over fixed encoder outputs: one step = one token per row, with the cache. */
function session(model: BartForConditionalGeneration, memory: Tensor, mask: Tensor | undefined) {
  let cache: EncoderDecoderCache | undefined;
  const V = model.lmHead.outFeatures;
  return {
    async step(last: readonly number[], logSoftmax: boolean): Promise<Float32Array> {
      const scores = noGrad(() => tidy(() => {
        const dec = tensor(Int32Array.from(last), { shape: [last.length, 1], dtype: 'int32', backend: memory.backend.name });
        const out = model.forward(null, { encoderOutputs: { lastHiddenState: memory }, attentionMask: mask, decoderInputIds: dec, pastKeyValues: cache, useCache: true });
        disposeEncoderDecoderCache(cache);
        cache = out.pastKeyValues;
        if (cache) for (const kv of [...cache.selfAttention.layers, ...cache.crossAttention.layers]) { keep(kv.key); keep(kv.value); }
        const logits = out.logits.reshape([last.length, V]);
        return logSoftmax ? logits.logSoftmax(-1) : logits;
      }));
      try {
        return Float32Array.from(await scores.data() as Float32Array);
      } finally {
        scores.dispose();
      }
    },
    reorder(index: readonly number[]): void {
      if (!cache || index.every((v, i) => v === i)) return;
      const old = cache;
      const idx = tensor(Int32Array.from(index), { dtype: 'int32', backend: memory.backend.name });
      // Cross-attention keys/values are equal within a source's beams: only self-attention moves.
      const self = old.selfAttention.layers.map((kv) => ({ key: keep(kv.key.indexSelect(0, idx)), value: keep(kv.value.indexSelect(0, idx)) }));
      for (const kv of old.selfAttention.layers) { kv.key.dispose(); kv.value.dispose(); }
      cache = { selfAttention: { layers: self }, crossAttention: old.crossAttention };
      idx.dispose();
    },
    dispose(): void {
      disposeEncoderDecoderCache(cache);
      cache = undefined;
    },
    vocabSize: V,
  };
}

function pad(rows: number[][], padId: number): number[][] {
  const L = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => [...r, ...new Array<number>(L - r.length).fill(padId)]);
}

/**
 * HF's `generate()` for a BART model (see {@link BartForConditionalGeneration.generate}).
 *
 * @example
 * ```ts
 * const sequences = await generateSeq2Seq(model, ids, { maxNewTokens: 8, numBeams: 3 });
 * ```
 */
export async function generateSeq2Seq(model: BartForConditionalGeneration, inputIds: Tensor, options: Seq2SeqGenerateOptions = {}): Promise<number[][]> {
  const r = resolve(model, options);
  const active = processorNames(r.processors).length > 0;
  const B = inputIds.shape[0];
  const K = r.numBeams;
  if (K > 1 && r.eos.length !== 1) throw new HeedError(OP, `beam search needs exactly one eos_token_id, got ${JSON.stringify(r.eos)}.`);
  return withEval(model, async () => {
    const { memory, mask } = noGrad(() => tidy(() => {
      const enc = model.model.encode(inputIds, options.attentionMask);
      if (K === 1) return { memory: keep(enc), mask: options.attentionMask ? keep(options.attentionMask.reshape(options.attentionMask.shape)) : undefined };
      const idx = tensor(Array.from({ length: B * K }, (_, i) => Math.floor(i / K)), { dtype: 'int32', backend: inputIds.backend.name });
      return { memory: keep(enc.indexSelect(0, idx)), mask: options.attentionMask ? keep(options.attentionMask.indexSelect(0, idx)) : undefined };
    }));
    const s = session(model, memory, mask);
    try {
      if (K === 1) {
        const rows = Array.from({ length: B }, () => [r.start]);
        const done = new Array<boolean>(B).fill(false);
        for (let len = 1; len < r.maxLength && done.some((d) => !d); len++) {
          const scores = await s.step(rows.map((row) => row[row.length - 1]), false);
          rows.forEach((row, b) => {
            if (done[b]) { row.push(r.pad); return; }
            const x = scores.subarray(b * s.vocabSize, (b + 1) * s.vocabSize);
            processRow(x, row, r, active);
            let best = 0;
            for (let v = 1; v < x.length; v++) if (x[v] > x[best]) best = v;
            row.push(best);
            if (r.eos.includes(best)) done[b] = true;
          });
        }
        return rows;
      }
      const history: number[][] = Array.from({ length: B * K }, () => []);
      const results = await beamSearch({
        vocabSize: s.vocabSize,
        step: async (tokens) => {
          tokens.forEach((t, i) => history[i].push(t));
          const lp = await s.step(tokens, true);
          history.forEach((row, i) => processRow(lp.subarray(i * s.vocabSize, (i + 1) * s.vocabSize), row, r, active));
          return lp;
        },
        reorder: (index) => {
          const copy = index.map((i) => [...history[i]]);
          copy.forEach((row, i) => { history[i] = row; });
          s.reorder(index);
        },
      }, { batchSize: B, beamSize: K, bosId: r.start, eosId: r.eos[0], maxLen: r.maxLength - 1, lengthPenalty: r.lengthPenalty, earlyStopping: r.earlyStopping });
      // A hypothesis shorter than maxLen ended with EOS (beam.ts drops it from `tokens`).
      return pad(results.map((hyps) => {
        const best = hyps[0];
        return [r.start, ...best.tokens, ...(best.tokens.length < r.maxLength - 1 ? [r.eos[0]] : [])];
      }), r.pad);
    } finally {
      s.dispose();
      memory.dispose();
      mask?.dispose();
    }
  });
}
