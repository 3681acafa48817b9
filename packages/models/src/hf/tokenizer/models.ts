// SPDX-License-Identifier: MIT
// tokenizer.json models: BPE (merge ranks in a pair -> rank map, applied lowest rank first with
// a binary heap over a linked list of symbols, as the Rust library's `Word::merge_all`; byte
// fallback to <0xXX> tokens, unk fusing, continuing_subword_prefix / end_of_word_suffix,
// ignore_merges, a word cache), WordPiece (greedy longest match, max_input_chars_per_word) and
// WordLevel. Each turns one pre-tokenized word into ids.
import { HeedError } from '@heed/core';
import type { BpeModelJSON, ComponentJSON, ModelJSON, WordLevelModelJSON, WordPieceModelJSON } from './json.js';

const OP = 'AutoTokenizer';
const CACHE_LIMIT = 10_000;
const CACHE_MAX_WORD = 256; // longer words are not cached (as the Rust library; a Llama-layout text is one word)
const utf8 = new TextEncoder();
const MAX_ID = 2 ** 31 - 1;

/** A tokenizer.json model: words to ids, and its vocabulary. */
export interface TokenizerModel {
  /** The ids of one pre-tokenized word. */
  tokenize(word: string): number[];
  /** token -> id of the model's vocabulary. */
  readonly vocab: ReadonlyMap<string, number>;
  /** id -> token of the model's vocabulary. */
  readonly vocabR: ReadonlyMap<number, string>;
}

function vocabMaps(vocab: Record<string, number>): [Map<string, number>, Map<number, string>] {
  const fwd = new Map<string, number>();
  const rev = new Map<number, string>();
  for (const [t, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new HeedError(OP, `the vocabulary id ${id} of ${JSON.stringify(t)} is not an integer in [0, 2^31).`);
    fwd.set(t, id);
    rev.set(id, t);
  }
  return [fwd, rev];
}

/** (left id, right id) -> merge rank, open addressing over Int32Arrays (no boxed keys, no GC). */
class PairRanks {
  private readonly keys: Int32Array;
  private readonly ranks: Int32Array;
  private readonly mask: number;

  constructor(capacity: number) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.mask = size - 1;
    this.keys = new Int32Array(size * 2).fill(-1);
    this.ranks = new Int32Array(size);
  }

  private slot(a: number, b: number): number {
    let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.mask;
    for (;;) {
      const k = this.keys[2 * h];
      if (k === -1 || (k === a && this.keys[2 * h + 1] === b)) return h;
      h = (h + 1) & this.mask;
    }
  }

  /** Sets the rank of (a, b) unless it has one (the first merge of a pair wins). */
  add(a: number, b: number, rank: number): void {
    const h = this.slot(a, b);
    if (this.keys[2 * h] !== -1) return;
    this.keys[2 * h] = a;
    this.keys[2 * h + 1] = b;
    this.ranks[h] = rank;
  }

  /** The rank of (a, b), or -1. */
  get(a: number, b: number): number {
    const h = this.slot(a, b);
    return this.keys[2 * h] === -1 ? -1 : this.ranks[h];
  }
}

/** A min-heap of numbers (heap keys). */
class MinHeap {
  private readonly a: number[] = [];
  get size(): number { return this.a.length; }
  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= v) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop() as number;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && a[l + 1] < a[l] ? l + 1 : l;
        if (a[c] >= last) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

class BpeModel implements TokenizerModel {
  readonly vocab: Map<string, number>;
  readonly vocabR: Map<number, string>;
  private readonly ranks: PairRanks;
  private readonly mergedId: number[] = [];
  private readonly cache = new Map<string, number[]>();
  private readonly byteIds: (number | undefined)[] = [];
  private readonly unkId: number | undefined;

  constructor(private readonly j: BpeModelJSON) {
    if (j.dropout !== null && j.dropout !== undefined && j.dropout > 0) {
      throw new HeedError(OP, `BPE dropout ${j.dropout} makes encoding random; set "dropout": null in tokenizer.json for inference.`);
    }
    [this.vocab, this.vocabR] = vocabMaps(j.vocab);
    const prefixLen = (j.continuing_subword_prefix ?? '').length;
    this.ranks = new PairRanks(j.merges.length);
    j.merges.forEach((m, rank) => {
      const [a, b] = typeof m === 'string' ? splitMerge(m) : m;
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const merged = this.vocab.get(a + b.slice(prefixLen));
      if (ia === undefined || ib === undefined || merged === undefined) {
        throw new HeedError(OP, `BPE merge ${rank} (${JSON.stringify(a)}, ${JSON.stringify(b)}) uses a token missing from the vocabulary.`);
      }
      this.ranks.add(ia, ib, rank);
      this.mergedId[rank] = merged;
    });
    if (j.byte_fallback) {
      for (let b = 0; b < 256; b++) this.byteIds.push(this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
    }
    if (j.unk_token !== null && j.unk_token !== undefined) {
      this.unkId = this.vocab.get(j.unk_token);
      if (this.unkId === undefined) throw new HeedError(OP, `the BPE unk_token ${JSON.stringify(j.unk_token)} is not in the vocabulary.`);
    }
  }

  tokenize(word: string): number[] {
    if (word.length === 0) return [];
    if (this.j.ignore_merges === true) {
      const id = this.vocab.get(word);
      if (id !== undefined) return [id];
    }
    const hit = this.cache.get(word);
    if (hit !== undefined) return hit;
    const ids = this.merge(this.symbols(word));
    if (word.length < CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  /** The initial symbols of a word: one per character, byte tokens or unk for unknown ones. */
  private symbols(word: string): number[] {
    const { continuing_subword_prefix: prefix, end_of_word_suffix: suffix, fuse_unk: fuse } = this.j;
    const out: number[] = [];
    let unkPending = false;
    let i = 0;
    for (const c of word) {
      const isFirst = i === 0;
      i += c.length;
      let s = c;
      if (!isFirst && prefix) s = prefix + s;
      if (i === word.length && suffix) s += suffix;
      const id = this.vocab.get(s);
      if (id !== undefined) {
        if (unkPending) out.push(this.unkId as number);
        unkPending = false;
        out.push(id);
        continue;
      }
      if (this.j.byte_fallback) {
        const bytes = utf8.encode(s);
        const ids = Array.from(bytes, (b) => this.byteIds[b]);
        if (ids.every((x) => x !== undefined)) {
          out.push(...(ids as number[]));
          continue;
        }
      }
      if (this.unkId !== undefined) {
        if (unkPending && !fuse) out.push(this.unkId);
        unkPending = true;
      }
    }
    if (unkPending) out.push(this.unkId as number);
    return out;
  }

  /** Applies the merges lowest rank first (ties: leftmost), as `Word::merge_all`. */
  private merge(ids: number[]): number[] {
    const n = ids.length; // heap key = rank * n + position: lowest rank first, then leftmost
    if (n < 2) return ids;
    if (this.mergedId.length * n > Number.MAX_SAFE_INTEGER) throw new HeedError(OP, `a word of ${n} symbols is too long for BPE.`);
    const c = Int32Array.from(ids);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let k = 0; k < n; k++) { prev[k] = k - 1; next[k] = k + 1 < n ? k + 1 : -1; }
    const heap = new MinHeap();
    for (let k = 0; k + 1 < n; k++) {
      const r = this.ranks.get(c[k], c[k + 1]);
      if (r >= 0) heap.push(r * n + k);
    }
    while (heap.size > 0) {
      const top = heap.pop();
      const rank = Math.floor(top / n);
      const pos = top - rank * n;
      if (!alive[pos]) continue;
      const nx = next[pos];
      if (nx < 0) continue;
      if (this.ranks.get(c[pos], c[nx]) !== rank) continue; // stale entry
      c[pos] = this.mergedId[rank];
      alive[nx] = 0;
      const nn = next[nx];
      next[pos] = nn;
      if (nn >= 0) prev[nn] = pos;
      const pv = prev[pos];
      if (pv >= 0) {
        const r = this.ranks.get(c[pv], c[pos]);
        if (r >= 0) heap.push(r * n + pv);
      }
      if (nn >= 0) {
        const r = this.ranks.get(c[pos], c[nn]);
        if (r >= 0) heap.push(r * n + pos);
      }
    }
    const out: number[] = [];
    for (let k = 0; k >= 0; k = next[k]) out.push(c[k]);
    return out;
  }
}

function splitMerge(m: string): [string, string] {
  const sp = m.indexOf(' ', 1);
  if (sp < 0) throw new HeedError(OP, `BPE merge ${JSON.stringify(m)} is not "left right".`);
  return [m.slice(0, sp), m.slice(sp + 1)];
}

class WordPieceModel implements TokenizerModel {
  readonly vocab: Map<string, number>;
  readonly vocabR: Map<number, string>;
  private readonly unkId: number;
  /** The longest vocabulary entry (UTF-16 units): longer candidates cannot match. */
  private readonly maxLen: number;
  private readonly cache = new Map<string, number[]>();

  constructor(private readonly j: WordPieceModelJSON) {
    [this.vocab, this.vocabR] = vocabMaps(j.vocab);
    const unk = this.vocab.get(j.unk_token);
    if (unk === undefined) throw new HeedError(OP, `the WordPiece unk_token ${JSON.stringify(j.unk_token)} is not in the vocabulary.`);
    this.unkId = unk;
    let m = 0;
    for (const t of this.vocab.keys()) m = Math.max(m, t.length);
    this.maxLen = m;
  }

  /** Greedy longest-match-first, continuing pieces with the prefix; a word with an unmatchable rest is one unk. */
  tokenize(word: string): number[] {
    const hit = this.cache.get(word);
    if (hit !== undefined) return hit;
    const ids = this.split(word);
    if (word.length < CACHE_MAX_WORD) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    return ids;
  }

  private split(word: string): number[] {
    const bounds = [0]; // code point boundaries, in UTF-16 units
    for (let i = 0; i < word.length;) {
      i += (word.codePointAt(i) as number) > 0xffff ? 2 : 1;
      bounds.push(i);
    }
    const n = bounds.length - 1;
    if (n > this.j.max_input_chars_per_word) return [this.unkId];
    const prefix = this.j.continuing_subword_prefix;
    const out: number[] = [];
    let start = 0;
    while (start < n) {
      const head = start > 0 ? prefix : '';
      let end = n;
      while (end > start && bounds[end] - bounds[start] + head.length > this.maxLen) end--;
      let found: number | undefined;
      for (; end > start; end--) {
        found = this.vocab.get(head + word.slice(bounds[start], bounds[end]));
        if (found !== undefined) break;
      }
      if (found === undefined) return [this.unkId];
      out.push(found);
      start = end;
    }
    return out;
  }
}

class WordLevelModel implements TokenizerModel {
  readonly vocab: Map<string, number>;
  readonly vocabR: Map<number, string>;
  private readonly unkId: number | undefined;

  constructor(j: WordLevelModelJSON) {
    [this.vocab, this.vocabR] = vocabMaps(j.vocab);
    this.unkId = this.vocab.get(j.unk_token);
  }

  tokenize(word: string): number[] {
    const id = this.vocab.get(word) ?? this.unkId;
    if (id === undefined) throw new HeedError(OP, `WordLevel: ${JSON.stringify(word)} is not in the vocabulary and there is no unk_token.`);
    return [id];
  }
}

/**
 * Builds the model a tokenizer.json `model` entry describes; an unknown type is a HeedError naming it.
 *
 * @example
 * ```ts
 * const m = buildModel({ type: 'WordLevel', unk_token: '?', vocab: { '?': 0, hi: 1 } });
 * m.tokenize('hi'); // [1]
 * ```
 */
export function buildModel(component: ComponentJSON | ModelJSON): TokenizerModel {
  const j = component as ModelJSON;
  switch (j.type) {
    case 'BPE': return new BpeModel(j);
    case 'WordPiece': return new WordPieceModel(j);
    case 'WordLevel': return new WordLevelModel(j);
    default:
      throw new HeedError(OP, `unknown model type ${JSON.stringify((j as { type?: unknown }).type)} in tokenizer.json; supported: BPE, WordPiece, WordLevel.`);
  }
}
