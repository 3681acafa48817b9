// SPDX-License-Identifier: MIT
// Conformance of the optional `matmulElementwise` kernel (a matmul whose product feeds an
// elementwise program: lazy execution's matmul epilogue). Each check calls the backend instance
// directly with views over uploaded buffers and compares every output, bit for bit, with the
// same instance's `matmul` followed by its `elementwise` (or core's op-by-op program when that
// declines). Checks: bias row + relu, batched with a residual and a scale (product written out
// too), broadcast batch (stride 0), transposed operand views, a tanh chain with a cast to int32.
// A call that declines (null) is accepted (the lazy layer falls back) but noted by no output.
import { contiguousStrides, runProgramByPrimitives, type Backend, type DataId, type DType, type ElementwiseExpr, type ElementwiseProgram, type StridedView } from '@heed/core';
import { ensure } from '../assert.js';
import { Rng } from '../host.js';
import type { CaseContext } from '../types.js';

interface EpilogueCheck {
  readonly label: string;
  /** Batch, M, K, N. */
  readonly dims: readonly [number, number, number, number];
  /** `a` stored as [B, K, M] and read transposed; `b` likewise as [B, N, K]. */
  readonly transposeA?: boolean;
  readonly transposeB?: boolean;
  /** `b` shared by every batch entry (batch stride 0). */
  readonly broadcastB?: boolean;
  /** The program's exprs after input 0 (the product, slot 0) and the extra inputs (bias [N] as a row: 'row'; a residual [B, M, N]: 'full'). */
  readonly extra: readonly ('row' | 'full')[];
  readonly exprs: readonly ElementwiseExpr[];
  readonly outputs: readonly number[];
}

const f32 = 'float32' as const;
const IN = (input: number): ElementwiseExpr => ({ op: 'input', input, dtype: f32 });
const BIN = (fn: 'add' | 'mul' | 'sub', a: number, b: number): ElementwiseExpr => ({ op: 'binary', fn, a, b, dtype: f32 });

const CHECKS: readonly EpilogueCheck[] = [
  { label: 'bias row + relu', dims: [1, 5, 7, 6], extra: ['row'], exprs: [IN(0), IN(1), BIN('add', 0, 1), { op: 'unary', fn: 'relu', x: 2, dtype: f32 }], outputs: [3] },
  {
    label: 'batched, residual and scale, product written out', dims: [3, 4, 5, 6], extra: ['full'],
    exprs: [IN(0), IN(1), { op: 'const', value: 0.125, dtype: f32 }, BIN('mul', 0, 2), BIN('add', 3, 1)], outputs: [4, 0],
  },
  { label: 'broadcast batch', dims: [2, 3, 4, 5], broadcastB: true, extra: ['row'], exprs: [IN(0), IN(1), BIN('sub', 0, 1)], outputs: [2] },
  { label: 'transposed operands', dims: [2, 6, 3, 4], transposeA: true, transposeB: true, extra: [], exprs: [IN(0), { op: 'unary', fn: 'neg', x: 0, dtype: f32 }], outputs: [1, 0] },
  {
    label: 'tanh chain, cast to int32', dims: [1, 8, 16, 9], extra: ['row'],
    exprs: [IN(0), IN(1), BIN('add', 0, 1), { op: 'unary', fn: 'tanh', x: 2, dtype: f32 }, { op: 'const', value: 100, dtype: f32 }, BIN('mul', 3, 4), { op: 'cast', x: 5, dtype: 'int32' }],
    outputs: [6, 3],
  },
];

function upload(backend: Backend, n: number, rng: Rng, owned: DataId[]): DataId {
  const id = backend.upload(Float32Array.from({ length: n }, () => rng.normal()), f32);
  owned.push(id);
  return id;
}

/** The views and program of a check, over buffers uploaded to `backend` (listed in `owned`). */
function setUp(backend: Backend, check: EpilogueCheck, owned: DataId[]) {
  const [B, M, K, N] = check.dims;
  const rng = new Rng(`matmulElementwise/${check.label}`);
  const aData = upload(backend, B * M * K, rng, owned);
  const bData = upload(backend, (check.broadcastB ? 1 : B) * K * N, rng, owned);
  const a: StridedView = check.transposeA
    ? { data: aData, dtype: f32, shape: [B, M, K], strides: [M * K, 1, M], offset: 0 }
    : { data: aData, dtype: f32, shape: [B, M, K], strides: [M * K, K, 1], offset: 0 };
  const bBatch = check.broadcastB ? 0 : K * N;
  const b: StridedView = check.transposeB
    ? { data: bData, dtype: f32, shape: [B, K, N], strides: [bBatch, 1, K], offset: 0 }
    : { data: bData, dtype: f32, shape: [B, K, N], strides: [bBatch, N, 1], offset: 0 };
  const shape = [B, M, N];
  const inputs: (StridedView | null)[] = [null];
  for (const kind of check.extra) {
    inputs.push(kind === 'row'
      ? { data: upload(backend, N, rng, owned), dtype: f32, shape, strides: [0, 0, 1], offset: 0 }
      : { data: upload(backend, B * M * N, rng, owned), dtype: f32, shape, strides: contiguousStrides(shape), offset: 0 });
  }
  const program: ElementwiseProgram = { shape, exprs: check.exprs, outputs: check.outputs };
  return { a, b, program, inputs, shape };
}

async function readAll(backend: Backend, ids: readonly DataId[], program: ElementwiseProgram): Promise<ArrayLike<number>[]> {
  const size = program.shape.reduce((x, y) => x * y, 1);
  return Promise.all(ids.map((id, i) => backend.read(id, program.exprs[program.outputs[i]].dtype as DType, size)));
}

/**
 * Runs every `matmulElementwise` check on `ctx.instance` (skipped when it has none), each
 * output bitwise equal to matmul-then-program on the same instance.
 *
 * @example
 * ```ts
 * await runMatmulEpilogue(ctx); // from the 'fused/matmulElementwise' case
 * ```
 */
export async function runMatmulEpilogue(ctx: CaseContext): Promise<void> {
  const backend = ctx.instance;
  const kernel = backend.matmulElementwise;
  if (typeof kernel !== 'function') ctx.skip('the backend has no fused matmulElementwise kernel');
  let ran = 0;
  for (const check of CHECKS) {
    const owned: DataId[] = [];
    try {
      const { a, b, program, inputs, shape } = setUp(backend, check, owned);
      const got = kernel.call(backend, a, b, program, inputs);
      if (got === null) continue; // declined: the lazy layer runs matmul, then the program
      owned.push(...got);
      ensure(got.length === program.outputs.length, `matmulElementwise (${check.label}): ${got.length} outputs for ${program.outputs.length} in program.outputs`);
      ran++;
      // The oracle is spelled out here rather than core's runMatmulThenProgram on purpose: the CPU
      // backend's matmulElementwise IS runMatmulThenProgram, so that would compare it with itself.
      // This one runs the whole program (product outputs too) through `elementwise` over the product.
      const product = backend.matmul(a, b);
      owned.push(product);
      const full = inputs.map((v) => v ?? { data: product, dtype: f32, shape, strides: contiguousStrides(shape), offset: 0 });
      const want = backend.elementwise?.(program, full) ?? runProgramByPrimitives(backend, program, full);
      owned.push(...want);
      const [g, w] = [await readAll(backend, got, program), await readAll(backend, want, program)];
      g.forEach((values, o) => {
        for (let i = 0; i < values.length; i++) {
          ensure(Object.is(values[i], w[o][i]), () => `matmulElementwise (${check.label}): output ${o} [${i}] is ${values[i]}, matmul-then-program gives ${w[o][i]} (must be bitwise equal)`);
        }
      });
    } finally {
      for (const id of owned) backend.free(id);
    }
  }
  ensure(ran > 0, 'matmulElementwise declined every check: nothing was compared');
}
