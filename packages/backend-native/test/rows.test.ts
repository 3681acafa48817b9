// SPDX-License-Identifier: MIT
// Native row kernels (rows.c: softmax, log-softmax, LayerNorm, GELU, sum/max/min/prod over rows
// and columns) against float64 formulas and the reference kernels, with a counting provider that
// proves the native kernel ran (or declined: non-contiguous views, non-float32 data, axes that are
// not one run, empty tensors, arg-reductions — the backend's own kernels then answer). Also:
// results identical bit for bit with 1 and 2 OpenMP threads above the parallel threshold, NaN/Inf
// handled like the WASM kernels, inputs from outside the heap, writes confined to the output
// block, and out-of-range addresses rejected.
import { describe, expect, it } from 'vitest';
import type { DataId, ReduceOp, StridedView } from '@heed/core';
import { CpuBackend, type NativeKernels } from '@heed/backend-cpu';
import { loadAddon } from '@heed/backend-native';
import { randomFloats as random } from './random-data.mjs';

const { addon } = loadAddon();
addon.setThreads(2);
type RowKernel = 'softmax' | 'layerNorm' | 'gelu' | 'reduceRows' | 'reduceCols';
const ran: Record<RowKernel, number> = { softmax: 0, layerNorm: 0, gelu: 0, reduceRows: 0, reduceCols: 0 };
const counted: NativeKernels = {
  bind: (h) => addon.bind(h),
  matmul: (...a) => addon.matmul(...a),
  softmax: (...a) => { const ok = addon.softmax!(...a); if (ok) ran.softmax++; return ok; },
  layerNorm: (...a) => { const ok = addon.layerNorm!(...a); if (ok) ran.layerNorm++; return ok; },
  gelu: (...a) => { const ok = addon.gelu!(...a); if (ok) ran.gelu++; return ok; },
  reduceRows: (...a) => { const ok = addon.reduceRows!(...a); if (ok) ran.reduceRows++; return ok; },
  reduceCols: (...a) => { const ok = addon.reduceCols!(...a); if (ok) ran.reduceCols++; return ok; },
};
const nat = new CpuBackend({ threads: 2, native: { name: 'counted rows', kernels: counted } });
const wasm = new CpuBackend({ fast: true, threads: 1 });
const ref = new CpuBackend({ fast: false });

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const dense = (shape: readonly number[]) => shape.map((_, d) => size(shape.slice(d + 1)));

function on(be: CpuBackend, raw: Float32Array, shape: number[], strides = dense(shape), offset = 0): StridedView {
  return { data: be.upload(raw, 'float32'), dtype: 'float32', shape, strides, offset };
}

function read(be: CpuBackend, id: DataId | null, n: number): Float32Array {
  expect(id, 'the kernel declined').not.toBeNull();
  return be.readSync(id!, 'float32', n) as Float32Array;
}

/** Max of |a-b| / (atol + rtol |b|) (<= 1 passes); NaN must match NaN, infinities exactly. */
function closeness(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i]) || !Number.isFinite(b[i])) {
      expect(a[i], `element ${i}`).toBe(b[i]);
      continue;
    }
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i])));
  }
  return worst;
}

/** Runs `f` and returns how many times `kernel` ran natively meanwhile, with f's result. */
function counting<T>(kernel: RowKernel, f: () => T): [number, T] {
  const before = ran[kernel];
  const out = f();
  return [ran[kernel] - before, out];
}

function softmax64(x: Float32Array, n: number, log: boolean): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, x[r * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[r * n + j] - m);
    for (let j = 0; j < n; j++) out[r * n + j] = log ? x[r * n + j] - m - Math.log(s) : Math.exp(x[r * n + j] - m) / s;
  }
  return out;
}

describe('native softmax / logSoftmax', () => {
  for (const shape of [[1], [3, 17], [2, 5, 129], [64, 1030], [4, 8, 64, 64]]) {
    it(`over the last axis of [${shape}] matches float64`, () => {
      const n = shape[shape.length - 1];
      const raw = random(size(shape), n + shape.length, 8);
      for (const log of [false, true]) {
        const x = on(nat, raw, shape);
        const [count, id] = counting('softmax', () => (log ? nat.logSoftmax! : nat.softmax!)(x));
        expect(count).toBe(1);
        expect(closeness(read(nat, id, raw.length), softmax64(raw, n, log), 2e-6, 1e-7)).toBeLessThanOrEqual(1);
      }
    });
  }

  it('reads views with an offset and buffers from outside the heap in place of contiguous ones', () => {
    const raw = random(7 + 6 * 33, 3, 4);
    const want = softmax64(raw.subarray(7), 33, false);
    const [c1, a] = counting('softmax', () => nat.softmax!(on(nat, raw, [6, 33], [33, 1], 7)));
    const [c2, b] = counting('softmax', () => nat.softmax!(on(ref, raw, [6, 33], [33, 1], 7)));
    expect([c1, c2]).toEqual([1, 1]);
    expect(closeness(read(nat, a, want.length), want, 2e-6, 1e-7)).toBeLessThanOrEqual(1);
    expect(Array.from(read(nat, b, want.length))).toEqual(Array.from(read(nat, a, want.length)));
  });

  it('handles NaN, -Infinity and huge values like the WASM kernel', () => {
    const rows = [[1, NaN, 2, 3], [-Infinity, 0, 1, -Infinity], [3e38, 3e38, -3e38, 0], [-Infinity, -Infinity, -Infinity, -Infinity]];
    const raw = Float32Array.from(rows.flat());
    for (const log of [false, true]) {
      const got = read(nat, (log ? nat.logSoftmax! : nat.softmax!)(on(nat, raw, [4, 4])), 16);
      const want = read(wasm, (log ? wasm.logSoftmax! : wasm.softmax!)(on(wasm, raw, [4, 4])), 16);
      expect(closeness(got, want, 1e-6, 1e-7), `log=${log}`).toBeLessThanOrEqual(1);
    }
    const got = read(nat, nat.logSoftmax!(on(nat, raw, [4, 4])), 16);
    expect(got[8]).toBeCloseTo(-Math.LN2, 6); // (x - m) - log s, not x - (m + log s)
  });
});

describe('native layerNorm', () => {
  for (const [rows, n] of [[1, 1], [3, 17], [5, 129], [512, 128], [256, 768]]) {
    it(`[${rows}, ${n}] with and without weight/bias matches float64`, () => {
      const x = random(rows * n, n + rows, 3);
      const w = random(n, 1);
      const b = random(n, 2);
      for (const [hasW, hasB] of [[false, false], [true, true], [true, false], [false, true]]) {
        const [count, id] = counting('layerNorm', () => nat.layerNorm!(on(nat, x, [rows, n]), hasW ? on(nat, w, [n]) : null, hasB ? on(nat, b, [n]) : null, 1e-5));
        expect(count).toBe(1);
        const want = new Float64Array(x.length);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * n, r * n + n));
          const mean = row.reduce((a, v) => a + v, 0) / n;
          const v = row.reduce((a, q) => a + (q - mean) ** 2, 0) / n;
          row.forEach((q, j) => { want[r * n + j] = ((q - mean) / Math.sqrt(v + 1e-5)) * (hasW ? w[j] : 1) + (hasB ? b[j] : 0); });
        }
        expect(closeness(read(nat, id, x.length), want, 1e-5, 1e-5), `w=${hasW} b=${hasB}`).toBeLessThanOrEqual(1);
      }
    });
  }
});

describe('native gelu', () => {
  it('erf and tanh forms match float64 (incl. NaN, infinities and huge values)', () => {
    const x = random(70_000, 4, 6);
    x.set([NaN, Infinity, -Infinity, 1e30, -1e30, 0, -0, 30, -30, 9.5, -9.5], 0);
    const erf = read(ref, ref.unary('erf', on(ref, x.map((v) => v * Math.SQRT1_2), [x.length]), 'float32'), x.length);
    const c = Math.sqrt(2 / Math.PI);
    for (const approximate of ['tanh', 'none'] as const) {
      const [count, id] = counting('gelu', () => nat.gelu!(on(nat, x, [10, 7000]), approximate));
      expect(count).toBe(1);
      const got = read(nat, id, x.length);
      const want = Array.from(x, (v, i) => (approximate === 'tanh' ? 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))) : 0.5 * v * (1 + erf[i])));
      const specials = read(wasm, wasm.gelu!(on(wasm, x.subarray(0, 11), [11]), approximate), 11);
      expect(Array.from(got.subarray(0, 5)), approximate).toEqual(Array.from(specials.subarray(0, 5))); // NaN, inf, -inf -> NaN, 1e30, -0
      expect(closeness(got.subarray(5), want.slice(5), 2e-6, 2e-6), approximate).toBeLessThanOrEqual(1);
    }
  });
});

describe('native reductions', () => {
  const cases: [number[], number[]][] = [
    [[129], [0]], [[3, 17, 129], [2]], [[3, 17, 129], [1, 2]], [[3, 17, 129], [0]], [[3, 17, 129], [0, 1]],
    [[3, 17, 129], [1]], [[17, 3], [1]], [[1031, 257], [1]], [[1031, 257], [0]], [[4, 1, 6, 1], [1, 2]], [[2, 300_000], [1]], [[70, 2100], [0]], [[3, 50, 2100], [1]],
  ];
  for (const [shape, axes] of cases) {
    it(`sum, max, min and prod of [${shape}] over [${axes}] match the reference`, () => {
      const raw = random(size(shape), shape.length * 7 + axes[0]);
      const outSize = size(shape.filter((_, d) => !axes.includes(d)));
      for (const op of ['sum', 'max', 'min', 'prod'] as const) {
        const data = op === 'prod' ? raw.map((v) => 1 + v / 64) : raw.slice();
        if (op !== 'prod') data[5] = NaN; // NaN propagates through sum, max and min
        const kernel = axes[axes.length - 1] === shape.length - 1 || shape.slice(axes[axes.length - 1] + 1).every((d) => d === 1) ? 'reduceRows' : 'reduceCols';
        const [count, id] = counting(kernel, () => nat.reduce(op, on(nat, data, shape), axes, 'float32'));
        expect(count, op).toBeGreaterThanOrEqual(1);
        const want = read(ref, ref.reduce(op, on(ref, data, shape), axes, 'float32'), outSize);
        expect(closeness(read(nat, id, outSize), want, op === 'prod' ? 1e-5 : 1e-6, 1e-6), op).toBeLessThanOrEqual(1);
      }
    });
  }

  it('sums a million values as accurately as float64 accumulation', () => {
    const n = 1_000_000;
    const [count, id] = counting('reduceRows', () => nat.reduce('sum', on(nat, new Float32Array(n).fill(0.1), [n]), [0], 'float32'));
    expect(count).toBe(1);
    expect(Math.abs(read(nat, id, 1)[0] - n * Math.fround(0.1))).toBeLessThan(0.01);
  });

  it('gives the same bits on 1 and 2 threads above the parallel threshold', () => {
    const shapes: [number[], number[], ReduceOp][] = [[[3, 200_000], [1], 'sum'], [[1, 600_000], [1], 'prod'], [[2048, 512], [0], 'sum'], [[1024, 1024], [1], 'max']];
    const results: Float32Array[][] = [];
    for (const threads of [1, 2]) {
      addon.setThreads(threads);
      const round: Float32Array[] = [];
      for (const [shape, axes, op] of shapes) {
        const raw = random(size(shape), 9).map((v) => (op === 'prod' ? 1 + v / 1e4 : v));
        round.push(read(nat, nat.reduce(op, on(nat, raw, shape), axes, 'float32'), size(shape) / size(axes.map((a) => shape[a]))));
      }
      const x = random(1024 * 512, 5, 4);
      round.push(read(nat, nat.softmax!(on(nat, x, [1024, 512])), x.length));
      round.push(read(nat, nat.layerNorm!(on(nat, x, [1024, 512]), null, null, 1e-5), x.length));
      round.push(read(nat, nat.gelu!(on(nat, x, [1024 * 512]), 'none'), x.length));
      results.push(round);
    }
    addon.setThreads(2);
    results[1].forEach((r, i) => expect(Array.from(r), `result ${i}`).toEqual(Array.from(results[0][i])));
  });
});

describe('native row kernels decline what they do not cover', () => {
  const all = () => Object.values(ran).reduce((a, b) => a + b, 0);

  it('non-contiguous views, split axes, strided weights and empty tensors (the WASM kernels decline too)', () => {
    const raw = random(6 * 8, 1);
    const t = on(nat, raw, [8, 6], [1, 8]); // a transposed view
    const w = on(nat, random(12, 3), [6], [2]); // a strided weight
    const x = on(nat, raw, [8, 6]);
    const empty = on(nat, new Float32Array(0), [0, 5]);
    const before = all();
    const bytes = nat.fastInfo()!.heap.bytesInUse;
    expect(nat.softmax!(t)).toBeNull();
    expect(nat.logSoftmax!(t)).toBeNull();
    expect(nat.gelu!(t, 'none')).toBeNull();
    expect(nat.layerNorm!(t, null, null, 1e-5)).toBeNull();
    expect(nat.layerNorm!(x, w, null, 1e-5)).toBeNull();
    expect(nat.softmax!(empty)).toBeNull();
    expect(nat.layerNorm!(empty, null, null, 1e-5)).toBeNull();
    expect(all()).toBe(before);
    expect(nat.fastInfo()!.heap.bytesInUse).toBe(bytes); // nothing left allocated by the declined calls
    for (const v of [t.data, w.data, x.data, empty.data]) nat.free(v);
  });

  it('reductions of strided views, split axes, int32 data and arg-reductions run elsewhere with the right values', () => {
    const raw = random(6 * 8, 1);
    const before = all();
    const t = on(nat, raw, [8, 6], [1, 8]);
    const s = read(nat, nat.reduce('sum', t, [1], 'float32'), 8);
    expect(closeness(s, read(ref, ref.reduce('sum', on(ref, raw, [8, 6], [1, 8]), [1], 'float32'), 8), 1e-6, 1e-6)).toBeLessThanOrEqual(1);
    const raw3 = random(60, 2);
    const split = read(nat, nat.reduce('min', on(nat, raw3, [3, 4, 5]), [0, 2], 'float32'), 4);
    expect(Array.from(split)).toEqual(Array.from(read(ref, ref.reduce('min', on(ref, raw3, [3, 4, 5]), [0, 2], 'float32'), 4)));
    const ints: StridedView = { data: nat.upload(Int32Array.from([1, 2, 3, 4]), 'int32'), dtype: 'int32', shape: [2, 2], strides: [2, 1], offset: 0 };
    expect(Array.from(nat.readSync(nat.reduce('sum', ints, [1], 'int32'), 'int32', 2))).toEqual([3, 7]);
    expect(Array.from(nat.readSync(nat.reduce('argmax', on(nat, Float32Array.from([1, 5, 2, 0]), [2, 2]), [1], 'int32'), 'int32', 2))).toEqual([1, 0]);
    expect(all()).toBe(before);
  });

  it('each kernel writes exactly its output block', () => {
    const addr = (id: DataId) => (id as unknown as { ptr: number }).ptr;
    const x = nat.upload(random(6 * 40, 8, 3), 'float32');
    const w = nat.upload(random(40, 9), 'float32');
    const sentinel = 12345.5;
    const runs: [string, number, (out: number) => boolean][] = [
      ['softmax', 240, (o) => addon.softmax!(addr(x), o, 6, 40, 0)],
      ['logSoftmax', 240, (o) => addon.softmax!(addr(x), o, 6, 40, 1)],
      ['layerNorm', 240, (o) => addon.layerNorm!(addr(x), addr(w), addr(w), o, 6, 40, 1e-5)],
      ['gelu', 239, (o) => addon.gelu!(addr(x), o, 239, 1)],
      ['reduceRows', 6, (o) => addon.reduceRows!(3, addr(x), o, 6, 40)],
      ['reduceCols', 40, (o) => addon.reduceCols!(2, addr(x), o, 6, 40)],
    ];
    for (const [label, count, run] of runs) {
      const out = nat.upload(new Float32Array(count + 34).fill(sentinel), 'float32');
      nat.free(nat.softmax!(on(nat, random(4, 1), [4]))!); // binds the heap after the uploads
      expect(run(addr(out) + 4 * 17), label).toBe(true);
      const got = nat.readSync(out, 'float32', count + 34) as Float32Array;
      expect(Array.from(got.subarray(0, 17)), label).toEqual(new Array(17).fill(sentinel));
      expect(Array.from(got.subarray(17 + count)), label).toEqual(new Array(17).fill(sentinel));
      expect(got.subarray(17, 17 + count).every((v) => v !== sentinel && Number.isFinite(v)), label).toBe(true);
      nat.free(out);
    }
    nat.free(x);
    nat.free(w);
  });

  it('gelu runs in place when out is x, with the same values', () => {
    const addr = (id: DataId) => (id as unknown as { ptr: number }).ptr;
    const raw = random(20_000, 12, 5);
    for (const tanh of [0, 1]) {
      const want = read(nat, nat.gelu!(on(nat, raw, [20_000]), tanh ? 'tanh' : 'none'), raw.length);
      const buf = nat.upload(raw, 'float32');
      nat.free(nat.softmax!(on(nat, random(4, 1), [4]))!); // binds the heap after the upload
      expect(addon.gelu!(addr(buf), addr(buf), raw.length, tanh)).toBe(true);
      expect(Array.from(nat.readSync(buf, 'float32', raw.length) as Float32Array), `tanh=${tanh}`).toEqual(Array.from(want));
      nat.free(buf);
    }
  });

  it('the kernels reject out-of-range addresses and unknown op codes before writing', () => {
    nat.softmax!(on(nat, random(4, 1), [4])); // binds the heap
    expect(() => addon.softmax!(2 ** 31, 64, 4, 4, 0)).toThrow(RangeError);
    expect(() => addon.reduceCols!(0, 64, 2 ** 31, 4, 4)).toThrow(RangeError);
    expect(addon.reduceRows!(7, 65536, 65536 + 64, 1, 4)).toBe(false);
    expect(addon.gelu!(65536, 65536, 0, 0)).toBe(false);
  });
});
