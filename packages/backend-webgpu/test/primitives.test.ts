// SPDX-License-Identifier: MIT
// Every primitive of the backend contract called directly on WebGPUBackend, against values
// computed here in plain JS (float64 from the float32 inputs): contiguous, transposed,
// broadcast (stride 0) and offset views, int32 and bool dtypes, zero-size and rank limits.
import { describe, expect, it } from 'vitest';
import { HeedError, UNARY_OPS, BINARY_OPS, normalAt, uniformAt, type BinaryOp, type UnaryOp } from '@heed/core';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, erfRef, expectClose, get, put, seeded, skipReason, view } from './gpu.js';

const roundHalfEven = (x: number) => { const f = Math.floor(x); const d = x - f; return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1; };
const UNARY_REF: { [K in UnaryOp]: (x: number) => number } = {
  neg: (x) => -x, abs: Math.abs, sign: Math.sign, exp: Math.exp, expm1: Math.expm1, log: Math.log, log1p: Math.log1p,
  sqrt: Math.sqrt, rsqrt: (x) => 1 / Math.sqrt(x), square: (x) => x * x, reciprocal: (x) => 1 / x, sin: Math.sin, cos: Math.cos,
  tanh: Math.tanh, sigmoid: (x) => 1 / (1 + Math.exp(-x)), relu: (x) => Math.max(x, 0), erf: erfRef, floor: Math.floor,
  ceil: Math.ceil, round: roundHalfEven, not: (x) => (x === 0 ? 1 : 0), isnan: (x) => (Number.isNaN(x) ? 1 : 0),
};
const pyMod = (a: number, b: number) => a - b * Math.floor(a / b);
const BINARY_REF: { [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b, pow: Math.pow,
  maximum: Math.max, minimum: Math.min, mod: pyMod, atan2: Math.atan2,
  eq: (a, b) => +(a === b), ne: (a, b) => +(a !== b), lt: (a, b) => +(a < b), le: (a, b) => +(a <= b), gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b), and: (a, b) => +(a !== 0 && b !== 0), or: (a, b) => +(a !== 0 || b !== 0), xor: (a, b) => +((a !== 0) !== (b !== 0)),
};
const BOOL_OUT = new Set<string>(['not', 'isnan', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor']);

describe.skipIf(!device)(`WebGPU primitives vs JS references${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const be = device ? new WebGPUBackend(device) : (null as unknown as WebGPUBackend);

  it('upload/read round-trips each dtype; bool is stored as 0/1 words', async () => {
    expect(await be.read(put(be, [1.5, -2, 3e-8], 'float32').data, 'float32', 3)).toEqual(new Float32Array([1.5, -2, 3e-8]));
    expect(await be.read(put(be, [-2147483648, 7, 2147483647], 'int32').data, 'int32', 3)).toEqual(new Int32Array([-2147483648, 7, 2147483647]));
    expect(await be.read(be.upload(new Uint8Array([0, 1, 5]), 'bool'), 'bool', 3)).toEqual(new Uint8Array([0, 1, 1]));
    expect(await be.read(be.upload(new Float32Array(0), 'float32'), 'float32', 0)).toEqual(new Float32Array(0));
  });

  it('fill, and copy of transposed, broadcast and offset views', async () => {
    expect(await get(be, be.fill(5, -1.25, 'float32'), 'float32', 5)).toEqual([-1.25, -1.25, -1.25, -1.25, -1.25]);
    expect(await get(be, be.fill(3, 7.9, 'int32'), 'int32', 3)).toEqual([7, 7, 7]);
    expect(await get(be, be.fill(2, 3, 'bool'), 'bool', 2)).toEqual([1, 1]);
    const x = put(be, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'float32');
    // transpose of the 3x4 window starting at element 0 -> 4x3
    expect(await get(be, be.copy(view(x.data, 'float32', [4, 3], [1, 4])), 'float32', 12)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    // rows 1..2 of a 3x4 matrix, every other column, offset 4
    expect(await get(be, be.copy(view(x.data, 'float32', [2, 2], [4, 2], 4)), 'float32', 4)).toEqual([4, 6, 8, 10]);
    // broadcast a row of 3 (offset 9) to 2x3
    expect(await get(be, be.copy(view(x.data, 'float32', [2, 3], [0, 1], 9)), 'float32', 6)).toEqual([9, 10, 11, 9, 10, 11]);
    const i = put(be, [5, -6, 7, -8], 'int32');
    expect(await get(be, be.copy(view(i.data, 'int32', [2, 2], [1, 2])), 'int32', 4)).toEqual([5, 7, -6, -8]);
  });

  it('every unary op on float32 (transposed view), plus int32 and bool variants', async () => {
    const values = [-3.5, -1, -0.5, -1e-5, 0, 1e-5, 0.3, 0.5, 1.5, 2.5, 10, NaN].map(Math.fround);
    const x = put(be, values, 'float32');
    const xt = view(x.data, 'float32', [4, 3], [1, 4]); // transpose of the 3x4 layout
    const order = [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11].map((k) => values[k]);
    for (const op of UNARY_OPS) {
      const out = BOOL_OUT.has(op) ? 'bool' : 'float32';
      const got = await get(be, be.unary(op, xt, out), out, 12);
      const want = order.map((v) => UNARY_REF[op](v));
      expectClose(got, want, `unary ${op}`, 3e-6, 1e-6);
    }
    const ints = put(be, [-7, 0, 3, -2147483647], 'int32');
    for (const op of ['neg', 'abs', 'sign', 'square', 'relu', 'floor', 'round'] as const) {
      const want = [-7, 0, 3, -2147483647].map((v) => (op === 'square' ? Math.imul(v, v) : UNARY_REF[op](v) | 0));
      expect(await get(be, be.unary(op, ints, 'int32'), 'int32', 4), `int ${op}`).toEqual(want);
    }
    expect(await get(be, be.unary('not', put(be, [1, 0, 1], 'bool'), 'bool'), 'bool', 3)).toEqual([0, 1, 0]);
    expect(await get(be, be.unary('round', put(be, [0.5, 1.5, 2.5, -0.5, -1.5, -2.5], 'float32'), 'float32'), 'float32', 6)).toEqual([0, 2, 2, -0, -2, -2]);
  });

  it('every binary op on float32 with a broadcast operand; int32 python mod, wrapping int pow, bool logic', async () => {
    const av = [-7, -3.5, -1, 0, 2, 5.5, 7, 3];
    const bv = [3, 2, -2, 5];
    const a = put(be, av, 'float32', [2, 4]);
    const b = view(put(be, bv, 'float32').data, 'float32', [2, 4], [0, 1]); // row broadcast
    for (const op of BINARY_OPS) {
      const out = BOOL_OUT.has(op) ? 'bool' : 'float32';
      const want = av.map((x, i) => BINARY_REF[op](x, bv[i % 4]));
      expectClose(await get(be, be.binary(op, a, b, out), out, 8), want, `binary ${op}`, 3e-6, 1e-6);
    }
    const ia = put(be, [-7, 7, -7, 7, 2, -2, 3, 0], 'int32');
    const ib = put(be, [3, -3, -3, 3, 31, 3, -1, 5], 'int32');
    expect(await get(be, be.binary('mod', ia, ib, 'int32'), 'int32', 8)).toEqual([2, -2, -1, 1, 2, 1, 0, 0]);
    expect(await get(be, be.binary('pow', ia, ib, 'int32'), 'int32', 8)).toEqual([-343, 0, 0, 343, -2147483648, -8, 0, 0]);
    expect(await get(be, be.binary('maximum', ia, ib, 'int32'), 'int32', 8)).toEqual([3, 7, -3, 7, 31, 3, 3, 5]);
    expect(await get(be, be.binary('lt', ia, ib, 'bool'), 'bool', 8)).toEqual([1, 0, 1, 0, 1, 1, 0, 1]);
    expect(await get(be, be.binary('add', put(be, [2147483647], 'int32'), put(be, [1], 'int32'), 'int32'), 'int32', 1)).toEqual([-2147483648]);
    const p = put(be, [1, 1, 0, 0], 'bool'), q = put(be, [1, 0, 1, 0], 'bool');
    expect(await get(be, be.binary('xor', p, q, 'bool'), 'bool', 4)).toEqual([0, 1, 1, 0]);
    expect(await get(be, be.binary('and', p, q, 'bool'), 'bool', 4)).toEqual([1, 0, 0, 0]);
  });

  it('where with a broadcast condition, and cast between all dtypes', async () => {
    const cond = view(put(be, [1, 0, 1], 'bool').data, 'bool', [2, 3], [0, 1]);
    const a = put(be, [1, 2, 3, 4, 5, 6], 'float32', [2, 3]);
    const b = view(put(be, [-1], 'float32').data, 'float32', [2, 3], [0, 0]);
    expect(await get(be, be.where(cond, a, b), 'float32', 6)).toEqual([1, -1, 3, 4, -1, 6]);
    const f = put(be, [-2.7, -0.5, 0, 0.9, 3.99, NaN, 1e10], 'float32');
    expect(await get(be, be.cast(f, 'int32'), 'int32', 7)).toEqual([-2, 0, 0, 0, 3, 0, 1e10 | 0]); // like an Int32Array store
    expect(await get(be, be.cast(f, 'bool'), 'bool', 7)).toEqual([1, 1, 0, 1, 1, 1, 1]);
    expect(await get(be, be.cast(put(be, [-3, 0, 16777217], 'int32'), 'float32'), 'float32', 3)).toEqual([-3, 0, 16777216]);
    expect(await get(be, be.cast(put(be, [0, 1], 'bool'), 'int32'), 'int32', 2)).toEqual([0, 1]);
  });

  it('reduce sum/prod/max/min over any axes, argmax/argmin first occurrence, int and bool inputs', async () => {
    const vals = seeded(24, 7, -2, 2);
    const x = put(be, vals, 'float32', [2, 3, 4]);
    const at = (i: number, j: number, k: number) => vals[i * 12 + j * 4 + k];
    const sumRef = (axes: number[]) => {
      const out: number[] = [];
      const keep = [0, 1, 2].filter((d) => !axes.includes(d));
      const dims = [2, 3, 4];
      const outShape = keep.map((d) => dims[d]);
      const n = outShape.reduce((p, q) => p * q, 1);
      for (let o = 0; o < n; o++) {
        let s = 0;
        for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) {
          const c = [i, j, k];
          let idx = 0;
          for (const d of keep) idx = idx * dims[d] + c[d];
          if (idx === o) s += at(i, j, k);
        }
        out.push(s);
      }
      return out;
    };
    for (const axes of [[0], [1], [2], [0, 2], [0, 1, 2]]) {
      const n = 24 / axes.reduce((p, d) => p * [2, 3, 4][d], 1);
      expectClose(await get(be, be.reduce('sum', x, axes, 'float32'), 'float32', n), sumRef(axes), `sum ${axes}`, 1e-5, 1e-6);
    }
    // transposed input: x^T over the last two axes, reduce the middle axis (original axis 2)
    const xt = view(x.data, 'float32', [2, 4, 3], [12, 1, 4]);
    const want = [0, 1].flatMap((i) => [0, 1, 2].map((j) => Math.max(...[0, 1, 2, 3].map((k) => at(i, j, k)))));
    expect(await get(be, be.reduce('max', xt, [1], 'float32'), 'float32', 6)).toEqual(want);
    const wantMin = [0, 1].flatMap((i) => [0, 1, 2, 3].map((k) => Math.min(...[0, 1, 2].map((j) => at(i, j, k)))));
    expect(await get(be, be.reduce('min', xt, [2], 'float32'), 'float32', 8)).toEqual(wantMin);
    expectClose(await get(be, be.reduce('prod', put(be, [1.5, -2, 3, 0.5], 'float32', [2, 2]), [1], 'float32'), 'float32', 2), [-3, 1.5], 'prod');
    const ties = put(be, [1, 5, 5, 0, 2, 2, NaN, 2], 'float32', [2, 4]);
    expect(await get(be, be.reduce('argmax', ties, [1], 'int32'), 'int32', 2)).toEqual([1, 2]);
    expect(await get(be, be.reduce('argmin', ties, [1], 'int32'), 'int32', 2)).toEqual([3, 2]);
    expect(await get(be, be.reduce('argmin', view(ties.data, 'float32', [4, 2], [1, 4]), [0], 'int32'), 'int32', 2)).toEqual([3, 2]);
    expect(await get(be, be.reduce('sum', put(be, [1, 0, 1, 1], 'bool', [2, 2]), [0, 1], 'int32'), 'int32', 1)).toEqual([3]);
    expect(await get(be, be.reduce('max', put(be, [-5, 9, 2147483647, -2147483648], 'int32'), [0], 'int32'), 'int32', 1)).toEqual([2147483647]);
    // long reductions use the workgroup kernel: sum, max and first-occurrence argmax of 3000 values
    const long = seeded(3000, 3, 0, 1);
    long[1234] = 5; long[2345] = 5;
    const lx = put(be, long, 'float32', [1, 3000]);
    expectClose(await get(be, be.reduce('sum', lx, [1], 'float32'), 'float32', 1), [long.reduce((s, v) => s + v, 0)], 'long sum', 1e-5);
    expect(await get(be, be.reduce('argmax', lx, [1], 'int32'), 'int32', 1)).toEqual([1234]);
    expect(await get(be, be.reduce('max', lx, [1], 'float32'), 'float32', 1)).toEqual([5]);
  });

  it('gather, indexSelect, scatterAdd (deterministic, duplicates) and concat', async () => {
    const x = put(be, [10, 11, 12, 20, 21, 22], 'float32', [2, 3]);
    const idx = put(be, [2, 0, 1, 1], 'int32', [2, 2]);
    expect(await get(be, be.gather(x, 1, idx), 'float32', 4)).toEqual([12, 10, 21, 21]);
    const xt = view(x.data, 'float32', [3, 2], [1, 3]); // [[10,20],[11,21],[12,22]]
    expect(await get(be, be.gather(xt, 0, put(be, [2, 0], 'int32', [1, 2])), 'float32', 2)).toEqual([12, 20]);
    const sel = put(be, [9, 1, 9, 0], 'int32');
    const every2 = view(sel.data, 'int32', [2], [2], 1); // [1, 0] picked from a strided index
    expect(await get(be, be.indexSelect(x, 0, every2), 'float32', 6)).toEqual([20, 21, 22, 10, 11, 12]);
    expect(await get(be, be.indexSelect(put(be, [1, 2, 3, 4], 'int32', [2, 2]), 1, put(be, [1, 1, 0], 'int32')), 'int32', 6)).toEqual([2, 2, 1, 4, 4, 3]);
    const si = put(be, [0, 2, 0, 1, 1, 1], 'int32', [2, 3]);
    const src = put(be, [1, 2, 3, 4, 5, 6], 'float32', [2, 3]);
    expect(await get(be, be.scatterAdd([2, 4], 1, si, src), 'float32', 8)).toEqual([4, 0, 2, 0, 0, 15, 0, 0]);
    expect(await get(be, be.scatterAdd([3, 3], 0, si, src), 'float32', 9)).toEqual([1, 0, 3, 4, 5, 6, 0, 2, 0]);
    expect(await get(be, be.scatterAdd([2, 3], 1, si, put(be, [1, 2, 3, 4, 5, 6], 'int32', [2, 3])), 'int32', 6)).toEqual([4, 0, 2, 0, 15, 0]);
    const a = put(be, [1, 2, 3, 4], 'int32', [2, 2]);
    const bt = view(put(be, [5, 6, 7, 8, 9, 10], 'int32').data, 'int32', [2, 3], [1, 2]); // transposed 3x2
    expect(await get(be, be.concat([a, bt], 1), 'int32', 10)).toEqual([1, 2, 5, 7, 9, 3, 4, 6, 8, 10]);
    expect(await get(be, be.concat([a, view(a.data, 'int32', [0, 2], [2, 1]), a], 0), 'int32', 8)).toEqual([1, 2, 3, 4, 1, 2, 3, 4]);
  });

  it('random: uniform is bit-exact with core uniformAt (counter wraps at 2^32), normal matches normalAt', async () => {
    const seed = 1234, offset = 4294967000, n = 600;
    const u = await get(be, be.random('uniform', n, seed, offset), 'float32', n);
    expect(u).toEqual(Array.from({ length: n }, (_, i) => uniformAt(seed, offset + i)));
    const z = await get(be, be.random('normal', 64, 99, 5), 'float32', 64);
    expectClose(z, Array.from({ length: 64 }, (_, i) => normalAt(99, 5 + i)), 'normal', 1e-5, 2e-5);
  });

  it('zero-size tensors do not dispatch; ranks above 8 and oversized buffers raise HeedError', async () => {
    const before = be.runtime.stats.dispatches;
    const empty = view(be.fill(0, 0, 'float32'), 'float32', [0, 3]);
    be.unary('exp', empty, 'float32');
    be.binary('add', empty, empty, 'float32');
    be.reduce('sum', empty, [1], 'float32');
    be.matmul(view(empty.data, 'float32', [1, 0, 3]), view(empty.data, 'float32', [1, 3, 0]));
    expect(be.runtime.stats.dispatches).toBe(before);
    expect(await get(be, be.reduce('sum', empty, [0], 'float32'), 'float32', 3)).toEqual([0, 0, 0]); // sum over an empty axis
    const nine = view(be.fill(1, 1, 'float32'), 'float32', Array(9).fill(1));
    expect(() => be.copy(nine)).toThrow(HeedError);
    expect(() => be.copy(nine)).toThrow(/rank 9/);
    const huge = be.capabilities.maxBufferBytes! / 4 + 16;
    expect(() => be.fill(huge, 0, 'float32')).toThrow(/fill: needs a \d+-byte buffer/);
  });
});

describe('vectorize (vec4 plans for elementwise kernels)', async () => {
  const { coalesce, vectorize } = await import('../src/layout.js');
  it('accepts aligned contiguous, row-broadcast and scalar operands, rejects the rest', () => {
    const contiguous = { offset: 0, strides: [128, 1] };
    const bias = { offset: 4, strides: [0, 1] };
    const scalar = { offset: 3, strides: [0, 0] };
    const v = vectorize(coalesce('add', [512, 128], [contiguous, bias, scalar]));
    expect(v?.plan.shape).toEqual([512, 32]);
    expect(v?.plan.operands).toEqual([{ offset: 0, strides: [32, 1] }, { offset: 1, strides: [0, 1] }, { offset: 3, strides: [0, 0] }]);
    expect(v?.scalar).toEqual([false, false, true]);
    expect(vectorize(coalesce('add', [4, 6], [{ offset: 0, strides: [6, 1] }]))?.plan.size).toBe(6); // coalesced to 24
    expect(vectorize(coalesce('add', [3, 5], [{ offset: 0, strides: [5, 1] }]))).toBeNull(); // 15 elements
    expect(vectorize(coalesce('add', [8, 8], [{ offset: 1, strides: [8, 1] }]))).toBeNull(); // misaligned offset
    expect(vectorize(coalesce('add', [8, 8], [{ offset: 0, strides: [1, 8] }]))).toBeNull(); // transposed
  });
});

describe.skipIf(!device)(`WebGPU vec4 elementwise path${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const be = device ? new WebGPUBackend(device) : (null as unknown as WebGPUBackend);
  it('matches the scalar path for contiguous, row-broadcast, scalar-broadcast and strided-outer operands', async () => {
    const x = seeded(8 * 12, 3, -2, 2), bias = seeded(16, 4, -1, 1);
    const xv = put(be, x, 'float32', [8, 12]);
    const bv = view(put(be, bias, 'float32').data, 'float32', [8, 12], [0, 1], 4); // bias[4..16) on every row
    const sv = view(put(be, [0, 2.5], 'float32').data, 'float32', [8, 12], [0, 0], 1); // scalar 2.5
    const rows = view(put(be, seeded(16 * 12, 5, -1, 1), 'float32').data, 'float32', [8, 12], [24, 1]); // every other row
    const rowsVals = Array.from({ length: 96 }, (_, i) => seeded(16 * 12, 5, -1, 1)[Math.floor(i / 12) * 24 + (i % 12)]);
    const w = be.where(put(be, x.map((v) => +(v > 0)), 'bool', [8, 12]), xv, sv);
    expectClose(await get(be, be.binary('add', xv, bv, 'float32'), 'float32', 96), x.map((v, i) => v + bias[4 + (i % 12)]), 'row broadcast');
    expectClose(await get(be, be.binary('mul', xv, sv, 'float32'), 'float32', 96), x.map((v) => v * 2.5), 'scalar broadcast');
    expectClose(await get(be, be.binary('sub', rows, xv, 'float32'), 'float32', 96), rowsVals.map((v, i) => v - x[i]), 'strided rows');
    expectClose(await get(be, w, 'float32', 96), x.map((v) => (v > 0 ? v : 2.5)), 'where');
    expect(await get(be, be.binary('gt', xv, sv, 'bool'), 'bool', 96)).toEqual(x.map((v) => +(v > 2.5)));
  });
});
