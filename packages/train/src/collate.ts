// SPDX-License-Identifier: MIT
// Collate functions: turn the list of items of one batch into the batch. `defaultCollate`
// stacks tensors, numbers, typed arrays and numeric (nested) arrays into tensors with a
// leading batch dimension and recurses into tuples and objects, like PyTorch's
// default_collate; `padCollate` pads token-id sequences to the longest in the batch and adds
// the attention mask (1 = real token). `disposeBatch` frees every tensor of a batch.
// Invariants: a collated batch holds only new tensors (never an item's own tensor), owned by
// the caller; a collate that throws leaves no tensor behind (it runs inside `tidy`).
import { HeedError, Tensor, describeValue, stack, tensor, tidy } from '@heed/core';
import { padBatch } from '@heed/models';

/**
 * The typed arrays `defaultCollate` stacks (float ones into float32, integer ones into int32).
 *
 * @example
 * ```ts
 * const pixels: NumericTypedArray = new Uint8Array([0, 255]);
 * ```
 */
export type NumericTypedArray = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint8ClampedArray | Uint16Array | Uint32Array;
type TypedArray = NumericTypedArray;

/**
 * Numeric data that `defaultCollate` stacks into one tensor: a typed array or a (nested,
 * rectangular) array whose leaves are all numbers.
 *
 * @example
 * ```ts
 * const row: NumericArray = [[1, 2], [3, 4]];
 * ```
 */
export type NumericArray = NumericTypedArray | readonly number[] | readonly NumericArray[];

/**
 * The type `defaultCollate` gives a batch of items of type `T`: tensors, numbers, booleans and
 * numeric arrays become one tensor; strings a list; tuples and objects keep their structure.
 *
 * @example
 * ```ts
 * type B = Collated<{ x: number[]; y: number; name: string }>; // { x: Tensor; y: Tensor; name: string[] }
 * ```
 */
export type Collated<T> =
  T extends Tensor | number | boolean | NumericArray ? Tensor
    : T extends string ? string[]
      : T extends readonly unknown[] ? { -readonly [K in keyof T]: Collated<T[K]> }
        : T extends object ? { -readonly [K in keyof T]: Collated<T[K]> }
          : never;

/**
 * PyTorch's default_collate for JavaScript items: each leaf position of the items is stacked
 * along a new first (batch) dimension. Tensors are stacked (same shapes); numbers become an
 * int32 tensor if all are integers, else float32; booleans a bool tensor; typed arrays and
 * numeric nested arrays a `[batch, ...shape]` tensor (Float32/Float64Array: float32, integer
 * arrays: int32); strings stay a list; arrays of anything else are tuples and objects are
 * records, collated position by position / key by key. The one difference from PyTorch: a
 * plain array of numbers is a vector here (stacked to `[batch, n]`), not a tuple of scalars.
 * The result's tensors are new and the caller's to dispose ({@link disposeBatch}).
 *
 * @example
 * ```ts
 * const b = defaultCollate([{ x: [1, 2], y: 0 }, { x: [3, 4], y: 1 }]);
 * // b.x: int32 [[1, 2], [3, 4]] (all integers), b.y: int32 [0, 1]
 * disposeBatch(b);
 * ```
 */
export function defaultCollate<T>(items: readonly T[]): Collated<T> {
  checkItems('defaultCollate', items);
  return tidy(() => collateValue(items, 'item')) as Collated<T>;
}

function checkItems(op: string, items: unknown): asserts items is readonly unknown[] {
  if (!Array.isArray(items) || items.length === 0) {
    throw new HeedError(op, `expected a non-empty array of items, got ${describeValue(items)}.`);
  }
}

function fail(path: string, items: readonly unknown[], why: string): never {
  throw new HeedError('defaultCollate', `${path}: ${why} (first item's value: ${describeValue(items[0])}); ` +
    'make every item of the batch the same structure, or pass your own collate.');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
}

function isTypedArray(v: unknown): v is TypedArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
}

/** The shape of a rectangular nested number array, or null if it is not one. */
function numericShape(v: unknown): number[] | null {
  if (typeof v === 'number') return [];
  if (isTypedArray(v)) return [v.length];
  if (!Array.isArray(v) || v.length === 0) return null;
  const inner = numericShape(v[0]);
  if (inner === null) return null;
  for (let i = 1; i < v.length; i++) {
    const s = numericShape(v[i]);
    if (s === null || s.length !== inner.length || s.some((d, j) => d !== inner[j])) return null;
  }
  return [v.length, ...inner];
}

function flattenInto(v: unknown, out: number[]): void {
  if (typeof v === 'number') out.push(v);
  else for (const x of v as Iterable<unknown>) flattenInto(x, out);
}

const isFloatArray = (v: unknown) => v instanceof Float32Array || v instanceof Float64Array;

function collateValue(items: readonly unknown[], path: string): unknown {
  const first = items[0];
  if (first instanceof Tensor) {
    if (!items.every((t) => t instanceof Tensor)) fail(path, items, 'some items are tensors and some are not');
    return stack(items as Tensor[]);
  }
  if (typeof first === 'number') {
    if (!items.every((v) => typeof v === 'number')) fail(path, items, 'some items are numbers and some are not');
    const nums = items as number[];
    return tensor(nums, { dtype: nums.every(Number.isInteger) ? 'int32' : 'float32' });
  }
  if (typeof first === 'boolean') {
    if (!items.every((v) => typeof v === 'boolean')) fail(path, items, 'some items are booleans and some are not');
    return tensor(items as boolean[], { dtype: 'bool' });
  }
  if (typeof first === 'string') {
    if (!items.every((v) => typeof v === 'string')) fail(path, items, 'some items are strings and some are not');
    return [...(items as string[])];
  }
  const shape = isTypedArray(first) || Array.isArray(first) ? numericShape(first) : null;
  if (shape !== null) {
    const flat: number[] = [];
    for (const v of items) {
      const s = numericShape(v);
      if (s === null || s.length !== shape.length || s.some((d, j) => d !== shape[j])) {
        fail(path, items, `numeric arrays of different shapes ([${shape.join(', ')}] and ${s === null ? 'a non-numeric value' : `[${s.join(', ')}]`}); pad them (padCollate) first`);
      }
      flattenInto(v, flat);
    }
    const float = items.some(isFloatArray) || !flat.every(Number.isInteger);
    return tensor(flat, { shape: [items.length, ...shape], dtype: float ? 'float32' : 'int32' });
  }
  if (Array.isArray(first)) {
    if (!items.every((v) => Array.isArray(v) && v.length === first.length)) fail(path, items, `tuples of different lengths (the first has ${first.length})`);
    return first.map((_, j) => collateValue(items.map((v) => (v as unknown[])[j]), `${path}[${j}]`));
  }
  if (isPlainObject(first)) {
    const keys = Object.keys(first);
    const keyList = keys.join(', ');
    for (const v of items) {
      if (!isPlainObject(v) || Object.keys(v).length !== keys.length || keys.some((k) => !(k in v))) {
        fail(path, items, `objects with different keys (the first has ${keyList})`);
      }
    }
    return Object.fromEntries(keys.map((k) => [k, collateValue(items.map((v) => (v as Record<string, unknown>)[k]), `${path}.${k}`)]));
  }
  return fail(path, items, 'cannot collate this kind of value (numbers, booleans, strings, typed arrays, tensors, arrays and plain objects can be)');
}

/**
 * Disposes every tensor in a batch (tensors nested in arrays, plain objects and Maps); other
 * values are ignored and tensors already disposed are skipped. Returns nothing.
 *
 * @example
 * ```ts
 * for await (const batch of loader) {
 *   trainStep(batch);
 *   disposeBatch(batch);
 * }
 * ```
 */
export function disposeBatch(batch: unknown): void {
  forEachTensor(batch, (t) => { if (!t.isDisposed) t.dispose(); });
}

/** @internal Calls `fn` once for each tensor in `value` (nested in arrays, plain objects and Maps). */
export function forEachTensor(value: unknown, fn: (t: Tensor) => void): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof Tensor) fn(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v instanceof Map) for (const x of v.values()) walk(x);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(value);
}

/**
 * Options of {@link padCollate}.
 *
 * @example
 * ```ts
 * const o: PadCollateOptions = { padId: tokenizer.padId, labelPadId: -100 };
 * ```
 */
export interface PadCollateOptions {
  /** The token id that fills the padding (e.g. `tokenizer.padId`). */
  padId: number;
  /** The value that pads per-token `labels` (default -100, the usual ignore index of cross-entropy). */
  labelPadId?: number;
}

/**
 * An item `padCollate` accepts: the token ids alone, or an object with `inputIds` and
 * optionally a `label` (one number) or `labels` (a number, or one per token); any other keys
 * are collated with {@link defaultCollate}.
 *
 * @example
 * ```ts
 * const item: SequenceItem = { inputIds: [5, 9, 2], label: 1 };
 * ```
 */
export type SequenceItem = readonly number[] | Int32Array | {
  /** The token ids. */
  readonly inputIds: readonly number[] | Int32Array;
  /** One label for the sequence (becomes `labels` `[batch]`). */
  readonly label?: number;
  /** One label for the sequence, or one per token (padded with `labelPadId`). */
  readonly labels?: number | readonly number[] | Int32Array;
  readonly [key: string]: unknown;
};

/**
 * A batch made by {@link padCollate}: `inputIds` `[batch, longest]` int32 padded with `padId`
 * on the right, `attentionMask` `[batch, longest]` int32 with 1 for real tokens and 0 for
 * padding (the PyTorch/Hugging Face convention), `labels` when the items have a `label` or
 * `labels` (int32 `[batch]`, or `[batch, longest]` padded with `labelPadId`), plus any other
 * keys of the items, collated by {@link defaultCollate}.
 *
 * @example
 * ```ts
 * const { inputIds, attentionMask, labels }: PaddedBatch = collate(items);
 * ```
 */
export interface PaddedBatch {
  /** `[batch, longest]` int32 token ids, padded with `padId` on the right. */
  inputIds: Tensor;
  /** `[batch, longest]` int32: 1 for real tokens, 0 for padding. */
  attentionMask: Tensor;
  /** int32 `[batch]` (one label per item) or `[batch, longest]` (per token, padded with `labelPadId`). */
  labels?: Tensor;
  [key: string]: unknown;
}

/**
 * A collate function for token-id sequences of different lengths: pads each batch to its
 * longest sequence and adds the attention mask (see {@link PaddedBatch}). Ids are checked as
 * `padBatch` (from @heed/models) checks them: non-negative integers.
 *
 * @example
 * ```ts
 * const collate = padCollate({ padId: 0 });
 * const b = collate([{ inputIds: [5, 6, 7], label: 1 }, { inputIds: [8], label: 0 }]);
 * // b.inputIds [[5, 6, 7], [8, 0, 0]], b.attentionMask [[1, 1, 1], [1, 0, 0]], b.labels [1, 0]
 * disposeBatch(b);
 * ```
 */
export function padCollate(options: PadCollateOptions): (items: readonly SequenceItem[]) => PaddedBatch {
  if (!isPlainObject(options) || typeof options.padId !== 'number') {
    throw new HeedError('padCollate', `options must be an object with a numeric padId, got ${describeValue(options)}; e.g. padCollate({ padId: tokenizer.padId }).`);
  }
  for (const key of Object.keys(options)) {
    if (key !== 'padId' && key !== 'labelPadId') throw new HeedError('padCollate', `unknown option '${key}'; the valid keys are padId, labelPadId.`);
  }
  const { padId } = options;
  const labelPadId = options.labelPadId ?? -100;
  if (!Number.isInteger(labelPadId)) throw new HeedError('padCollate', `labelPadId must be an integer, got ${describeValue(labelPadId)}.`);
  return (items) => {
    checkItems('padCollate', items);
    const records = items.map((item, i) => {
      const rec = (Array.isArray(item) || item instanceof Int32Array ? { inputIds: item } : item) as Record<string, unknown> & { inputIds: readonly number[] | Int32Array };
      if (!isPlainObject(rec) || (!Array.isArray(rec.inputIds) && !(rec.inputIds instanceof Int32Array))) {
        throw new HeedError('padCollate', `item ${i} must be an array of token ids or an object with inputIds, got ${describeValue(item)}.`);
      }
      if ('label' in rec && 'labels' in rec) throw new HeedError('padCollate', `item ${i} has both 'label' and 'labels'; give one.`);
      return rec;
    });
    const seqs = records.map((r) => Array.from(r.inputIds));
    const longest = Math.max(1, ...seqs.map((s) => s.length));
    return tidy(() => {
      const inputIds = padBatch(seqs, padId, longest);
      const mask = new Int32Array(seqs.length * longest);
      seqs.forEach((s, i) => mask.fill(1, i * longest, i * longest + s.length));
      const out: PaddedBatch = { inputIds, attentionMask: tensor(mask, { shape: [seqs.length, longest], dtype: 'int32' }) };
      const labelKey = 'labels' in records[0] ? 'labels' : 'label' in records[0] ? 'label' : null;
      const rest = Object.keys(records[0]).filter((k) => k !== 'inputIds' && k !== labelKey);
      if (labelKey !== null) out.labels = collateLabels(records.map((r) => r[labelKey]), labelKey, longest, labelPadId);
      for (const k of rest) out[k] = collateValue(records.map((r) => r[k]), `item.${k}`);
      return out;
    });
  };
}

function collateLabels(labels: readonly unknown[], key: string, longest: number, labelPadId: number): Tensor {
  if (labels.every((l) => typeof l === 'number')) return collateValue(labels, `item.${key}`) as Tensor;
  const data = new Int32Array(labels.length * longest).fill(labelPadId);
  labels.forEach((l, i) => {
    if (!Array.isArray(l) && !(l instanceof Int32Array)) {
      throw new HeedError('padCollate', `item ${i}'s ${key} is ${describeValue(l)}; give every item one label number or one label per token.`);
    }
    if (l.length > longest) throw new HeedError('padCollate', `item ${i} has ${l.length} labels but the longest sequence has ${longest} tokens.`);
    for (const v of l) {
      if (!Number.isInteger(v)) throw new HeedError('padCollate', `item ${i}'s ${key} contains ${describeValue(v)}; labels must be integers.`);
    }
    data.set(l, i * longest);
  });
  return tensor(data, { shape: [labels.length, longest], dtype: 'int32' });
}
