// SPDX-License-Identifier: MIT
// Batch encoding with transformers' (PreTrainedTokenizerFast) padding and truncation rules:
// truncation happens before the special tokens are added and leaves room for them; pairs are
// cut longest-first as the Rust library does; padding to the longest row or to max_length on
// the tokenizer's (or the call's) side, with an attention mask and token type ids.
// Invariant: rows are never cut unless truncation is on; padding without a pad token is an error.
import { HeedError, describeValue, tensor, type Tensor } from '@heed/core';
import type { EncodedIds } from './processors.js';
import type { PreTrainedTokenizerFast, TokenLimit } from './tokenizer.js';

/**
 * Options of {@link PreTrainedTokenizerFast.encodeBatch} (transformers' `tokenizer(texts, ...)`).
 *
 * @example
 * ```ts
 * const o: EncodeBatchOptions = { padding: 'max_length', maxLength: 16, truncation: true, paddingSide: 'left' };
 * ```
 */
export interface EncodeBatchOptions {
  /** true/'longest': pad to the longest row; 'max_length': to `maxLength` (or model_max_length); default no padding. */
  padding?: boolean | 'longest' | 'max_length' | 'do_not_pad';
  /** The length to truncate / pad to (default model_max_length). */
  maxLength?: number;
  /** Cut rows longer than maxLength (special tokens counted); pairs: true/'longest_first', 'only_first', 'only_second'. */
  truncation?: boolean | 'longest_first' | 'only_first' | 'only_second' | 'do_not_truncate';
  /** Override the tokenizer's padding side. */
  paddingSide?: 'left' | 'right';
  /** Override the tokenizer's truncation side. */
  truncationSide?: 'left' | 'right';
  /** Round the padded length up to a multiple of this (transformers' pad_to_multiple_of). */
  padToMultipleOf?: number;
  /** Add special tokens (default true). */
  addSpecialTokens?: boolean;
  /** Second sequences of pairs, one per text. */
  textPairs?: readonly string[];
  /** 'heed': return int32 `[N, L]` tensors instead of arrays (rows must then have one length). */
  returnTensors?: 'heed';
}

/**
 * The result of {@link PreTrainedTokenizerFast.encodeBatch}: one row per text.
 *
 * @example
 * ```ts
 * const { inputIds, attentionMask } = tok.encodeBatch(['a', 'b c'], { padding: true });
 * ```
 */
export interface BatchEncoding {
  /** Token ids, padded where asked. */
  inputIds: number[][];
  /** 1 for tokens, 0 for padding. */
  attentionMask: number[][];
  /** 0 for the first sequence, 1 for a pair's second (BERT), 0 for padding. */
  tokenTypeIds: number[][];
}

/**
 * {@link BatchEncoding} as int32 `[N, L]` tensors (`returnTensors: 'heed'`); the caller disposes them.
 *
 * @example
 * ```ts
 * const { inputIds, attentionMask } = tok.encodeBatch(['a', 'b c'], { padding: true, returnTensors: 'heed' });
 * ```
 */
export interface TensorBatchEncoding {
  /** Token ids, int32 `[N, L]`. */
  inputIds: Tensor;
  /** 1 for tokens, 0 for padding, int32 `[N, L]`. */
  attentionMask: Tensor;
  /** Token type ids, int32 `[N, L]`. */
  tokenTypeIds: Tensor;
}

const OP = 'encodeBatch';

function cut(e: EncodedIds, n: number, side: 'left' | 'right'): EncodedIds {
  if (e.ids.length <= n) return e;
  const a = side === 'right' ? 0 : e.ids.length - n;
  return { ids: e.ids.slice(a, a + n), tokens: e.tokens.slice(a, a + n), typeIds: e.typeIds.slice(a, a + n) };
}

/** The Rust library's `truncate_encodings` (max = the room left for the sequences). */
function truncate(parts: EncodedIds[], max: number, strategy: 'longest_first' | 'only_first' | 'only_second', side: 'left' | 'right'): EncodedIds[] {
  if (max === 0) return parts.map((p) => cut(p, 0, side)); // the Rust library: nothing but the special tokens
  const total = parts.reduce((s, p) => s + p.ids.length, 0);
  if (total <= max) return parts;
  const remove = total - max;
  if (parts.length === 1 || strategy !== 'longest_first') {
    const k = parts.length === 1 || strategy === 'only_first' ? 0 : 1;
    if (parts[k] === undefined || parts[k].ids.length <= remove) {
      throw new HeedError(OP, `cannot truncate with '${strategy}' to maxLength: the sequence has ${parts[k]?.ids.length ?? 0} tokens and ${remove} must go; use truncation: 'longest_first'.`);
    }
    const out = [...parts];
    out[k] = cut(parts[k], parts[k].ids.length - remove, side);
    return out;
  }
  let n1 = parts[0].ids.length;
  let n2 = parts[1].ids.length;
  const swap = n1 > n2;
  if (swap) [n1, n2] = [n2, n1];
  n2 = n1 > max ? n1 : Math.max(n1, max - n1);
  if (n1 + n2 > max) {
    n1 = Math.floor(max / 2);
    n2 = n1 + (max % 2);
  }
  if (swap) [n1, n2] = [n2, n1];
  return [cut(parts[0], n1, side), cut(parts[1], n2, side)];
}

function checkLength(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) throw new HeedError(OP, `${name} must be a positive integer, got ${describeValue(v)}.`);
  return v;
}

/** @internal The implementation of {@link PreTrainedTokenizerFast.encodeBatch}. */
export function encodeBatch(tok: PreTrainedTokenizerFast, texts: readonly string[], options: EncodeBatchOptions): BatchEncoding {
  if (!Array.isArray(texts)) throw new HeedError(OP, `texts must be an array of strings, got ${describeValue(texts)}.`);
  const pairs = options.textPairs;
  if (pairs !== undefined && pairs.length !== texts.length) {
    throw new HeedError(OP, `textPairs has ${pairs.length} entries for ${texts.length} texts; give one pair per text.`);
  }
  const add = options.addSpecialTokens ?? true;
  const padding = options.padding === true ? 'longest' : options.padding === false || options.padding === undefined ? 'do_not_pad' : options.padding;
  // transformers: max_length without padding or truncation means longest_first truncation.
  const trunc = options.truncation === undefined && options.maxLength !== undefined && padding === 'do_not_pad' ? true : options.truncation ?? false;
  const strategy = trunc === true ? 'longest_first' : trunc === false ? 'do_not_truncate' : trunc;
  const maxLength = options.maxLength !== undefined ? checkLength(options.maxLength, 'maxLength') : tok.modelMaxLength;
  if (padding === 'max_length' && !Number.isFinite(maxLength)) {
    throw new HeedError(OP, "padding: 'max_length' needs maxLength (this tokenizer has no model_max_length).");
  }
  const padId = tok.padTokenId;
  if (padding !== 'do_not_pad' && padId === null) {
    throw new HeedError(OP, 'asking to pad but the tokenizer has no pad token; set one (e.g. the eos token) in tokenizer_config.json '
      + '"pad_token", or call with padding: false.');
  }
  const multiple = options.padToMultipleOf !== undefined ? checkLength(options.padToMultipleOf, 'padToMultipleOf') : undefined;
  if (multiple !== undefined && padding !== 'do_not_pad' && strategy !== 'do_not_truncate' && Number.isFinite(maxLength) && maxLength % multiple !== 0) {
    throw new HeedError(OP, `truncation and padding are both on but the truncation length (${maxLength}) is not a multiple of padToMultipleOf (${multiple}).`);
  }
  const side = options.truncationSide ?? tok.truncationSide;
  const rows = texts.map((t, i) => {
    const truncating = strategy !== 'do_not_truncate' && Number.isFinite(maxLength);
    // The Rust library limits every sequence but the first under only_second (do_tokenize).
    const limit: TokenLimit = { max: maxLength, left: side === 'left' };
    let parts = tok.encodeParts(t, pairs?.[i], truncating ? [strategy === 'only_second' ? undefined : limit, limit] : undefined);
    if (truncating) {
      const specials = add ? tok.numSpecialTokensToAdd(parts.length > 1) : 0;
      if (maxLength < specials) {
        throw new HeedError(OP, `maxLength ${maxLength} leaves no room: the special tokens alone take ${specials}; raise maxLength or pass addSpecialTokens: false.`);
      }
      parts = truncate(parts, maxLength - specials, strategy, side);
    }
    return tok.finish(parts, add);
  });
  let target = padding === 'longest' ? Math.max(0, ...rows.map((r) => r.ids.length)) : padding === 'max_length' ? maxLength : 0;
  if (multiple !== undefined && padding !== 'do_not_pad') target = Math.ceil(target / multiple) * multiple;
  const left = (options.paddingSide ?? tok.paddingSide) === 'left';
  const out: BatchEncoding = { inputIds: [], attentionMask: [], tokenTypeIds: [] };
  for (const r of rows) {
    const n = Math.max(0, target - r.ids.length);
    const pad = (v: number) => new Array<number>(n).fill(v);
    const mask = r.ids.map(() => 1);
    out.inputIds.push(left ? [...pad(padId as number), ...r.ids] : [...r.ids, ...pad(padId as number)]);
    out.attentionMask.push(left ? [...pad(0), ...mask] : [...mask, ...pad(0)]);
    out.tokenTypeIds.push(left ? [...pad(0), ...r.typeIds] : [...r.typeIds, ...pad(0)]);
  }
  return out;
}

/** @internal The tensor form of a batch encoding. */
export function toTensors(b: BatchEncoding): TensorBatchEncoding {
  const n = b.inputIds.length;
  const len = n === 0 ? 0 : b.inputIds[0].length;
  if (n === 0 || b.inputIds.some((r) => r.length !== len)) {
    throw new HeedError(OP, `returnTensors needs rows of one length, got lengths [${b.inputIds.map((r) => r.length).join(', ')}]; pass padding: true.`);
  }
  const t = (rows: number[][]) => tensor(Int32Array.from(rows.flat()), { shape: [n, len], dtype: 'int32' });
  return { inputIds: t(b.inputIds), attentionMask: t(b.attentionMask), tokenTypeIds: t(b.tokenTypeIds) };
}
