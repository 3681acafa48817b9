// SPDX-License-Identifier: MIT
// No bad argument may poison the WebGPU backend. The primitives are called directly (bypassing
// core's validation) with unknown dtypes and ops, bad axes, views past their buffer, bad read
// sizes and shapes; each must throw a HeedError naming the op before anything is recorded or
// allocated, and afterwards older and new tensors must compute and read correctly. A kernel
// that fails to compile, or a dispatch that throws mid-batch, is reported once and the runtime
// keeps working.
import { describe, expect, it, vi } from 'vitest';
import { HeedError, type DType, type StridedView } from '@heed/core';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, expectClose, get, put, skipReason, view } from './gpu.js';

const bogus = 'float16' as DType;

/** The backend computes and reads correctly on an old tensor and on new ones. */
async function stillWorks(be: WebGPUBackend, old: StridedView): Promise<void> {
  expect(await get(be, be.binary('mul', old, old, 'float32'), 'float32', 3)).toEqual([1, 4, 9]);
  expect(await get(be, old.data, 'float32', 3)).toEqual([1, 2, 3]);
  const fresh = put(be, [4, 5, 6], 'float32');
  expect(await get(be, be.unary('neg', fresh, 'float32'), 'float32', 3)).toEqual([-4, -5, -6]);
  expect(await get(be, be.cast(fresh, 'int32'), 'int32', 3)).toEqual([4, 5, 6]);
  expect(await get(be, be.reduce('sum', fresh, [0], 'float32'), 'float32', 1)).toEqual([15]);
}

describe.skipIf(!device)(`WebGPU backend robustness${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it("cast(t, 'float16') throws a HeedError and leaves the backend usable (it used to poison every later op)", async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3], 'float32');
    const pending = be.unary('exp', x, 'float32'); // recorded in the same batch as the bad call
    expect(() => be.cast(x, bogus)).toThrow(HeedError);
    expect(() => be.cast(x, bogus)).toThrow(/^cast: unknown dtype 'float16'.*float32, int32, bool/);
    expectClose(await get(be, pending, 'float32', 3), [1, 2, 3].map(Math.exp), 'exp recorded before the bad call');
    await new Promise((r) => setTimeout(r, 20)); // let any error scope come back
    await stillWorks(be, x);
    be.dispose();
  });

  it('every primitive rejects unknown dtypes, ops, bad axes, views past their buffer and bad sizes, without leaking', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3], 'float32');
    const i = put(be, [0, 1], 'int32');
    const live = be.runtime.stats.live;
    const bad: [string, () => unknown, RegExp][] = [
      ['upload dtype', () => be.upload(new Float32Array(2), bogus), /^upload: unknown dtype 'float16'/],
      ['fill dtype', () => be.fill(3, 1, bogus), /^fill: unknown dtype 'float16'/],
      ['fill size', () => be.fill(-1, 1, 'float32'), /^fill: size must be a non-negative integer, got -1/],
      ['unary op', () => be.unary('cbrt' as never, x, 'float32'), /^unary: unknown op 'cbrt'/],
      ['unary out dtype', () => be.unary('neg', x, bogus), /^neg: unknown dtype 'float16'/],
      ['binary op', () => be.binary('hypot' as never, x, x, 'float32'), /^binary: unknown op 'hypot'/],
      ['binary shapes', () => be.binary('add', x, put(be, [1, 2], 'float32'), 'float32'), /^add: operand shapes \[3\] and \[2\] differ/],
      ['view dtype', () => be.copy({ ...x, dtype: bogus }), /^copy: unknown dtype 'float16'/],
      ['view past buffer', () => be.copy(view(x.data, 'float32', [4])), /^copy: a view of shape \[4\].*reaches element 3 of a buffer of 3/],
      ['negative stride', () => be.copy(view(x.data, 'float32', [3], [-1], 2)), /^copy: .*strides \[-1\].*non-negative integers/],
      ['rank mismatch', () => be.copy(view(x.data, 'float32', [3], [1, 1])), /^copy: a view of shape \[3\] has 2 strides/],
      ['where cond dtype', () => be.where(x, x, x), /^where: the condition must be bool, got float32/],
      ['reduce op', () => be.reduce('mean' as never, x, [0], 'float32'), /^reduce: unknown op 'mean'/],
      ['reduce axis', () => be.reduce('sum', x, [1], 'float32'), /^sum: axes \[1\] are not sorted unique axes of a rank-1 tensor/],
      ['argmax of an empty axis', () => be.reduce('argmax', view(x.data, 'float32', [3, 0], [1, 1]), [1], 'int32'), /^argmax: cannot take argmax over axis 1 of size 0 \(shape \[3, 0\]\)/],
      ['matmul rank', () => be.matmul(view(x.data, 'float32', [3]), view(x.data, 'float32', [3])), /^matmul: needs \[B, M, K\] x \[B, K, N\] \(or \[B1, B2, M, K\] x \[B1, B2, K, N\]\) views, got \[3\] and \[3\]/],
      ['matmul dtype', () => be.matmul(view(i.data, 'int32', [1, 1, 2]), view(x.data, 'float32', [1, 2, 1])), /^matmul: needs float32 operands, got int32 and float32/],
      ['gather axis', () => be.gather(x, 1, i), /^gather: axis 1 is out of range for a rank-1 tensor/],
      ['gather index dtype', () => be.gather(x, 0, { ...x }), /^gather: the index must be int32, got float32/],
      ['indexSelect index rank', () => be.indexSelect(x, 0, view(i.data, 'int32', [1, 2])), /^indexSelect: the index must be 1-D, got shape \[1, 2\]/],
      ['scatterAdd shapes', () => be.scatterAdd([3], 0, i, x), /^scatterAdd: index shape \[2\] and src shape \[3\] differ/],
      ['concat empty', () => be.concat([], 0), /^concat: needs at least one input/],
      ['random kind', () => be.random('cauchy' as never, 4, 1, 0), /^random: unknown kind 'cauchy'/],
      ['softmax dtype', () => be.softmax(i), /^softmax: needs float32, got int32/],
    ];
    for (const [label, call, message] of bad) {
      let err: unknown = null;
      try { call(); } catch (e) { err = e; }
      expect(err, label).toBeInstanceOf(HeedError);
      expect(String((err as Error).message), label).toMatch(message);
    }
    // Only the buffer uploaded by the 'binary shapes' case itself is live beyond `live`.
    expect(be.runtime.stats.live).toBe(live + 1);
    await expect(be.read(x.data, bogus, 3)).rejects.toThrow(/^read: unknown dtype 'float16'/);
    await expect(be.read(x.data, 'float32', 5)).rejects.toThrow(/^read: cannot read 5 elements of a buffer of 3/);
    await stillWorks(be, x);
    be.dispose();
  });

  it('bool fills and uploads treat NaN as true, like casts and the CPU backend', async () => {
    const be = new WebGPUBackend(device!);
    expect(await get(be, be.fill(2, NaN, 'bool'), 'bool', 2)).toEqual([1, 1]);
    expect(await get(be, be.upload(Float32Array.from([NaN, 0, -0, 2]), 'bool'), 'bool', 4)).toEqual([1, 0, 0, 1]);
    be.dispose();
  });

  it('a kernel that fails to compile is reported once at the next read, and the runtime keeps working', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3], 'float32');
    const before = be.unary('square', x, 'float32'); // same batch as the broken kernel
    const out = be.fill(3, 0, 'float32');
    const broken = '@group(0) @binding(0) var<storage, read> md: array<u32>;\n@compute @workgroup_size(1) fn main() { let a: u32 = -1.5; }';
    be.runtime.dispatch('brokenOp', broken, [(out as { buffer: GPUBuffer }).buffer], new Uint32Array(1), [1, 1, 1]);
    let err: unknown = null;
    try { await be.read(before, 'float32', 3); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(HeedError);
    expect(String(err)).toMatch(/brokenOp: a WebGPU kernel failed to compile/);
    // Reported once; the pipeline is not cached; old and new tensors work.
    await stillWorks(be, x);
    expect(await get(be, be.unary('square', x, 'float32'), 'float32', 3)).toEqual([1, 4, 9]);
    be.dispose();
  });

  it('generated WGSL that interpolated undefined or NaN is refused before compiling', () => {
    const be = new WebGPUBackend(device!);
    const out = be.fill(1, 0, 'float32') as { buffer: GPUBuffer };
    const code = '@group(0) @binding(0) var<storage, read> md: array<u32>;\n@group(0) @binding(1) var<storage, read_write> o: array<undefined>;';
    expect(() => be.runtime.dispatch('someOp', code, [out.buffer], new Uint32Array(1), [1, 1, 1])).toThrow(/^someOp: generated WGSL contains 'undefined'/);
    be.dispose();
  });

  it('a dispatch that throws mid-op leaves the batch consistent and frees what the op allocated', async () => {
    const be = new WebGPUBackend(device!);
    const x = put(be, [1, 2, 3], 'float32');
    const first = be.unary('neg', x, 'float32');
    const limit = device!.limits.maxComputeWorkgroupsPerDimension;
    expect(() => be.runtime.dispatch('neg', 'unused', [], new Uint32Array(1), [limit + 1, 1, 1])).toThrow(/neg: workgroup grid .* exceeds this device's limit/);
    const live = be.runtime.stats.live;
    // The second dispatch of a multi-dispatch op throws (as a device limit would).
    const real = be.runtime.dispatch.bind(be.runtime);
    let calls = 0;
    const spy = vi.spyOn(be.runtime, 'dispatch').mockImplementation((...args) => {
      if (++calls === 2) throw new HeedError(args[0], 'simulated failure of the second dispatch');
      real(...args);
    });
    expect(() => be.concat([x, x], 0)).toThrow(/concat: simulated failure/);
    calls = 0;
    const m = view(x.data, 'float32', [3]);
    expect(() => be.adam(m, m, m, m, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000 })).toThrow(/adam: simulated failure/);
    spy.mockRestore();
    expect(be.runtime.stats.live).toBe(live);
    expect(await get(be, first, 'float32', 3)).toEqual([-1, -2, -3]);
    expect(await get(be, be.concat([x, x], 0), 'float32', 6)).toEqual([1, 2, 3, 1, 2, 3]);
    await stillWorks(be, x);
    be.dispose();
  });
});
