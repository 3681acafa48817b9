// SPDX-License-Identifier: MIT
// int64 ids in @heed/nn: BigInt64Array token ids feed Embedding and crossEntropy targets like
// int32 ones; safetensors I64 tensors round-trip (PyTorch's file -> Heed -> I64 bytes equal to
// PyTorch's -> Heed), and an I64 value outside int32 names the tensor, value and element.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HeedError, registerBackend, setBackend, tensor, type Tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Embedding, crossEntropy, loadSafetensors, readSafetensorsHeader, saveSafetensors } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const torchFile = new Uint8Array(readFileSync(new URL('../fixtures/safetensors-torch.safetensors', import.meta.url)));

function payload(bytes: Uint8Array, name: string): Uint8Array {
  const h = readSafetensorsHeader(bytes);
  const e = h.entries.find((x) => x.name === name);
  if (!e) throw new Error(`no ${name}`);
  return bytes.subarray(h.dataStart + e.begin, h.dataStart + e.end);
}

describe('int64 ids in nn', () => {
  it('Embedding looks up BigInt64Array ids like int32 ids', async () => {
    const emb = new Embedding(5, 2);
    const ids32 = tensor([[4, 0], [2, 2]], { dtype: 'int32' });
    const ids64 = tensor(new BigInt64Array([4n, 0n, 2n, 2n]), { shape: [2, 2] });
    expect(await emb.forward(ids64).array()).toEqual(await emb.forward(ids32).array());
  });

  it('crossEntropy takes int64 targets (and ignoreIndex -100 as a bigint)', async () => {
    const logits = tensor([[1, 2, 0.5], [0.1, -1, 3], [2, 2, 2]]);
    const want = await crossEntropy(logits, tensor([1, -100, 0], { dtype: 'int32' })).item();
    const got = await crossEntropy(logits, tensor(new BigInt64Array([1n, -100n, 0n]))).item();
    expect(got).toBe(want);
    // an independent value: mean of -log softmax over the two non-ignored rows
    const lse = (r: number[]): number => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expect(got).toBeCloseTo(((lse([1, 2, 0.5]) - 2) + (lse([2, 2, 2]) - 2)) / 2, 5);
  });

  it("safetensors I64 round trip: PyTorch's int64 tensor loads as int32 and saves back to PyTorch's exact bytes", async () => {
    const { tensors } = loadSafetensors(torchFile);
    const long = tensors.get('long') as Tensor;
    expect(long.dtype).toBe('int32');
    expect(Array.from(await long.data())).toEqual([-5, 0, 2147483647, -2147483648]);
    const bytes = await saveSafetensors({ long, ids: tensor(new BigInt64Array([7n, -1n])) }, undefined, { intDType: 'I64' });
    const header = readSafetensorsHeader(bytes);
    expect(header.entries.map((e) => [e.name, e.dtype])).toEqual([['ids', 'I64'], ['long', 'I64']]);
    expect(Array.from(payload(bytes, 'long'))).toEqual(Array.from(payload(torchFile, 'long')));
    const back = loadSafetensors(bytes).tensors;
    expect(Array.from(await (back.get('long') as Tensor).data())).toEqual([-5, 0, 2147483647, -2147483648]);
    expect(Array.from(await (back.get('ids') as Tensor).data())).toEqual([7, -1]);
    // the default stays I32
    expect(readSafetensorsHeader(await saveSafetensors({ long })).entries[0].dtype).toBe('I32');
    await expect(saveSafetensors({ long }, undefined, { intDType: 'I16' as 'I32' })).rejects.toThrow(/intDType must be 'I32' or 'I64'/);
  });

  it('an I64 value outside int32 names the tensor, the exact value and the element', () => {
    const json = new TextEncoder().encode(JSON.stringify({ ids: { dtype: 'I64', shape: [3], data_offsets: [0, 24] } }));
    const padded = Math.ceil(json.length / 8) * 8;
    const bytes = new Uint8Array(8 + padded + 24);
    const dv = new DataView(bytes.buffer);
    dv.setBigUint64(0, BigInt(padded), true);
    bytes.set(json, 8);
    bytes.fill(0x20, 8 + json.length, 8 + padded);
    dv.setBigInt64(8 + padded, 3n, true);
    dv.setBigInt64(8 + padded + 8, -4n, true);
    dv.setBigInt64(8 + padded + 16, 2n ** 40n, true);
    let error: unknown;
    try {
      loadSafetensors(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HeedError);
    expect((error as Error).message).toMatch(/tensor 'ids' \(I64\) holds 1099511627776, outside the int32 range/);
    expect((error as Error).message).toContain('at element 2');
  });
});
