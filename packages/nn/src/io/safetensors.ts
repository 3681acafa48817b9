// SPDX-License-Identifier: MIT
// The safetensors format (https://github.com/huggingface/safetensors), in memory: 8-byte
// little-endian header length N, N bytes of JSON header, then the data buffer.
// Invariants (checked before anything is allocated, following the reference implementation):
// N <= 100 MB and N <= file size - 8; the header is UTF-8 JSON starting with '{' whose values
// are `{dtype, shape, data_offsets}` entries (plus an optional string map `__metadata__`);
// each entry's byte size equals numel * dtype size; sorted by offset, the entries tile the
// data buffer exactly (no holes, overlaps, or trailing bytes). Writing follows the reference
// layout: tensors sorted by dtype size (descending) then name, header padded with spaces to 8.
import { HeedError, tensor, type Tensor } from '@heed/core';
import { SAFETENSORS_DTYPES, encode, isSafetensorsDType, type SafetensorsDType, type WritableDType } from './dtypes.js';

/** The reference implementation's limit on the header size. */
const MAX_HEADER_BYTES = 100_000_000;
const OP_LOAD = 'loadSafetensors';
const OP_SAVE = 'saveSafetensors';

/**
 * One tensor's entry in a safetensors header.
 *
 * @example
 * ```ts
 * const e: SafetensorsEntry = { name: 'w', dtype: 'F32', shape: [2, 3], begin: 0, end: 24 };
 * ```
 */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte offsets into the data buffer (after the header), `end` exclusive. */
  begin: number;
  end: number;
}

/**
 * A parsed and validated safetensors header.
 *
 * @example
 * ```ts
 * const h: SafetensorsHeader = readSafetensorsHeader(bytes);
 * h.entries.map((e) => e.name);
 * ```
 */
export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Byte offset of the data buffer in the file (8 + header length). */
  dataStart: number;
}

/**
 * Tensors and metadata read from a safetensors file.
 *
 * @example
 * ```ts
 * const { tensors, metadata }: SafetensorsContents = loadSafetensors(bytes);
 * ```
 */
export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/**
 * Options of {@link saveSafetensors}.
 *
 * @example
 * ```ts
 * await saveSafetensors(weights, undefined, { floatDType: 'BF16' });
 * ```
 */
export interface SaveSafetensorsOptions {
  /**
   * How float32 tensors are stored: F32 (default, exact), or F16/BF16 (rounded to nearest
   * even), for all of them or chosen per tensor by a function of its name.
   */
  floatDType?: FloatDType | ((name: string, t: Tensor) => FloatDType);
  /** How int32 tensors are stored: I32 (default) or I64 (PyTorch's `torch.long`, e.g. token ids). */
  intDType?: 'I32' | 'I64';
}

/**
 * The formats float32 tensors can be written in.
 *
 * @example
 * ```ts
 * const d: FloatDType = 'BF16';
 * ```
 */
export type FloatDType = 'F32' | 'F16' | 'BF16';

const FLOAT_DTYPES: { readonly [D in FloatDType]: true } = { F32: true, F16: true, BF16: true };

const fail = (message: string): never => {
  throw new HeedError(OP_LOAD, message);
};

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseEntry(name: string, raw: unknown): SafetensorsEntry {
  if (!isPlainObject(raw)) return fail(`header entry '${name}' must be an object {dtype, shape, data_offsets}, got ${Array.isArray(raw) ? 'an array' : typeof raw}.`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (!isSafetensorsDType(dtype)) {
    return fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}; known: ${Object.keys(SAFETENSORS_DTYPES).join(', ')}.`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    return fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}; dims must be non-negative integers.`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0) || offsets[0] > offsets[1]) {
    return fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 <= begin <= end.`);
  }
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (!Number.isSafeInteger(numel)) return fail(`tensor '${name}' shape ${JSON.stringify(shape)} has too many elements.`);
  }
  const nbytes = numel * SAFETENSORS_DTYPES[dtype].bytes;
  const [begin, end] = offsets as [number, number];
  if (end - begin !== nbytes) {
    return fail(`tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${nbytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}.`);
  }
  return { name, dtype, shape: shape as number[], begin, end };
}

/**
 * Parses and validates the header of a safetensors buffer without reading tensor data.
 * Throws a HeedError describing the first problem found in a malformed buffer.
 *
 * @example
 * ```ts
 * const { entries, metadata } = readSafetensorsHeader(bytes);
 * ```
 */
export function readSafetensorsHeader(input: Uint8Array | ArrayBuffer): SafetensorsHeader {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 8) fail(`the buffer has ${bytes.length} bytes; a safetensors file starts with an 8-byte header length.`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`the header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit; the file is corrupt or not safetensors.`);
  const n = Number(n64);
  if (n > bytes.length - 8) fail(`the header length ${n} is larger than the rest of the file (${bytes.length - 8} bytes); the file is truncated or corrupt.`);
  if (n < 2 || bytes[8] !== 0x7b) fail("the header must be a JSON object starting with '{'.");
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('the header is not valid UTF-8.');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message}).`);
  }
  if (!isPlainObject(json)) return fail('the header must be a JSON object.');
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (raw === null) continue; // serde's Option: null means no metadata
      if (!isPlainObject(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        fail('__metadata__ must be an object mapping strings to strings.');
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    entries.push(parseEntry(name, raw));
  }
  const dataLength = bytes.length - 8 - n;
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.end > dataLength) fail(`tensor '${e.name}' data_offsets [${e.begin}, ${e.end}] run past the end of the data (${dataLength} bytes); the file is truncated.`);
    if (e.begin < pos) fail(`tensor '${e.name}' data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${pos}.`);
    if (e.begin > pos) fail(`tensor '${e.name}' starts at byte ${e.begin} but the previous tensor ends at ${pos}; the data must be contiguous (no holes).`);
    pos = e.end;
  }
  if (pos !== dataLength) fail(`the data buffer has ${dataLength - pos} trailing bytes after the last tensor; the file is corrupt (the format forbids unindexed bytes).`);
  return { entries, metadata, dataStart: 8 + n };
}

/**
 * Reads tensors and metadata from a safetensors buffer. Floats load as float32 (F16, BF16,
 * F64 and F8 are converted), integers as int32 (I64/U64/U32 values outside int32 are an error),
 * BOOL as bool. Malformed input raises a HeedError before any tensor is created.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = loadSafetensors(await (await fetch('model.safetensors')).arrayBuffer());
 * const w = tensors.get('encoder.layer.0.weight');
 * ```
 */
export function loadSafetensors(input: Uint8Array | ArrayBuffer, options: { backend?: string } = {}): SafetensorsContents {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const header = readSafetensorsHeader(bytes);
  // Decode everything first, so a bad value (an I64 out of range) leaves no tensors behind.
  const decoded = header.entries.map((e) => {
    const spec = SAFETENSORS_DTYPES[e.dtype];
    const numel = (e.end - e.begin) / spec.bytes;
    const chunk = bytes.subarray(header.dataStart + e.begin, header.dataStart + e.end);
    return { e, values: spec.decode(chunk, numel, e.name), dtype: spec.loadsAs };
  });
  const tensors = new Map<string, Tensor>();
  try {
    for (const { e, values, dtype } of decoded) tensors.set(e.name, tensor(values, { shape: e.shape, dtype, backend: options.backend }));
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata: header.metadata };
}

const WRITE_DTYPE = { float32: 'F32', int32: 'I32', bool: 'BOOL' } as const satisfies Record<Tensor['dtype'], WritableDType>;

/**
 * Serializes tensors (and optional string metadata) to the safetensors format, in the
 * reference layout. Reads every tensor back from its backend (hence async).
 *
 * @example
 * ```ts
 * const bytes = await saveSafetensors({ 'layer.weight': w, 'layer.bias': b }, { format: 'pt' });
 * ```
 */
export async function saveSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>, options: SaveSafetensorsOptions = {}): Promise<Uint8Array> {
  const items = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const floatDTypeOf = (name: string, t: Tensor): FloatDType => {
    const d = typeof options.floatDType === 'function' ? options.floatDType(name, t) : options.floatDType ?? 'F32';
    if (!Object.prototype.hasOwnProperty.call(FLOAT_DTYPES, d)) throw new HeedError(OP_SAVE, `floatDType must be 'F32', 'F16' or 'BF16', got '${String(d)}'.`);
    return d;
  };
  const intDType = options.intDType ?? 'I32';
  if (intDType !== 'I32' && intDType !== 'I64') throw new HeedError(OP_SAVE, `intDType must be 'I32' or 'I64', got ${JSON.stringify(intDType)}.`);
  if (metadata !== undefined && (!isPlainObject(metadata) || !Object.values(metadata).every((v) => typeof v === 'string'))) {
    throw new HeedError(OP_SAVE, 'metadata must map strings to strings (JSON.stringify other values first).');
  }
  const prepared = items.map(([name, t]) => {
    if (name === '__metadata__') throw new HeedError(OP_SAVE, "'__metadata__' is reserved and cannot name a tensor.");
    if (!t || typeof (t as Tensor).assertLive !== 'function') throw new HeedError(OP_SAVE, `'${name}' is not a Tensor.`);
    t.assertLive(OP_SAVE);
    const dtype: WritableDType = t.dtype === 'float32' ? floatDTypeOf(name, t) : t.dtype === 'int32' ? intDType : WRITE_DTYPE[t.dtype];
    return { name, t, dtype };
  });
  // The reference order: larger elements first (keeps every tensor aligned), then by name.
  prepared.sort((a, b) => SAFETENSORS_DTYPES[b.dtype].bytes - SAFETENSORS_DTYPES[a.dtype].bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const blobs: Uint8Array[] = [];
  // Built by hand so the key order is the data order even for integer-like names (which JS
  // objects would move to the front).
  const parts: string[] = metadata !== undefined ? [`"__metadata__":${JSON.stringify(metadata)}`] : [];
  let offset = 0;
  for (const { name, t, dtype } of prepared) {
    const blob = encode(await t.data(), dtype);
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: [...t.shape], data_offsets: [offset, offset + blob.length] })}`);
    blobs.push(blob);
    offset += blob.length;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const blob of blobs) {
    out.set(blob, pos);
    pos += blob.length;
  }
  return out;
}
