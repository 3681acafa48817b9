// SPDX-License-Identifier: MIT
// The safetensors dtype table (one typed entry per dtype of the format) with each dtype's
// byte size, the Heed dtype it loads as, and its little-endian decoder; plus the float32 <->
// float16 / bfloat16 conversions (round to nearest even, like PyTorch).
// Invariants: decoders read exactly `n * bytes` bytes from their input and never allocate
// more than `n` elements; integers outside int32 are rejected (no silent wrap-around).
import { HeedError, type DType, type TypedArray } from '@heed/core';

/**
 * The element types of the safetensors format (as written in the header).
 *
 * @example
 * ```ts
 * const d: SafetensorsDType = 'BF16';
 * ```
 */
export type SafetensorsDType =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E5M2' | 'F8_E4M3'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** Decodes `n` little-endian elements starting at byte 0 of `bytes`; `name` is for errors. */
/**
 * Decodes `n` little-endian elements of one safetensors dtype into a Heed storage array.
 *
 * @example
 * ```ts
 * const values = SAFETENSORS_DTYPES.F32.decode(bytes, 4, 'weight');
 * ```
 */
export type Decoder = (bytes: Uint8Array, n: number, name: string) => TypedArray;

/**
 * How Heed handles one safetensors dtype.
 *
 * @example
 * ```ts
 * const spec: SafetensorsDTypeSpec = SAFETENSORS_DTYPES.F16; // { bytes: 2, loadsAs: 'float32', ... }
 * ```
 */
export interface SafetensorsDTypeSpec {
  /** Bytes per element. */
  readonly bytes: number;
  /** The Heed dtype the tensor loads as. */
  readonly loadsAs: DType;
  /** Reads `n` elements. */
  readonly decode: Decoder;
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

function floats(n: number, read: (dv: DataView, i: number) => number): Decoder {
  return (bytes) => {
    const out = new Float32Array(n);
    const dv = view(bytes);
    for (let i = 0; i < n; i++) out[i] = read(dv, i);
    return out;
  };
}

/** A decoder for 4-byte types that maps the bytes directly when the host is little-endian. */
function direct(make: (buf: ArrayBuffer) => Float32Array | Int32Array, read: (dv: DataView, i: number) => number, kind: 'f' | 'i'): Decoder {
  return (bytes, n) => {
    if (littleEndianHost) return make(bytes.slice(0, n * 4).buffer); // slice copies into an aligned buffer
    const out = kind === 'f' ? new Float32Array(n) : new Int32Array(n);
    const dv = view(bytes);
    for (let i = 0; i < n; i++) out[i] = read(dv, i);
    return out;
  };
}

function ints(bytesPer: number, read: (dv: DataView, i: number, name: string) => number): Decoder {
  return (bytes, n, name) => {
    const out = new Int32Array(n);
    const dv = view(bytes);
    for (let i = 0; i < n; i++) out[i] = read(dv, i * bytesPer, name);
    return out;
  };
}

function outOfRange(name: string, value: bigint | number, type: string, element: number): never {
  throw new HeedError('loadSafetensors', `tensor '${name}' (${type}) holds ${value}, outside the int32 range Heed loads integers as ` +
    `(WebGPU has no 64-bit integers), at element ${element} (flat position). Store it as I32 (values in [-2^31, 2^31)) or as floats.`);
}

/** Reads a little-endian int64 as a number, or throws when it does not fit int32. */
function readI64(dv: DataView, at: number, name: string): number {
  const lo = dv.getUint32(at, true);
  const hi = dv.getInt32(at + 4, true);
  if ((hi === 0 && lo <= 0x7fffffff) || (hi === -1 && lo >= 0x80000000)) return lo | 0;
  return outOfRange(name, dv.getBigInt64(at, true), 'I64', at / 8);
}

function readU64(dv: DataView, at: number, name: string): number {
  const lo = dv.getUint32(at, true);
  if (dv.getUint32(at + 4, true) === 0 && lo <= 0x7fffffff) return lo;
  return outOfRange(name, dv.getBigUint64(at, true), 'U64', at / 8);
}

/**
 * The float value of IEEE half-precision bits.
 *
 * @example
 * ```ts
 * f16BitsToFloat(0x3c00); // 1
 * ```
 */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** OCP FP8 E4M3 ("fn": no infinities, 0x7f/0xff are NaN). */
function e4m3ToFloat(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const exp = (b >> 3) & 0xf;
  const mant = b & 0x7;
  if (exp === 0xf && mant === 0x7) return NaN;
  if (exp === 0) return sign * mant * 2 ** -9;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * The float16 bits of a number, rounded to nearest even like PyTorch's `.half()` (overflow
 * gives ±Infinity, NaN gives 0x7e00 with the sign).
 *
 * @example
 * ```ts
 * floatToF16Bits(1); // 0x3c00
 * floatToF16Bits(65520); // 0x7c00 (Infinity)
 * ```
 */
export function floatToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to zero
    const full = mant | 0x800000;
    const shift = 14 - e;
    let half = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry into the exponent is correct
  return sign | half;
}

/**
 * The bfloat16 bits of a number, rounded to nearest even like PyTorch (NaN gives 0x7fc0).
 *
 * @example
 * ```ts
 * floatToBf16Bits(1); // 0x3f80
 * ```
 */
export function floatToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  if (Number.isNaN(f32Scratch[0])) return 0x7fc0;
  const x = u32Scratch[0];
  return Math.floor((x + 0x7fff + ((x >>> 16) & 1)) / 0x10000) & 0xffff;
}

/**
 * Every safetensors dtype: its size, the Heed dtype it loads as and its decoder. Floats load
 * as float32 (F64 rounds; out-of-range values become ±Infinity); integers load as int32 with a
 * range check (I64/U64/U32 values outside int32 are an error); BOOL loads as bool (nonzero = true).
 *
 * @example
 * ```ts
 * SAFETENSORS_DTYPES.I64.loadsAs; // 'int32'
 * SAFETENSORS_DTYPES.BF16.bytes;  // 2
 * ```
 */
export const SAFETENSORS_DTYPES: { readonly [D in SafetensorsDType]: SafetensorsDTypeSpec } = {
  F64: { bytes: 8, loadsAs: 'float32', decode: (b, n) => floats(n, (dv, i) => dv.getFloat64(i * 8, true))(b, n, '') },
  F32: { bytes: 4, loadsAs: 'float32', decode: direct((buf) => new Float32Array(buf), (dv, i) => dv.getFloat32(i * 4, true), 'f') },
  F16: { bytes: 2, loadsAs: 'float32', decode: (b, n) => floats(n, (dv, i) => f16BitsToFloat(dv.getUint16(i * 2, true)))(b, n, '') },
  BF16: { bytes: 2, loadsAs: 'float32', decode: (b, n) => floats(n, (dv, i) => { f32Scratch[0] = 0; u32Scratch[0] = dv.getUint16(i * 2, true) << 16; return f32Scratch[0]; })(b, n, '') },
  F8_E5M2: { bytes: 1, loadsAs: 'float32', decode: (b, n) => floats(n, (dv, i) => f16BitsToFloat(dv.getUint8(i) << 8))(b, n, '') },
  F8_E4M3: { bytes: 1, loadsAs: 'float32', decode: (b, n) => floats(n, (dv, i) => e4m3ToFloat(dv.getUint8(i)))(b, n, '') },
  I64: { bytes: 8, loadsAs: 'int32', decode: ints(8, readI64) },
  I32: { bytes: 4, loadsAs: 'int32', decode: direct((buf) => new Int32Array(buf), (dv, i) => dv.getInt32(i * 4, true), 'i') },
  I16: { bytes: 2, loadsAs: 'int32', decode: ints(2, (dv, at) => dv.getInt16(at, true)) },
  I8: { bytes: 1, loadsAs: 'int32', decode: ints(1, (dv, at) => dv.getInt8(at)) },
  U64: { bytes: 8, loadsAs: 'int32', decode: ints(8, readU64) },
  U32: { bytes: 4, loadsAs: 'int32', decode: ints(4, (dv, at, name) => { const v = dv.getUint32(at, true); return v <= 0x7fffffff ? v : outOfRange(name, v, 'U32', at / 4); }) },
  U16: { bytes: 2, loadsAs: 'int32', decode: ints(2, (dv, at) => dv.getUint16(at, true)) },
  U8: { bytes: 1, loadsAs: 'int32', decode: ints(1, (dv, at) => dv.getUint8(at)) },
  BOOL: { bytes: 1, loadsAs: 'bool', decode: (b, n) => Uint8Array.from(b.subarray(0, n), (v) => (v !== 0 ? 1 : 0)) },
};

/**
 * Whether `s` names a safetensors dtype.
 *
 * @example
 * ```ts
 * isSafetensorsDType('F32'); // true
 * isSafetensorsDType('float32'); // false
 * ```
 */
export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPES, s);
}

/**
 * The dtypes Heed writes: float32 tensors as F32 (or F16/BF16 on request), int32 as I32 (or
 * I64 on request, PyTorch's dtype for token ids and indices), bool as BOOL.
 *
 * @example
 * ```ts
 * const d: WritableDType = 'F16';
 * ```
 */
export type WritableDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'BOOL';

/** @internal Encodes values as little-endian bytes of `dtype`. */
export function encode(values: TypedArray, dtype: WritableDType): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case 'BOOL':
      return Uint8Array.from(values as Uint8Array, (v) => (v !== 0 ? 1 : 0));
    case 'F32':
    case 'I32': {
      if (littleEndianHost) return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + n * 4));
      const out = new Uint8Array(n * 4);
      const dv = view(out);
      for (let i = 0; i < n; i++) {
        if (dtype === 'F32') dv.setFloat32(i * 4, values[i], true);
        else dv.setInt32(i * 4, values[i], true);
      }
      return out;
    }
    case 'I64': {
      const out = new Uint8Array(n * 8);
      const dv = view(out);
      for (let i = 0; i < n; i++) dv.setBigInt64(i * 8, BigInt(values[i]), true);
      return out;
    }
    case 'F16':
    case 'BF16': {
      const out = new Uint8Array(n * 2);
      const dv = view(out);
      const conv = dtype === 'F16' ? floatToF16Bits : floatToBf16Bits;
      for (let i = 0; i < n; i++) dv.setUint16(i * 2, conv(values[i]), true);
      return out;
    }
  }
}
