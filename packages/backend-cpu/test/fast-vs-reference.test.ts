// SPDX-License-Identifier: MIT
// The WASM SIMD + threads fast path against the reference JS kernels: matmul on random shapes
// (sizes 1, 3, 17, 129 and larger threaded ones) with plain, transposed, broadcast-batch and
// offset operands; binary ops in every broadcast mode (plus layouts that fall back); unary
// math incl. NaN/Inf/huge inputs; sum/max over trailing and leading axes; fused softmax,
// log-softmax, LayerNorm, GELU; strided copy; the fused Adam step; where fused kernels decline. A 2-thread and a 1-thread
// fast backend (relaxed SIMD, the default) and a 1-thread plain-SIMD one are checked (the
// first also after its workers are up).
import { describe, it, expect, beforeAll } from 'vitest';
import type { BinaryOp, DataId, StridedView, UnaryOp } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { contiguous, rng, size } from './util.js';

const ref = new CpuBackend({ fast: false });
const fast2 = new CpuBackend({ fast: true, threads: 2 });
const fast1 = new CpuBackend({ fast: true, threads: 1 });
const plain1 = new CpuBackend({ fast: true, threads: 1, simd: 'simd' });
const FAST: [string, CpuBackend][] = [['2 threads', fast2], ['1 thread', fast1], ['1 thread, plain SIMD', plain1]];

beforeAll(async () => {
  // workers start asynchronously; give them a moment so the threaded path is exercised
  const t0 = Date.now();
  while ((fast2.fastInfo()?.threads ?? 1) < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
});

function values(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * scale);
}

/** The same raw values uploaded to `be`, viewed with `shape`/`strides`/`offset`. */
function on(be: CpuBackend, raw: Float32Array, shape: number[], strides = contiguous(shape), offset = 0): StridedView {
  return { data: be.upload(raw, 'float32'), dtype: 'float32', shape, strides, offset };
}

/** Reads a result; a fused kernel's result must not be null (declined) where these tests call it. */
function readAll(be: CpuBackend, id: DataId | null, n: number): Float32Array {
  expect(id, 'the fast kernel declined').not.toBeNull();
  return be.readSync(id!, 'float32', n) as Float32Array;
}

/** Max of |a-b| / (atol + rtol |b|) over all elements (<= 1 passes); NaN must match NaN. */
function closeness(a: Float32Array, b: Float32Array, rtol: number, atol: number): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(b[i]) || Number.isNaN(a[i])) {
      expect(Number.isNaN(a[i]), `element ${i}: ${a[i]} vs ${b[i]}`).toBe(Number.isNaN(b[i]));
      continue;
    }
    if (a[i] === b[i]) continue;
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i])));
  }
  return worst;
}

describe('fast path availability', () => {
  it('is on by default in Node 20 and off with { fast: false }', () => {
    const info = fast2.fastInfo();
    expect(info).not.toBeNull();
    expect(['simd', 'relaxed']).toContain(info!.flavor);
    expect(plain1.fastInfo()?.flavor).toBe('simd');
  });

  it('uses the relaxed-SIMD (FMA) build by default where the engine has or can enable it', () => {
    const [major, minor] = process.versions.node.split('.').map(Number);
    const canEnable = major > 20 || (major === 20 && minor >= 16);
    if (canEnable) expect(fast2.fastInfo()?.flavor).toBe('relaxed');
    expect(ref.fastInfo()).toBeNull();
    expect(ref.softmax).toBeUndefined();
    expect(typeof fast2.softmax).toBe('function');
  });
});

describe('matmul: fast vs reference', () => {
  const SIZES = [1, 3, 17, 129];
  const r = rng(7);
  const pick = () => SIZES[Math.floor(((r() + 1) / 2) * SIZES.length)];
  const cases: { batch: number; m: number; k: number; n: number; ta: boolean; tb: boolean; bcast: boolean; off: number }[] = [];
  for (let i = 0; i < 40; i++) {
    cases.push({ batch: i % 3 === 0 ? 3 : 1, m: pick(), k: pick(), n: pick(), ta: r() > 0, tb: r() > 0, bcast: i % 5 === 0, off: i % 4 === 0 ? 5 : 0 });
  }
  // large enough to be split over threads, with edges in every dimension and k > one depth block
  cases.push({ batch: 2, m: 257, k: 300, n: 131, ta: false, tb: false, bcast: false, off: 0 });
  cases.push({ batch: 1, m: 129, k: 513, n: 517, ta: true, tb: true, bcast: false, off: 3 });
  cases.push({ batch: 4, m: 64, k: 32, n: 64, ta: false, tb: true, bcast: true, off: 0 });

  function operand(be: CpuBackend, raw: Float32Array, batch: number, rows: number, cols: number, t: boolean, bcast: boolean, off: number): StridedView {
    const bs = bcast ? 0 : rows * cols;
    return on(be, raw, [batch, rows, cols], t ? [bs, 1, rows] : [bs, cols, 1], off);
  }

  for (const [label, fast] of FAST) {
    it(`agrees on ${cases.length} random shapes and layouts (${label})`, () => {
      for (const c of cases) {
        const stored = (b: boolean) => (b ? 1 : c.batch);
        const ra = values(c.off + stored(false) * c.m * c.k, c.m * 31 + c.k);
        const rb = values(c.off + stored(c.bcast) * c.k * c.n, c.n * 17 + c.k);
        const run = (be: CpuBackend) => readAll(be, be.matmul(
          operand(be, ra, c.batch, c.m, c.k, c.ta, false, c.off),
          operand(be, rb, c.batch, c.k, c.n, c.tb, c.bcast, c.off),
        ), c.batch * c.m * c.n);
        const got = run(fast);
        const want = run(ref);
        expect(closeness(got, want, 1e-4, 1e-5 * Math.sqrt(c.k)), JSON.stringify(c)).toBeLessThanOrEqual(1);
      }
    });
  }

  it('handles k = 0, non-heap inputs and strided rows', () => {
    const z = fast2.matmul(on(fast2, new Float32Array(0), [1, 3, 0]), on(fast2, new Float32Array(0), [1, 0, 4]));
    expect(Array.from(readAll(fast2, z, 12))).toEqual(new Array(12).fill(0));
    // an int32 -> float32 cast comes from a reference kernel (plain JS array), then matmul
    const ints = fast2.upload(Int32Array.from([1, 2, 3, 4, 5, 6]), 'int32');
    const f = fast2.cast({ data: ints, dtype: 'int32', shape: [1, 2, 3], strides: [6, 3, 1], offset: 0 }, 'float32');
    const w = on(fast2, values(12, 3), [1, 3, 4]);
    const got = readAll(fast2, fast2.matmul({ data: f, dtype: 'float32', shape: [1, 2, 3], strides: [6, 3, 1], offset: 0 }, w), 8);
    const want = readAll(ref, ref.matmul(on(ref, Float32Array.from([1, 2, 3, 4, 5, 6]), [1, 2, 3]), on(ref, values(12, 3), [1, 3, 4])), 8);
    expect(closeness(got, want, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
    // every other row of a [1, 6, 3] buffer (row stride 6)
    const raw = values(18, 9);
    const sv = (be: CpuBackend) => on(be, raw, [1, 3, 3], [18, 6, 1]);
    const eye = (be: CpuBackend) => on(be, Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]), [1, 3, 3]);
    expect(closeness(readAll(fast2, fast2.matmul(sv(fast2), eye(fast2)), 9), readAll(ref, ref.matmul(sv(ref), eye(ref)), 9), 0, 1e-7)).toBeLessThanOrEqual(1);
  });
});

describe('elementwise: fast vs reference', () => {
  const OPS: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
  /** [label, output shape, a strides, b strides, a stored size, b stored size] */
  const layouts: [string, number[], (s: number[]) => number[], (s: number[]) => number[], (s: number[]) => number][] = [
    ['same shape', [3, 17, 129], contiguous, contiguous, size],
    ['scalar b', [3, 129], contiguous, (s) => s.map(() => 0), size],
    ['row-vector b (bias)', [17, 129], contiguous, (s) => [0, 1], size],
    ['column-vector b (keepdim)', [2, 17, 129], contiguous, (s) => [s[1], 1, 0], size],
    ['row-vector a', [17, 3], (s) => [0, 1], contiguous, size],
    ['transposed b (falls back)', [17, 129], contiguous, (s) => [1, s[0]], size],
    ['large, threaded', [129, 1030], contiguous, contiguous, size],
    ['single element', [1], contiguous, contiguous, size],
  ];
  for (const [label, fast] of FAST) {
    for (const [name, shape, sa, sb, stored] of layouts) {
      it(`${name} (${label})`, () => {
        const ra = values(stored(shape), 11);
        const rb = values(stored(shape), 12).map((v) => (Math.abs(v) < 0.05 ? 0.5 : v));
        for (const op of OPS) {
          const run = (be: CpuBackend) => readAll(be, be.binary(op, on(be, ra, shape, sa(shape)), on(be, rb, shape, sb(shape)), 'float32'), size(shape));
          expect(closeness(run(fast), run(ref), 1e-6, 1e-7), op).toBeLessThanOrEqual(1);
        }
      });
    }
  }

  const special = Float32Array.from([0, -0, 1, -1, 0.5, -2.5, 100, -100, 1000, -1000, 88.5, -87.5, -103, 1e-7, Infinity, -Infinity, NaN, 3, 17, -17]);
  const UNARY: [UnaryOp, number, number][] = [
    ['neg', 0, 0], ['abs', 0, 0], ['square', 1e-7, 0], ['relu', 0, 0], ['sqrt', 1e-7, 0], ['rsqrt', 1e-6, 0], ['reciprocal', 1e-6, 0],
    ['exp', 4e-7, 1e-37], ['tanh', 4e-7, 1e-7], ['sigmoid', 4e-7, 1e-38],
  ];
  for (const [op, rtol, atol] of UNARY) {
    it(`unary ${op} (including NaN, Inf, huge and tiny inputs)`, () => {
      const raw = new Float32Array(1031);
      raw.set(special);
      raw.set(values(1031 - special.length, 5, 6), special.length);
      const input = op === 'sqrt' || op === 'rsqrt' ? raw.map(Math.abs) : raw;
      const run = (be: CpuBackend) => readAll(be, be.unary(op, on(be, input, [1031]), 'float32'), 1031);
      expect(closeness(run(fast2), run(ref), rtol, atol)).toBeLessThanOrEqual(1);
    });
  }

  it('reads buffers of another fast backend (another heap) correctly', () => {
    const raw = values(64, 51);
    const id = fast1.upload(raw, 'float32'); // lives in fast1's heap
    const view = { data: id, dtype: 'float32' as const, shape: [64], strides: [1], offset: 0 };
    expect(Array.from(readAll(fast2, fast2.unary('neg', view, 'float32'), 64))).toEqual(Array.from(raw.map((v) => -v)));
  });

  for (const [label, fast] of FAST) it(`keeps earlier buffers valid when the heap memory grows (${label})`, () => {
    const fast2 = fast;
    const small = values(1000, 31);
    const id = fast2.upload(small, 'float32');
    const before = fast2.fastInfo()!.heap.bytesMapped;
    const big = fast2.fill(12_000_000, 1.5, 'float32'); // 48 MB: more than the initial 16 MiB
    expect(fast2.fastInfo()!.heap.bytesMapped).toBeGreaterThan(before);
    expect(Array.from(readAll(fast2, id, 1000))).toEqual(Array.from(small));
    const doubled = fast2.binary('add', on(fast2, small, [1000]), { data: id, dtype: 'float32', shape: [1000], strides: [1], offset: 0 }, 'float32');
    expect(Array.from(readAll(fast2, doubled, 1000))).toEqual(Array.from(small.map((v) => v + v)));
    expect(readAll(fast2, big, 12_000_000)[11_999_999]).toBe(1.5);
    fast2.free(big);
  });

  it('strided copy of 2-D, 4-D and (fallback) 5-D views', () => {
    const raw = values(2 * 3 * 4 * 5 * 6, 41);
    for (const [shape, strides] of [
      [[8, 4, 64, 32], [8192, 32, 128, 1]],
      [[2, 3, 4, 5, 6], [1, 2, 6, 24, 120]],
      [[3, 4, 5], [120, 1, 4]],
    ] as [number[], number[]][]) {
      const n = size(shape);
      const src = shape.length === 4 ? values(8 * 4 * 64 * 32, 42) : raw;
      const v = (be: CpuBackend) => on(be, src, shape, strides);
      expect(closeness(readAll(fast2, fast2.copy(v(fast2)), n), readAll(ref, ref.copy(v(ref)), n), 0, 0), `[${shape}]`).toBe(0);
    }
  });

  it('strided copy (a transpose) and a large threaded unary', () => {
    const raw = values(17 * 129, 21);
    const t = (be: CpuBackend) => on(be, raw, [129, 17], [1, 129]);
    expect(closeness(readAll(fast2, fast2.copy(t(fast2)), raw.length), readAll(ref, ref.copy(t(ref)), raw.length), 0, 0)).toBe(0);
    const big = values(300_000, 22, 4);
    const run = (be: CpuBackend) => readAll(be, be.unary('tanh', on(be, big, [300_000]), 'float32'), 300_000);
    expect(closeness(run(fast2), run(ref), 4e-7, 1e-7)).toBeLessThanOrEqual(1);
  });
});

describe('reductions: fast vs reference', () => {
  const cases: [number[], number[]][] = [
    [[129], [0]], [[3, 17, 129], [2]], [[3, 17, 129], [1, 2]], [[3, 17, 129], [0]], [[3, 17, 129], [0, 1]],
    [[17, 3], [1]], [[1031, 257], [1]], [[1031, 257], [0]], [[3, 17, 129], [1]],
  ];
  for (const [shape, axes] of cases) {
    it(`sum and max of [${shape}] over [${axes}]`, () => {
      const raw = values(size(shape), shape.length * 7 + axes[0]);
      raw[5] = NaN; // max must propagate NaN, sum too
      const outSize = size(shape.filter((_, d) => !axes.includes(d)));
      for (const op of ['sum', 'max'] as const) {
        const run = (be: CpuBackend) => readAll(be, be.reduce(op, on(be, raw, shape), axes, 'float32'), outSize);
        expect(closeness(run(fast2), run(ref), 1e-6, 1e-6), op).toBeLessThanOrEqual(1);
      }
    });
  }
  it('sums a million values as accurately as float64 accumulation', () => {
    const n = 1_000_000;
    const raw = new Float32Array(n).fill(0.1);
    const got = readAll(fast2, fast2.reduce('sum', on(fast2, raw, [n]), [0], 'float32'), 1)[0];
    expect(Math.abs(got - n * Math.fround(0.1))).toBeLessThan(0.01);
  });
});

describe('fused kernels vs float64 references', () => {
  const softmax64 = (x: Float32Array, n: number, log: boolean) => {
    const out = new Float32Array(x.length);
    for (let r = 0; r < x.length / n; r++) {
      const row = Array.from(x.subarray(r * n, r * n + n));
      const m = Math.max(...row);
      const s = row.reduce((acc, v) => acc + Math.exp(v - m), 0);
      row.forEach((v, j) => { out[r * n + j] = log ? v - m - Math.log(s) : Math.exp(v - m) / s; });
    }
    return out;
  };
  for (const shape of [[1], [3, 17], [2, 5, 129], [64, 1030]]) {
    it(`softmax / logSoftmax over the last axis of [${shape}]`, () => {
      const n = shape[shape.length - 1];
      const raw = values(size(shape), n, 8);
      for (const log of [false, true]) {
        const k = log ? fast2.logSoftmax! : fast2.softmax!;
        const got = readAll(fast2, k(on(fast2, raw, shape)), raw.length);
        expect(closeness(got, softmax64(raw, n, log), 2e-6, 1e-7)).toBeLessThanOrEqual(1);
      }
    });
  }

  it('layerNorm with and without affine parameters', () => {
    for (const [rows, n] of [[1, 1], [3, 17], [5, 129], [512, 128]]) {
      const x = values(rows * n, n + rows, 3);
      const w = values(n, 1);
      const b = values(n, 2);
      for (const affine of [false, true]) {
        const got = readAll(fast2, fast2.layerNorm!(on(fast2, x, [rows, n]), affine ? on(fast2, w, [n]) : null, affine ? on(fast2, b, [n]) : null, 1e-5), x.length);
        const want = new Float32Array(x.length);
        for (let r = 0; r < rows; r++) {
          const row = Array.from(x.subarray(r * n, r * n + n));
          const mean = row.reduce((a, v) => a + v, 0) / n;
          const v = row.reduce((a, q) => a + (q - mean) ** 2, 0) / n;
          row.forEach((q, j) => { want[r * n + j] = ((q - mean) / Math.sqrt(v + 1e-5)) * (affine ? w[j] : 1) + (affine ? b[j] : 0); });
        }
        expect(closeness(got, want, 1e-5, 1e-5), `${rows}x${n} affine=${affine}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('gelu, tanh and erf forms', () => {
    const x = values(1030, 4, 6);
    for (const approximate of ['tanh', 'none'] as const) {
      const got = readAll(fast2, fast2.gelu!(on(fast2, x, [1030]), approximate), x.length);
      const ref64 = ref.unary('erf', on(ref, x.map((v) => v * Math.SQRT1_2), [1030]), 'float32');
      const erfs = readAll(ref, ref64, 1030);
      const c = Math.sqrt(2 / Math.PI);
      const want = x.map((v, i) => approximate === 'tanh' ? 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))) : 0.5 * v * (1 + erfs[i]));
      // 1 + tanh(..) cancels for negative x: float32 loses relative accuracy there, as core's op-by-op form does
      expect(closeness(got, want, 2e-6, 2e-6), approximate).toBeLessThanOrEqual(1);
    }
  });

  it('adam: the fused kernel matches the formula in float64, into new buffers (inputs unchanged)', () => {
    const n = 1031;
    const p = values(n, 1), g = values(n, 2), m = values(n, 3, 0.1), v = values(n, 4).map(Math.abs);
    const step = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 1 / (1 - 0.9 ** 3), c2: 1 / (1 - 0.999 ** 3) };
    const m2 = Array.from(m, (x, i) => step.beta1 * x + (1 - step.beta1) * g[i]);
    const v2 = Array.from(v, (x, i) => step.beta2 * x + (1 - step.beta2) * g[i] * g[i]);
    const p2 = Array.from(p, (x, i) => x - step.lr * (m2[i] * step.c1) / (Math.sqrt(v2[i] * step.c2) + step.eps));
    for (const [label, be] of FAST) {
      const views = [p, g, m, v].map((a) => on(be, a, [n]));
      const out = be.adam!(views[0], views[1], views[2], views[3], step);
      expect(out, label).not.toBeNull();
      const got = out!.map((id) => readAll(be, id, n));
      expect(closeness(got[0], Float32Array.from(p2), 1e-6, 1e-7), `${label} param`).toBeLessThanOrEqual(1);
      expect(closeness(got[1], Float32Array.from(m2), 1e-6, 1e-7), `${label} m`).toBeLessThanOrEqual(1);
      expect(closeness(got[2], Float32Array.from(v2), 1e-6, 1e-7), `${label} v`).toBeLessThanOrEqual(1);
      expect(Array.from(readAll(be, views[0].data, n))).toEqual(Array.from(p)); // inputs unchanged
      expect(Array.from(readAll(be, views[2].data, n))).toEqual(Array.from(m));
    }
  });

  it('fused kernels decline (null, so core falls back) where the WASM kernels do not apply', () => {
    // buffers outside the fast heap (made by the reference backend), and zero-size rows
    const n = 8;
    const plainViews = [1, 2, 3, 4].map((s) => on(ref, values(n, s).map(Math.abs), [n]));
    const step = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000 };
    const before = fast2.fastInfo()!.heap.bytesInUse;
    expect(fast2.adam!(plainViews[0], plainViews[1], plainViews[2], plainViews[3], step)).toBeNull();
    expect(fast2.fastInfo()!.heap.bytesInUse).toBe(before); // nothing left allocated by the declined call
    const empty = on(fast2, new Float32Array(0), [0, 5]);
    expect(fast2.softmax!(empty)).toBeNull();
    expect(fast2.logSoftmax!(empty)).toBeNull();
    expect(fast2.layerNorm!(empty, null, null, 1e-5)).toBeNull();
    expect(ref.softmax).toBeUndefined(); // the reference backend has no fused kernels at all
  });
});
