// SPDX-License-Identifier: MIT
// safetensors I/O: loading a file written by PyTorch (packages/nn/fixtures/safetensors-torch.*,
// from scripts/fixtures/gen_optim_fixtures.py), float16/bfloat16 rounding identical to torch,
// bit-exact round trips, the reference byte layout, every malformed-file case (each must give
// a HeedError and allocate nothing absurd), a mutation fuzz, and atomic file writes.
// With HEED_ROUNDTRIP_OUT=<file>, also writes the file that the Python checker verifies
// (docs/safetensors-roundtrip.md).
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HeedError, arange, checkLeaks, memory, registerBackend, setBackend, tensor, zeros, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import {
  SAFETENSORS_DTYPES, f16BitsToFloat, floatToBf16Bits, floatToF16Bits, loadFile, loadSafetensors, readSafetensorsHeader, saveFile,
  saveSafetensors, writeFileAtomic,
} from '../src/io/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

type Num = number | 'NaN' | 'Infinity' | '-Infinity';
interface Expected { dtype: string; shape: number[]; data: (Num | boolean)[] }
const fixtureDir = new URL('../fixtures/', import.meta.url);
const torchFile = new Uint8Array(readFileSync(new URL('safetensors-torch.safetensors', fixtureDir)));
const expected = JSON.parse(readFileSync(new URL('safetensors-torch.json', fixtureDir), 'utf8')) as {
  metadata: Record<string, string>;
  tensors: Record<string, Expected>;
  conversions: { src: Num[]; f16Bits: number[]; bf16Bits: number[] };
};
const num = (v: Num | boolean): number | boolean => (typeof v === 'string' ? Number(v) : v);

/** Builds a safetensors buffer from a header object (or raw header text) and data bytes. */
function build(header: unknown, data: number[] | Uint8Array = [], rawHeader?: string, declaredLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32Entry = (shape: number[], begin: number, end: number) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

describe('loading a file written by PyTorch', () => {
  it('reads every dtype, shape and the metadata', () => {
    const { tensors, metadata } = loadSafetensors(torchFile);
    expect(metadata).toEqual(expected.metadata);
    expect([...tensors.keys()].sort()).toEqual(Object.keys(expected.tensors).sort());
    const header = readSafetensorsHeader(torchFile);
    for (const [name, want] of Object.entries(expected.tensors)) {
      const t = tensors.get(name) as Tensor;
      expect(header.entries.find((e) => e.name === name)?.dtype, name).toBe(want.dtype);
      expect(t.dtype, name).toBe(SAFETENSORS_DTYPES[want.dtype as 'F32'].loadsAs);
      expect([...t.shape], name).toEqual(want.shape);
      const got = t.dtype === 'bool' ? Array.from(t.dataSync(), (v) => v === 1) : Array.from(t.dataSync());
      expect(got, name).toEqual(want.data.map(num)); // exact: every value is representable in float32/int32
    }
    expect([...header.entries].map((e) => e.dtype)).toContain('BF16');
    for (const t of tensors.values()) t.dispose();
  });
});

describe('float16 / bfloat16 conversions match torch', () => {
  it('rounds float32 to F16 and BF16 bits exactly like torch (.half(), .bfloat16())', () => {
    const { src, f16Bits, bf16Bits } = expected.conversions;
    const values = src.map((v) => num(v) as number);
    expect(values.map(floatToF16Bits)).toEqual(f16Bits);
    expect(values.map(floatToBf16Bits)).toEqual(bf16Bits);
  });

  it('F16 decode/encode is the identity on all 65536 bit patterns (NaNs stay NaN)', () => {
    let mismatches = 0;
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToFloat(h);
      if (Number.isNaN(v)) {
        if ((floatToF16Bits(v) & 0x7fff) !== 0x7e00) mismatches++;
      } else if (floatToF16Bits(v) !== h) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(floatToBf16Bits(NaN)).toBe(0x7fc0);
  });
});

/** The tensors the Python checker expects (keep in sync with heed_expected() in the script). */
function roundTripTensors(): Record<string, Tensor> {
  return {
    weights: arange(12, undefined, undefined, { dtype: 'float32' }).mul(0.25).sub(1).reshape([3, 4]),
    ids: tensor(new Int32Array([7, -3, 2147483647, -2147483648]), { shape: [4] }),
    flags: tensor([true, false, false, true]),
    half: tensor([0.1, -2.5, 1000, 6.0e-5]),
    brain: tensor([0.1, -2.5, 1.0e30]),
    scalar: tensor(-0.5),
    empty: zeros([2, 0]),
  };
}
const roundTripDTypes = (name: string) => (name === 'half' ? 'F16' : name === 'brain' ? 'BF16' : 'F32');

describe('writing', () => {
  it('round-trips bit-exactly and follows the reference layout', async () => {
    const src = roundTripTensors();
    const bytes = await saveSafetensors(src, { producer: 'heed', purpose: 'roundtrip' }, { floatDType: roundTripDTypes });
    const out = process.env.HEED_ROUNDTRIP_OUT;
    if (out) writeFileSync(out, bytes);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(headerText.startsWith('{"__metadata__":{"producer":"heed","purpose":"roundtrip"},"empty":{"dtype":"F32"')).toBe(true);
    expect(/^[^ ]*} *$/.test(headerText)).toBe(true); // only trailing space padding
    const header = readSafetensorsHeader(bytes);
    // F32/I32 (4 bytes) first, sorted by name, then F16/BF16, then BOOL
    expect(header.entries.map((e) => e.name)).toEqual(['empty', 'ids', 'scalar', 'weights', 'brain', 'half', 'flags']);
    expect(header.entries.map((e) => e.dtype)).toEqual(['F32', 'I32', 'F32', 'F32', 'BF16', 'F16', 'BOOL']);
    const { tensors, metadata } = loadSafetensors(bytes);
    expect(metadata).toEqual({ producer: 'heed', purpose: 'roundtrip' });
    for (const [name, t] of Object.entries(src)) {
      const got = tensors.get(name) as Tensor;
      expect([...got.shape], name).toEqual([...t.shape]);
      expect(got.dtype).toBe(t.dtype);
      const want = Array.from(t.dataSync());
      const rounded = name === 'half' ? want.map((v) => f16BitsToFloat(floatToF16Bits(v)))
        : name === 'brain' ? want.map((v) => new Float32Array(new Uint32Array([floatToBf16Bits(v) << 16]).buffer)[0]) : want;
      expect(Array.from(got.dataSync()), name).toEqual(rounded);
    }
    expect(Array.from((tensors.get('half') as Tensor).dataSync())).not.toEqual(Array.from(src.half.dataSync())); // really rounded
  });

  it('keeps the data order in the header for integer-like names', async () => {
    const bytes = await saveSafetensors({ b: tensor([1]), 10: tensor([2]), 2: tensor([3]) }, { m: 'x' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd();
    expect(text).toBe('{"__metadata__":{"m":"x"},"10":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
      '"2":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}');
    expect(Array.from((loadSafetensors(bytes).tensors.get('2') as Tensor).dataSync())).toEqual([3]);
    expect(loadSafetensors(build({ __metadata__: null })).metadata).toEqual({});
  });

  it('writes an empty file and rejects bad input', async () => {
    const empty = await saveSafetensors(new Map());
    expect(Array.from(empty)).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
    expect(loadSafetensors(empty).tensors.size).toBe(0);
    await expect(saveSafetensors({ __metadata__: tensor([1]) })).rejects.toThrow(/'__metadata__' is reserved/);
    await expect(saveSafetensors({ a: tensor([1]) }, { n: 1 as unknown as string })).rejects.toThrow(/metadata must map strings to strings/);
    await expect(saveSafetensors({ a: tensor([1]) }, undefined, { floatDType: 'F8' as 'F16' })).rejects.toThrow(/floatDType must be/);
    const gone = tensor([1]);
    gone.dispose();
    await expect(saveSafetensors({ gone })).rejects.toThrow(/was disposed/);
  });
});

describe('malformed files give clear errors', () => {
  const valid = () => build({ a: f32Entry([2], 0, 8), b: f32Entry([1], 8, 12) }, new Uint8Array(12));
  const cases: [string, () => Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', () => new Uint8Array([1, 2, 3]), /starts with an 8-byte header length/],
    ['header length over 100 MB', () => build({}, [], undefined, 2n ** 40n), /exceeds the 100000000-byte limit/],
    ['header length past the end', () => build({}, [], undefined, 1000n), /larger than the rest of the file/],
    ['header not starting with {', () => build(null, [], '[1, 2]'), /must be a JSON object starting with '\{'/],
    ['header not UTF-8', () => { const b = build(null, [], '{"a":"xx"}'); b[15] = 0xff; return b; }, /not valid UTF-8/],
    ['header not JSON', () => build(null, [], '{"a": '), /not valid JSON/],
    ['entry not an object', () => build({ a: 5 }), /header entry 'a' must be an object/],
    ['entry an array', () => build({ a: [1, 2] }), /must be an object \{dtype, shape, data_offsets\}, got an array/],
    ['unknown dtype', () => build({ a: { dtype: 'F12', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /unknown dtype "F12"; known: F64, F32/],
    ['negative dim', () => build({ a: f32Entry([-1], 0, 4) }, new Uint8Array(4)), /invalid shape \[-1\]/],
    ['fractional dim', () => build({ a: f32Entry([1.5], 0, 4) }, new Uint8Array(4)), /invalid shape \[1.5\]/],
    ['shape not an array', () => build({ a: { dtype: 'F32', shape: 4, data_offsets: [0, 16] } }, new Uint8Array(16)), /invalid shape 4/],
    ['offsets reversed', () => build({ a: f32Entry([0], 4, 0) }, new Uint8Array(4)), /invalid data_offsets \[4,0\]/],
    ['offsets not a pair', () => build({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)), /invalid data_offsets \[0\]/],
    ['size mismatch', () => build({ a: f32Entry([2, 3], 0, 20) }, new Uint8Array(20)), /needs 24 bytes but data_offsets \[0, 20\] span 20/],
    ['absurd shape', () => build({ a: f32Entry([1e15, 1e15], 0, 4) }, new Uint8Array(4)), /has too many elements/],
    ['huge but consistent shape, truncated data', () => build({ a: f32Entry([1e6, 1e3], 0, 4e9) }, new Uint8Array(8)), /run past the end of the data \(8 bytes\)/],
    ['offsets out of range', () => build({ a: f32Entry([2], 0, 8) }, new Uint8Array(4)), /run past the end of the data/],
    ['overlapping offsets', () => build({ a: f32Entry([2], 0, 8), b: f32Entry([2], 4, 12) }, new Uint8Array(12)), /overlap the previous tensor, which ends at 8/],
    ['hole between tensors', () => build({ a: f32Entry([1], 0, 4), b: f32Entry([1], 8, 12) }, new Uint8Array(12)), /starts at byte 8 but the previous tensor ends at 4/],
    ['trailing garbage', () => { const v = valid(); const b = new Uint8Array(v.length + 3); b.set(v); return b; }, /3 trailing bytes after the last tensor/],
    ['metadata not strings', () => build({ __metadata__: { a: 1 } }), /__metadata__ must be an object mapping strings to strings/],
    ['I64 out of int32 range', () => build({ a: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 0]), /holds 2147483648, outside the int32 range/],
    ['U32 out of int32 range', () => build({ a: { dtype: 'U32', shape: [1], data_offsets: [0, 4] } }, [255, 255, 255, 255]), /holds 4294967295/],
  ];

  it('accepts the valid base file', () => {
    const { tensors } = loadSafetensors(valid());
    expect([...tensors.keys()]).toEqual(['a', 'b']);
    for (const t of tensors.values()) t.dispose();
  });

  for (const [name, make, message] of cases) {
    it(name, async () => {
      const bytes = make();
      await checkLeaks(() => {
        let error: unknown = null;
        try {
          loadSafetensors(bytes);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(HeedError);
        expect((error as Error).message).toMatch(/^loadSafetensors: /);
        expect((error as Error).message).toMatch(message);
      });
    });
  }

  it('loads I64 values inside int32 and all integer types', () => {
    const data = [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 9];
    const bytes = build({
      a: { dtype: 'I64', shape: [2], data_offsets: [0, 16] },
      b: { dtype: 'I16', shape: [1], data_offsets: [16, 18] },
      c: { dtype: 'I8', shape: [1], data_offsets: [18, 19] },
    }, data);
    const { tensors } = loadSafetensors(bytes);
    expect(Array.from((tensors.get('a') as Tensor).dataSync())).toEqual([2147483647, -2147483648]);
    expect(Array.from((tensors.get('b') as Tensor).dataSync())).toEqual([-2]);
    expect(Array.from((tensors.get('c') as Tensor).dataSync())).toEqual([9]);
  });

  it('fuzz: random corruptions of a real file either load or raise a HeedError, and leak nothing', async () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    let loaded = 0;
    let rejected = 0;
    const before = memory().numBuffers;
    for (let i = 0; i < 400; i++) {
      const b = torchFile.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(rand() * Math.min(b.length, 8 + 700))] = Math.floor(rand() * 256);
      const cut = rand() < 0.2 ? b.subarray(0, Math.floor(rand() * b.length)) : b;
      try {
        const { tensors } = loadSafetensors(cut);
        for (const t of tensors.values()) t.dispose();
        loaded++;
      } catch (e) {
        expect(e).toBeInstanceOf(HeedError);
        rejected++;
      }
    }
    expect(memory().numBuffers).toBe(before);
    expect(rejected).toBeGreaterThan(100);
    expect(loaded + rejected).toBe(400);
  });
});

describe('files (Node)', () => {
  it('saveFile/loadFile write atomically, overwrite, and leave no temp files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heed-st-'));
    const path = join(dir, 'model.safetensors');
    await saveFile(path, { w: tensor([[1, 2], [3, 4]]) }, { v: '1' });
    await saveFile(path, { w: tensor([[5, 6], [7, 8]]) }, { v: '2' });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const { tensors, metadata } = await loadFile(path);
    expect(metadata).toEqual({ v: '2' });
    expect(Array.from((tensors.get('w') as Tensor).dataSync())).toEqual([5, 6, 7, 8]);
    await expect(writeFileAtomic(join(dir, 'missing', 'x.safetensors'), new Uint8Array(8))).rejects.toThrow(/writeFileAtomic: could not write/);
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    await expect(loadFile(join(dir, 'nope.safetensors'))).rejects.toThrow(/readFileBytes: could not read/);
  });
});
