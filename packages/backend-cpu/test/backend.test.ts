// SPDX-License-Identifier: MIT
// The backend object: identity, capabilities, registry integration, buffer lifecycle (copies
// in and out, use-after-free and double-free errors), fill and upload conversions.
import { describe, it, expect } from 'vitest';
import { BACKEND_API_VERSION, HeedError, PRIMITIVE_NAMES, findBackend, registerBackend, removeBackend } from '@heed/core';
import { CpuBackend, cpuBackend, createCpuBackend } from '@heed/backend-cpu';
import { asView } from './util.js';

describe('CpuBackend', () => {
  it('declares its identity and capabilities', () => {
    const b = createCpuBackend();
    expect(b).toBeInstanceOf(CpuBackend);
    expect(b.name).toBe('cpu');
    expect(b.apiVersion).toBe(BACKEND_API_VERSION);
    expect(b.capabilities.syncRead).toBe(true);
    expect([...b.capabilities.dtypes]).toEqual(['float32', 'int32', 'bool']);
    for (const p of PRIMITIVE_NAMES) expect(typeof b[p]).toBe('function');
    expect(cpuBackend.name).toBe('cpu');
    expect(cpuBackend.priority).toBe(1);
    expect(cpuBackend.create()).not.toBe(cpuBackend.create());
  });

  it('passes core registry validation', () => {
    registerBackend({ ...cpuBackend, name: 'cpu' });
    expect(findBackend('cpu')).toBeInstanceOf(CpuBackend);
    removeBackend('cpu');
  });

  it('copies on upload and on read', async () => {
    const b = createCpuBackend();
    const src = new Float32Array([1, 2, 3]);
    const id = b.upload(src, 'float32');
    src[0] = 100;
    const r1 = b.readSync(id, 'float32', 3);
    expect(Array.from(r1)).toEqual([1, 2, 3]);
    r1[1] = 100;
    expect(Array.from(await b.read(id, 'float32', 3))).toEqual([1, 2, 3]);
    expect(Array.from(b.readSync(id, 'float32', 2))).toEqual([1, 2]);
  });

  it('converts uploads and fills to the target dtype', () => {
    const b = createCpuBackend();
    expect(Array.from(b.readSync(b.upload(new Uint8Array([0, 2, 255]), 'bool'), 'bool', 3))).toEqual([0, 1, 1]);
    expect(Array.from(b.readSync(b.upload(new Float32Array([1.9, -1.9]), 'int32'), 'int32', 2))).toEqual([1, -1]);
    expect(Array.from(b.readSync(b.fill(3, 2.5, 'float32'), 'float32', 3))).toEqual([2.5, 2.5, 2.5]);
    expect(Array.from(b.readSync(b.fill(2, -7.9, 'int32'), 'int32', 2))).toEqual([-7, -7]);
    expect(Array.from(b.readSync(b.fill(2, 5, 'bool'), 'bool', 2))).toEqual([1, 1]);
    expect(b.readSync(b.fill(0, 1, 'float32'), 'float32', 0).length).toBe(0);
    const ints = b.readSync(b.upload(new Int32Array([1]), 'int32'), 'int32', 1);
    expect(ints).toBeInstanceOf(Int32Array);
  });

  it('throws clear errors on use-after-free and double free', async () => {
    const b = createCpuBackend();
    const id = b.upload(new Float32Array([1, 2]), 'float32');
    b.free(id);
    expect(() => b.readSync(id, 'float32', 2)).toThrow(HeedError);
    expect(() => b.unary('exp', asView(id, 'float32', [2]), 'float32')).toThrow(/^exp: the cpu buffer .* used after it was freed/);
    await expect(b.read(id, 'float32', 2)).rejects.toThrow(/freed/);
    expect(() => b.free(id)).toThrow(/freed twice/);
  });

  it('rejects foreign buffers, wrong dtypes and oversized reads', () => {
    const b = createCpuBackend();
    expect(() => b.readSync({}, 'float32', 1)).toThrow(/does not belong to the cpu backend/);
    const id = b.upload(new Float32Array([1]), 'float32');
    expect(() => b.readSync(id, 'int32', 1)).toThrow(/float32 buffer/);
    expect(() => b.readSync(id, 'float32', 2)).toThrow(/cannot read 2/);
  });

  it('fails loudly after dispose', () => {
    const b = createCpuBackend();
    b.dispose();
    expect(() => b.fill(1, 0, 'float32')).toThrow(/disposed/);
  });
});
