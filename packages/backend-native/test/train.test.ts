// SPDX-License-Identifier: MIT
// The native training kernels (native/adam.c, native/attention.c through
// backend-cpu/src/fast/native-train.ts) against their oracles: Adam against the WASM fastAdam
// kernel and a float32-step JS formula (plus AdamW/L2 weight decay on the raw kernel); fused
// attention forward and backward against the JS tiled kernels (attention-train.ts) and a float64
// decomposition, causal, additive and key-padding masks, fully masked rows, several query tiles
// and the parallel path; the same bits on 1 and 2 threads; the layouts the glue must decline
// (and that it then leaves the kernel uncalled); and core's scaledDotProductAttention training
// through a backend whose fused pair is the native glue, against the decomposition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backward, mul, registerBackend, removeBackend, scaledDotProductAttention, sum, tensor, tidy,
  type AdamScalars, type DataId, type StridedView, type Tensor,
} from '@heed/core';
import { CpuBackend, type NativeKernels, type NativeProvider } from '@heed/backend-cpu';
import { loadAddon } from '@heed/backend-native';
import { acquireFastRuntime } from '../../backend-cpu/src/fast/index.js';
import type { FastRuntime } from '../../backend-cpu/src/fast/runtime.js';
import { nativeAdam, nativeAttentionBackward, nativeAttentionForward } from '../../backend-cpu/src/fast/native-train.js';
import { attentionBackwardKernel, attentionForwardKernel, type TileOps } from '../../backend-cpu/src/attention-train.js';

const { addon } = loadAddon();
const calls = { adam: 0, attentionForward: 0, attentionBackward: 0 };
type Fn<K extends keyof NativeKernels> = NonNullable<NativeKernels[K]>;
const kernels: NativeKernels = Object.assign(Object.create(addon) as NativeKernels, {
  adam: (...a: Parameters<Fn<'adam'>>) => { calls.adam++; return (addon.adam as Fn<'adam'>)(...a); },
  attentionForward: (...a: Parameters<Fn<'attentionForward'>>) => { calls.attentionForward++; return (addon.attentionForward as Fn<'attentionForward'>)(...a); },
  attentionBackward: (...a: Parameters<Fn<'attentionBackward'>>) => { calls.attentionBackward++; return (addon.attentionBackward as Fn<'attentionBackward'>)(...a); },
});
const provider: NativeProvider = { name: 'counted', kernels };

let be: CpuBackend;
let rt: FastRuntime;
let ops: TileOps;
let threadsBefore = 1;

beforeAll(() => {
  threadsBefore = addon.threads();
  addon.setThreads(2);
  be = new CpuBackend({ threads: 2 });
  rt = acquireFastRuntime({ threads: 2 }) as FastRuntime;
  ops = { matmul: (a, b) => be.matmul(a, b), free: (id) => be.free(id), emit: (a) => be.upload(a, 'float32') };
});
afterAll(() => addon.setThreads(threadsBefore));

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 31 - 1; });
}

function strides(shape: readonly number[]): number[] {
  const st = shape.map(() => 1);
  for (let i = shape.length - 2; i >= 0; i--) st[i] = st[i + 1] * shape[i + 1];
  return st;
}

/** A contiguous float32 view of new heap data (`pad` extra leading elements make a view offset). */
function view(data: Float32Array, shape: readonly number[], pad = 0): StridedView {
  const full = new Float32Array(pad + data.length);
  full.set(data, pad);
  return { data: be.upload(full, 'float32'), dtype: 'float32', shape, strides: strides(shape), offset: pad };
}

const read = (id: DataId, n: number): number[] => Array.from(be.readSync(id, 'float32', n));

/** Every |got - want| <= tol (1 + |want|) (-Infinity must match exactly); reports the first miss. */
function expectNear(got: readonly number[], want: readonly number[], tol: number, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    const ok = want[i] === -Infinity ? got[i] === -Infinity : Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i]));
    if (!ok) expect.fail(`${label}[${i}]: ${got[i]} vs ${want[i]} (tolerance ${tol})`);
  }
}

describe('native Adam', () => {
  const step: AdamScalars = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 1 / (1 - 0.9 ** 3), c2: 1 / (1 - 0.999 ** 3) };
  const f = Math.fround;
  /** fastAdam's float32 formula, step by step. */
  function oracle(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, wd = 0, decoupled = false): number[][] {
    const [lr, b1, b2, eps, c1, c2] = [step.lr, step.beta1, step.beta2, step.eps, step.c1, step.c2].map(f);
    const out: number[][] = [[], [], []];
    for (let i = 0; i < p.length; i++) {
      const gs = wd !== 0 && !decoupled ? f(g[i] + f(f(wd) * p[i])) : g[i];
      const ms = f(f(m[i] * b1) + f(gs * f(1 - b1)));
      const vs = f(f(v[i] * b2) + f(f(gs * gs) * f(1 - b2)));
      const base = wd !== 0 && decoupled ? f(p[i] * f(1 - f(lr * f(wd)))) : p[i];
      out[0].push(f(base - f(f(f(ms * c1) * lr) / f(f(Math.sqrt(f(vs * c2))) + eps))));
      out[1].push(ms);
      out[2].push(vs);
    }
    return out;
  }

  for (const size of [1001, 300_017]) {
    it(`${size} elements match fastAdam (WASM) and the float32 formula${size > 65536 ? ' (parallel)' : ''}`, () => {
      const [p, g, m] = [values(size, 1), values(size, 2), values(size, 3)];
      const v = values(size, 4).map((x) => x * x);
      const views = [view(p, [size]), view(g, [size], 3), view(m, [size]), view(v, [size])];
      const before = calls.adam;
      const got = nativeAdam(rt, provider, views[0], views[1], views[2], views[3], step);
      expect(calls.adam).toBe(before + 1);
      expect(got).not.toBeNull();
      const wasm = be.adam?.(views[0], view(g, [size]), views[2], views[3], step) ?? null; // fastAdam takes no view offset
      expect(wasm).not.toBeNull();
      expect(calls.adam).toBe(before + 1); // the plain backend has no provider
      const want = oracle(p, g, m, v);
      for (let i = 0; i < 3; i++) {
        const mine = read((got as DataId[])[i], size);
        expectNear(mine, read((wasm as DataId[])[i], size), 1e-6, `vs wasm ${i}`);
        expectNear(mine, want[i], 1e-6, `vs formula ${i}`);
      }
    });
  }

  it('the raw kernel applies AdamW (decoupled) and L2 weight decay', () => {
    const n = 77;
    const [p, g, m] = [values(n, 5), values(n, 6), values(n, 7)];
    const v = values(n, 8).map((x) => x * x);
    for (const decoupled of [true, false]) {
      const ins = [p, g, m, v].map((a) => view(a, [n]).data) as unknown as { ptr: number }[];
      const outs = [0, 1, 2].map(() => view(new Float32Array(n), [n]).data) as unknown as { ptr: number }[];
      kernels.bind(new Float32Array(rt.heap.buffer));
      const ran = (addon.adam as Fn<'adam'>)(ins[0].ptr, ins[1].ptr, ins[2].ptr, ins[3].ptr, outs[0].ptr, outs[1].ptr, outs[2].ptr, n,
        step.lr, step.beta1, step.beta2, step.eps, 0.1, decoupled ? 1 : 0, step.c1, step.c2);
      expect(ran).toBe(true);
      const want = oracle(p, g, m, v, 0.1, decoupled);
      for (let i = 0; i < 3; i++) expectNear(read(outs[i] as unknown as DataId, n), want[i], 1e-6, `wd ${decoupled} ${i}`);
    }
  });

  it('1 and 2 threads give the same bits', () => {
    const size = 200_003;
    const vs = [values(size, 1), values(size, 2), values(size, 3), values(size, 4).map((x) => x * x)].map((a) => view(a, [size]));
    const runWith = (t: number) => { addon.setThreads(t); const r = nativeAdam(rt, provider, vs[0], vs[1], vs[2], vs[3], step) as DataId[]; addon.setThreads(2); return r.map((id) => read(id, size)); };
    expect(runWith(1)).toEqual(runWith(2));
  });

  it('declines non-contiguous, non-float32, mismatched and empty views without calling the kernel', () => {
    const a = view(values(8, 1), [8]);
    const before = calls.adam;
    const strided: StridedView = { ...view(values(16, 2), [8]), strides: [2] };
    const ints: StridedView = { data: be.upload(Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 'int32'), dtype: 'int32', shape: [8], strides: [1], offset: 0 };
    expect(nativeAdam(rt, provider, a, strided, a, a, step)).toBeNull();
    expect(nativeAdam(rt, provider, a, ints, a, a, step)).toBeNull();
    expect(nativeAdam(rt, provider, a, view(values(4, 3), [4]), a, a, step)).toBeNull();
    expect(nativeAdam(rt, provider, view(new Float32Array(0), [0]), view(new Float32Array(0), [0]), view(new Float32Array(0), [0]), view(new Float32Array(0), [0]), step)).toBeNull();
    expect(calls.adam).toBe(before);
    expect(nativeAdam(rt, { name: 'none', kernels: { bind: addon.bind, matmul: addon.matmul } }, a, a, a, a, step)).toBeNull();
  });
});

interface Case { B: number; H: number; L: number; S: number; D: number; Dv: number; causal: boolean; mask: 'none' | 'float' | 'keys' | 'late' }

/**
 * The additive mask as core passes it: a broadcast [B, H, L, S] view (float: [L, S] with row 1
 * fully hidden; keys: [B, 1, 1, S]; late: [B, 1, 1, S] hiding batch 1's first 300 keys, more
 * than a key block of attention.c, so its rows see nothing in the first block).
 */
function maskOf(c: Case): { view: StridedView; at: (b: number, l: number, s: number) => number } | null {
  if (c.mask === 'none') return null;
  if (c.mask === 'float') {
    const data = values(c.L * c.S, 99).map((x, i) => (Math.floor(i / c.S) === 1 || x > 0.6 ? -Infinity : x));
    const v = view(data, [c.L, c.S]);
    return { view: { ...v, shape: [c.B, c.H, c.L, c.S], strides: [0, 0, c.S, 1] }, at: (_b, l, s) => data[l * c.S + s] };
  }
  const data = c.mask === 'late'
    ? Float32Array.from({ length: c.B * c.S }, (_, i) => (i >= c.S && i - c.S < 300 ? -Infinity : (i % 7) / 7))
    : Float32Array.from({ length: c.B * c.S }, (_, i) => (i % c.S === 0 || (i + 1) % 3 !== 0 ? 0 : -Infinity));
  const v = view(data, [c.B, 1, 1, c.S]);
  return { view: { ...v, shape: [c.B, c.H, c.L, c.S], strides: [c.S, 0, 0, 1] }, at: (b, _l, s) => data[b * c.S + s] };
}

/** float64 decomposition: out, lse and (for upstream dy) dq, dk, dv. */
function oracle(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, dy: Float32Array, mask: ReturnType<typeof maskOf>, scale: number) {
  const { B, H, L, S, D, Dv } = c;
  const out = new Array<number>(B * H * L * Dv).fill(0), lse = new Array<number>(B * H * L).fill(-Infinity);
  const dq = new Array<number>(B * H * L * D).fill(0), dk = new Array<number>(B * H * S * D).fill(0), dv = new Array<number>(B * H * S * Dv).fill(0);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let l = 0; l < L; l++) {
    const hd = b * H + h, r = hd * L + l;
    const sc = Array.from({ length: S }, (_, s) => {
      if (c.causal && s > l) return -Infinity;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[r * D + d] * k[(hd * S + s) * D + d];
      return dot * scale + (mask ? mask.at(b, l, s) : 0);
    });
    const max = Math.max(...sc);
    if (max === -Infinity) continue;
    const e = sc.map((x) => Math.exp(x - max)), z = e.reduce((x, y) => x + y, 0), p = e.map((x) => x / z);
    lse[r] = max + Math.log(z);
    for (let d = 0; d < Dv; d++) for (let s = 0; s < S; s++) out[r * Dv + d] += p[s] * v[(hd * S + s) * Dv + d];
    const dp = Array.from({ length: S }, (_, s) => { let x = 0; for (let d = 0; d < Dv; d++) x += dy[r * Dv + d] * v[(hd * S + s) * Dv + d]; return x; });
    const dl = p.reduce((x, ps, s) => x + ps * dp[s], 0);
    for (let s = 0; s < S; s++) {
      const ds = p[s] * (dp[s] - dl) * scale;
      for (let d = 0; d < D; d++) { dq[r * D + d] += ds * k[(hd * S + s) * D + d]; dk[(hd * S + s) * D + d] += ds * q[r * D + d]; }
      for (let d = 0; d < Dv; d++) dv[(hd * S + s) * Dv + d] += p[s] * dy[r * Dv + d];
    }
  }
  return { out, lse, dq, dk, dv };
}

const CASES: Record<string, Case> = {
  'plain, L != S, odd sizes': { B: 2, H: 3, L: 5, S: 7, D: 3, Dv: 4, causal: false, mask: 'none' },
  'causal, two query tiles, L > S': { B: 1, H: 2, L: 70, S: 67, D: 8, Dv: 5, causal: true, mask: 'none' },
  'additive mask with a fully masked row': { B: 2, H: 2, L: 4, S: 5, D: 3, Dv: 2, causal: false, mask: 'float' },
  'key-padding mask + causal, three tiles': { B: 2, H: 1, L: 130, S: 130, D: 16, Dv: 16, causal: true, mask: 'keys' },
  'parallel path, B2 H4 L=S=192 D32': { B: 2, H: 4, L: 192, S: 192, D: 32, Dv: 32, causal: false, mask: 'none' },
  'parallel path, causal + additive mask': { B: 1, H: 4, L: 160, S: 200, D: 32, Dv: 24, causal: true, mask: 'float' },
  // attention.c's key blocks are 256 keys: several blocks, the last one partial
  'three key blocks, causal + additive mask': { B: 1, H: 2, L: 300, S: 600, D: 8, Dv: 8, causal: true, mask: 'float' },
  'three key blocks, first block hidden by the key mask': { B: 2, H: 2, L: 20, S: 600, D: 8, Dv: 6, causal: false, mask: 'late' },
  // one head on two threads: the backward's split passes (dq by query tile, dk/dv by key block)
  'one head, split backward, causal + additive mask': { B: 1, H: 1, L: 200, S: 520, D: 16, Dv: 12, causal: true, mask: 'float' },
};

/** Inputs of a case: views with offsets (pad), and the raw arrays for the oracle. */
function inputs(c: Case) {
  const raw = { q: values(c.B * c.H * c.L * c.D, 1), k: values(c.B * c.H * c.S * c.D, 2), v: values(c.B * c.H * c.S * c.Dv, 3), dy: values(c.B * c.H * c.L * c.Dv, 4) };
  return {
    raw,
    q: view(raw.q, [c.B, c.H, c.L, c.D], 5), k: view(raw.k, [c.B, c.H, c.S, c.D]), v: view(raw.v, [c.B, c.H, c.S, c.Dv], 2),
    dy: view(raw.dy, [c.B, c.H, c.L, c.Dv], 1), mask: maskOf(c),
  };
}

describe('native fused attention', () => {
  const scale = 0.7;
  for (const [name, c] of Object.entries(CASES)) {
    it(`${name}: forward and backward match the JS tiled kernels and a float64 decomposition`, () => {
      const x = inputs(c);
      const m = x.mask?.view ?? null;
      const nOut = c.B * c.H * c.L * c.Dv, nL = c.B * c.H * c.L;
      const f0 = calls.attentionForward, b0 = calls.attentionBackward;
      const fwd = nativeAttentionForward(rt, provider, x.q, x.k, x.v, m, scale, c.causal) as [DataId, DataId];
      expect(fwd).not.toBeNull();
      expect(calls.attentionForward).toBe(f0 + 1);
      const js = attentionForwardKernel(x.q, x.k, x.v, m, scale, c.causal, ops) as [DataId, DataId];
      const want = oracle(c, x.raw.q, x.raw.k, x.raw.v, x.raw.dy, x.mask, scale);
      const out = read(fwd[0], nOut), lse = read(fwd[1], nL);
      expectNear(out, read(js[0], nOut), 2e-5, 'out vs js');
      expectNear(lse, read(js[1], nL), 2e-5, 'lse vs js');
      expectNear(out, want.out, 1e-4, 'out vs float64');
      expectNear(lse, want.lse, 1e-4, 'lse vs float64');
      const outV: StridedView = { data: fwd[0], dtype: 'float32', shape: [c.B, c.H, c.L, c.Dv], strides: strides([c.B, c.H, c.L, c.Dv]), offset: 0 };
      const lseV: StridedView = { data: fwd[1], dtype: 'float32', shape: [c.B, c.H, c.L], strides: strides([c.B, c.H, c.L]), offset: 0 };
      const bwd = nativeAttentionBackward(rt, provider, x.q, x.k, x.v, m, scale, c.causal, outV, x.dy, lseV) as DataId[];
      expect(bwd).not.toBeNull();
      expect(calls.attentionBackward).toBe(b0 + 1);
      const jsb = attentionBackwardKernel(x.q, x.k, x.v, m, scale, c.causal, outV, x.dy, lseV, ops) as DataId[];
      const sizes = [c.B * c.H * c.L * c.D, c.B * c.H * c.S * c.D, c.B * c.H * c.S * c.Dv];
      const oracles = [want.dq, want.dk, want.dv];
      for (let i = 0; i < 3; i++) {
        const got = read(bwd[i], sizes[i]);
        expectNear(got, read(jsb[i], sizes[i]), 2e-5, `${['dq', 'dk', 'dv'][i]} vs js`);
        expectNear(got, oracles[i], 1e-4, `${['dq', 'dk', 'dv'][i]} vs float64`);
      }
      if (c.mask === 'float') { // row 1 is fully masked: lse -Infinity, zero output and dq rows
        for (let hd = 0; hd < c.B * c.H; hd++) {
          expect(lse[hd * c.L + 1]).toBe(-Infinity);
          expect(out.slice((hd * c.L + 1) * c.Dv, (hd * c.L + 2) * c.Dv)).toEqual(new Array(c.Dv).fill(0));
          expect(read(bwd[0], sizes[0]).slice((hd * c.L + 1) * c.D, (hd * c.L + 2) * c.D)).toEqual(new Array(c.D).fill(0));
        }
      }
    });
  }

  for (const which of ['parallel path, causal + additive mask', 'one head, split backward, causal + additive mask']) it(`1 and 2 threads give the same bits (forward and backward): ${which}`, () => {
    const c = CASES[which];
    const x = inputs(c);
    const m = x.mask?.view ?? null;
    const runWith = (t: number): number[][] => {
      addon.setThreads(t);
      try {
        const [o, l] = nativeAttentionForward(rt, provider, x.q, x.k, x.v, m, scale, c.causal) as [DataId, DataId];
        const outV: StridedView = { data: o, dtype: 'float32', shape: [c.B, c.H, c.L, c.Dv], strides: strides([c.B, c.H, c.L, c.Dv]), offset: 0 };
        const lseV: StridedView = { data: l, dtype: 'float32', shape: [c.B, c.H, c.L], strides: strides([c.B, c.H, c.L]), offset: 0 };
        const g = nativeAttentionBackward(rt, provider, x.q, x.k, x.v, m, scale, c.causal, outV, x.dy, lseV) as DataId[];
        return [read(o, c.B * c.H * c.L * c.Dv), read(l, c.B * c.H * c.L), read(g[0], c.B * c.H * c.L * c.D), read(g[1], c.B * c.H * c.S * c.D), read(g[2], c.B * c.H * c.S * c.Dv)];
      } finally { addon.setThreads(2); }
    };
    expect(runWith(1)).toEqual(runWith(2));
  });

  it('declines what the JS kernel declines (and mismatched shapes) without calling the kernel', () => {
    const c = CASES['plain, L != S, odd sizes'];
    const x = inputs(c);
    const f0 = calls.attentionForward, b0 = calls.attentionBackward;
    const transposed: StridedView = { ...x.q, shape: [c.B, c.H, c.D, c.L], strides: [c.H * c.L * c.D, c.L * c.D, 1, c.D] };
    const ints: StridedView = { ...x.k, dtype: 'int32' };
    const boolMask: StridedView = { ...x.q, dtype: 'bool', shape: [c.B, c.H, c.L, c.S], strides: [0, 0, 0, 0] };
    const wrongMask: StridedView = { ...x.q, shape: [c.B, c.H, c.L + 1, c.S], strides: [0, 0, c.S, 1] };
    expect(nativeAttentionForward(rt, provider, transposed, x.k, x.v, null, 1, false)).toBeNull();
    expect(nativeAttentionForward(rt, provider, x.q, ints, x.v, null, 1, false)).toBeNull();
    expect(nativeAttentionForward(rt, provider, x.q, x.k, x.v, boolMask, 1, false)).toBeNull();
    expect(nativeAttentionForward(rt, provider, x.q, x.k, x.v, wrongMask, 1, false)).toBeNull();
    expect(nativeAttentionForward(rt, provider, x.q, x.q, x.v, null, 1, false)).toBeNull(); // k with L rows but v with S
    const lseBad: StridedView = { ...x.q, shape: [c.B, c.H, c.L + 1], strides: strides([c.B, c.H, c.L + 1]) };
    expect(nativeAttentionBackward(rt, provider, x.q, x.k, x.v, null, 1, false, x.dy, x.dy, lseBad)).toBeNull();
    expect(calls.attentionForward).toBe(f0);
    expect(calls.attentionBackward).toBe(b0);
    expect(nativeAttentionForward(rt, { name: 'none', kernels: { bind: addon.bind, matmul: addon.matmul } }, x.q, x.k, x.v, null, 1, false)).toBeNull();
  });
});

describe('scaledDotProductAttention training through the native pair', () => {
  const NAMES = ['train-native-pair', 'train-decomposition'];
  beforeAll(() => {
    registerBackend({ name: NAMES[0], priority: 0, create: () => {
      const b = new CpuBackend({ threads: 2, fuseTrainingAttentionFrom: 0 });
      Object.defineProperty(b, 'name', { value: NAMES[0] });
      b.attentionForward = (q, k, v, m, s, causal) => nativeAttentionForward(rt, provider, q, k, v, m, s, causal);
      b.attentionBackward = (q, k, v, m, s, causal, o, dy, lse) => nativeAttentionBackward(rt, provider, q, k, v, m, s, causal, o, dy, lse);
      return b;
    } });
    registerBackend({ name: NAMES[1], priority: 0, create: () => {
      const b = new CpuBackend({ fast: false });
      Object.defineProperty(b, 'name', { value: NAMES[1] });
      Object.defineProperty(b, 'attentionForward', { value: undefined });
      Object.defineProperty(b, 'attentionBackward', { value: undefined });
      return b;
    } });
  });
  afterAll(() => { for (const n of NAMES) removeBackend(n); });

  for (const mask of ['bool', 'float'] as const) {
    it(`causal + ${mask} mask: output and dq, dk, dv match the decomposition`, () => {
      const [B, H, L, S, D] = [2, 2, 80, 80, 8];
      const runOn = (backend: string) => tidy(() => {
        const mk = (shape: number[], seed: number) => tensor(Array.from(values(shape.reduce((a, b) => a * b, 1), seed)), { shape, backend }).requiresGrad_();
        const q = mk([B, H, L, D], 1), k = mk([B, H, S, D], 2), v = mk([B, H, S, D], 3);
        const keys = Array.from({ length: B * S }, (_, i) => i % S === 0 || i % 4 !== 1);
        const attnMask = mask === 'bool'
          ? tensor(keys, { shape: [B, 1, 1, S], backend })
          : tensor(Array.from(values(L * S, 9)).map((x) => (x > 0.7 ? -Infinity : x)), { shape: [L, S], backend });
        const out = scaledDotProductAttention(q, k, v, { isCausal: true, attnMask });
        backward(sum(mul(out, tensor(Array.from(values(out.size, 4)), { shape: [...out.shape], backend }))));
        const r = (t: Tensor | null) => Array.from((t as Tensor).dataSync());
        return [r(out), r(q.grad), r(k.grad), r(v.grad)];
      });
      const f0 = calls.attentionForward, b0 = calls.attentionBackward;
      const got = runOn(NAMES[0]);
      expect(calls.attentionForward).toBe(f0 + 1);
      expect(calls.attentionBackward).toBe(b0 + 1);
      const want = runOn(NAMES[1]);
      for (let i = 0; i < 4; i++) expectNear(got[i], want[i], 5e-5, ['out', 'dq', 'dk', 'dv'][i]);
    });
  }
});
