// SPDX-License-Identifier: MIT
// The fused matmulElementwise kernel against its oracle on the same backend: `matmul`, then
// the program through `elementwise` (bit for bit, as core's contract requires), and against a
// float64 JS reference (close). Covers bias broadcast + activation, a residual input and the
// product itself as an output, transposed, offset and batched views (rank-4 batch merged into
// one stride), odd sizes at each matmul variant (naive, blocked, tiled), mixed-dtype outputs,
// and the declines (reductions, no or two product slots, a wrong program shape, unmergeable
// batch dims).
import { describe, expect, it } from 'vitest';
import type { DataId, ElementwiseExpr, ElementwiseProgram, StridedView } from '@heed/core';
import { MATMUL_VARIANTS, WebGPUBackend } from '@heed/backend-webgpu';
import { device, expectClose, get, put, seeded, skipReason, view } from './gpu.js';

const f32 = 'float32' as const;
const inp = (input: number): ElementwiseExpr => ({ op: 'input', input, dtype: f32 });

/** relu(product * c + bias): inputs [product, bias]. */
function biasRelu(shape: number[]): ElementwiseProgram {
  return {
    shape,
    exprs: [inp(0), { op: 'const', value: 0.5, dtype: f32 }, { op: 'binary', fn: 'mul', a: 0, b: 1, dtype: f32 }, inp(1),
      { op: 'binary', fn: 'add', a: 2, b: 3, dtype: f32 }, { op: 'unary', fn: 'relu', x: 4, dtype: f32 }],
    outputs: [5],
  };
}

/** [product, tanh(residual + product), product > 0 (bool)]: inputs [residual, product]. */
function residualTanh(shape: number[]): ElementwiseProgram {
  return {
    shape,
    exprs: [inp(0), inp(1), { op: 'binary', fn: 'add', a: 0, b: 1, dtype: f32 }, { op: 'unary', fn: 'tanh', x: 2, dtype: f32 },
      { op: 'const', value: 0, dtype: f32 }, { op: 'binary', fn: 'gt', a: 1, b: 4, dtype: 'bool' }],
    outputs: [1, 3, 5],
  };
}

/** Element (…, m, k) of a strided view read from its host values. */
function at(values: readonly number[], v: StridedView, idx: readonly number[]): number {
  return values[v.offset + idx.reduce((s, i, d) => s + i * v.strides[d], 0)];
}

function matmulRef(av: number[], a: StridedView, bv: number[], b: StridedView, B: number, M: number, N: number, K: number): number[] {
  const out: number[] = [];
  for (let z = 0; z < B; z++) for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += at(av, a, [z, m, k]) * at(bv, b, [z, k, n]);
    out.push(s);
  }
  return out;
}

describe.skipIf(!device)(`WebGPU matmulElementwise vs matmul then elementwise${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const be = device ? new WebGPUBackend(device) : (null as unknown as WebGPUBackend);

  /** The fused outputs and the oracle's (matmul, then elementwise with the product at `slot`), read back. */
  async function both(a: StridedView, b: StridedView, a3: StridedView, b3: StridedView, program: ElementwiseProgram, inputs: (StridedView | null)[], on = be) {
    const fused = on.matmulElementwise(a, b, program, inputs);
    expect(fused, 'the fused kernel declined').not.toBeNull();
    const prod = on.matmul(a3, b3);
    const size = program.shape.reduce((x, y) => x * y, 1);
    const prodView = view(prod, f32, program.shape);
    const ref = on.elementwise(program, inputs.map((v) => v ?? prodView)) as DataId[];
    const dt = program.outputs.map((o) => program.exprs[o].dtype);
    const got = await Promise.all((fused as DataId[]).map((id, j) => get(on, id, dt[j], size)));
    const want = await Promise.all(ref.map((id, j) => get(on, id, dt[j], size)));
    return { got, want, prod: await get(on, prod, f32, size) };
  }

  it('relu(a@b * 0.5 + bias) on 2-D operands equals matmul + elementwise bit for bit, and the JS reference', async () => {
    const M = 37, K = 19, N = 45;
    const av = seeded(M * K, 1), bv = seeded(K * N, 2), biasv = seeded(N, 3);
    const a = put(be, av, f32, [M, K]), b = put(be, bv, f32, [K, N]);
    const bias = view(put(be, biasv, f32, [N]).data, f32, [M, N], [0, 1]);
    const a3 = view(a.data, f32, [1, M, K]), b3 = view(b.data, f32, [1, K, N]);
    const { got, want } = await both(a, b, a3, b3, biasRelu([M, N]), [null, bias]);
    expect(got).toEqual(want);
    const mm = matmulRef(av, a3, bv, b3, 1, M, N, K);
    expectClose(got[0], mm.map((p, i) => Math.max(0, p * 0.5 + biasv[i % N])), 'relu', 1e-5, 1e-5);
  });

  it('transposed and offset operands, a residual input, the product and a bool as extra outputs', async () => {
    const M = 24, K = 33, N = 40;
    const av = seeded(5 + M * K, 4), bv = seeded(N * K, 5), rv = seeded(M * N, 6);
    // a is the transpose of a [K, M] buffer starting at element 5; b the transpose of [N, K]
    const a3 = view(put(be, av, f32, [5 + M * K]).data, f32, [1, M, K], [0, 1, M], 5);
    const b3 = view(put(be, bv, f32, [N * K]).data, f32, [1, K, N], [0, 1, K]);
    const res = put(be, rv, f32, [1, M, N]);
    const { got, want, prod } = await both(a3, b3, a3, b3, residualTanh([1, M, N]), [res, null]);
    expect(got).toEqual(want);
    expect(got[0]).toEqual(prod); // the product output is exactly matmul's
    const mm = matmulRef(av, a3, bv, b3, 1, M, N, K);
    expectClose(got[1], mm.map((p, i) => Math.tanh(p + rv[i])), 'tanh', 1e-5, 1e-5);
    expect(got[2]).toEqual(mm.map((p) => (p > 0 ? 1 : 0)));
  });

  it('rank-4 batches merge into one stride; b broadcast over the batch (stride 0)', async () => {
    const M = 16, K = 8, N = 12;
    const av = seeded(6 * M * K, 7), bv = seeded(K * N, 8), biasv = seeded(N, 9);
    const a = view(put(be, av, f32, [6 * M * K]).data, f32, [2, 3, M, K]);
    const b = view(put(be, bv, f32, [K * N]).data, f32, [2, 3, K, N], [0, 0, N, 1]);
    const bias = view(put(be, biasv, f32, [N]).data, f32, [2, 3, M, N], [0, 0, 0, 1]);
    const a3 = view(a.data, f32, [6, M, K]), b3 = view(b.data, f32, [6, K, N], [0, N, 1]);
    const { got, want } = await both(a, b, a3, b3, biasRelu([2, 3, M, N]), [null, bias]);
    expect(got).toEqual(want);
    expectClose(got[0], matmulRef(av, a3, bv, b3, 6, M, N, K).map((p, i) => Math.max(0, p * 0.5 + biasv[i % N])), 'batched', 1e-5, 1e-5);
  });

  for (const variant of MATMUL_VARIANTS) {
    it(`matches at the ${variant} variant (odd sizes)`, async () => {
      const on = new WebGPUBackend(device as GPUDevice, { forceMatmulVariant: variant }, `webgpu-${variant}`);
      if (variant === 'subgroup' && !on.subgroups4) return on.dispose(); // needs 4-lane subgroups (SwiftShader)
      const M = 70, K = 21, N = 67;
      const av = seeded(2 * M * K, 10), bv = seeded(2 * K * N, 11), biasv = seeded(N, 12);
      const a3 = put(on, av, f32, [2, M, K]), b3 = put(on, bv, f32, [2, K, N]);
      const bias = view(put(on, biasv, f32, [N]).data, f32, [2, M, N], [0, 0, 1]);
      const { got, want } = await both(a3, b3, a3, b3, biasRelu([2, M, N]), [null, bias], on);
      expect(got).toEqual(want);
      expectClose(got[0], matmulRef(av, a3, bv, b3, 2, M, N, K).map((p, i) => Math.max(0, p * 0.5 + biasv[i % N])), variant, 1e-5, 1e-5);
      on.dispose();
    });
  }

  it('declines reductions, zero or two product slots, a shape other than the product\'s and batch dims that do not merge', () => {
    const M = 8, K = 4, N = 8;
    const a = put(be, seeded(2 * 3 * M * K, 13), f32, [2, 3, M, K]);
    const b = put(be, seeded(2 * 3 * K * N, 14), f32, [2, 3, K, N]);
    const x = put(be, seeded(2 * 3 * M * N, 15), f32, [2, 3, M, N]);
    const shape = [2, 3, M, N];
    const sum: ElementwiseProgram = { shape, exprs: [inp(0), { op: 'reduce', fn: 'sum', x: 0, dtype: f32 }], outputs: [1], reduceAxes: 1 };
    expect(be.matmulElementwise(a, b, sum, [null])).toBeNull();
    const add: ElementwiseProgram = { shape, exprs: [inp(0), inp(1), { op: 'binary', fn: 'add', a: 0, b: 1, dtype: f32 }], outputs: [2] };
    expect(be.matmulElementwise(a, b, add, [x, x])).toBeNull();
    expect(be.matmulElementwise(a, b, add, [null, null])).toBeNull();
    expect(be.matmulElementwise(a, b, { ...add, shape: [2, 3, M, N + 1] }, [null, x])).toBeNull();
    // b's batch strides [K*N, 0]: broadcast over the inner batch dim only, which does not merge with the outer one
    const bOdd = view(b.data, f32, shape.slice(0, 2).concat([K, N]), [K * N, 0, N, 1]);
    expect(be.matmulElementwise(a, bOdd, add, [null, x])).toBeNull();
  });
});
