// SPDX-License-Identifier: MIT
// einsum, activation, indexed-update and selection cases: every case of
// fixtures/einsum-select.json (gen_einsum_select_fixtures.py, PyTorch 1.13) forward and
// gradients with contiguous and non-contiguous inputs, finite differences of each
// differentiable op (maskedSelect is async, so its gradient is checked by the fixtures only),
// and the errors, which must leave memory and the backend as they were.
// Invariant: every tensor a case creates is disposed, also when an assertion fails.
import {
  einsum, elu, hardtanh, indexPut, leakyRelu, logaddexp, maskedSelect, mish, nonzero, scatter, softplus, tensor, type Tensor,
} from '@heed/core';
import { readFixtureFile, type FixtureCase } from '../fixtures.js';
import { layoutApplies, type Rng } from '../host.js';
import { runEinsumSelectOp } from '../einsum-select-fixture-ops.js';
import type { CaseContext, RunnableCase } from '../types.js';
import { runError, type ErrorSpec } from './errors.js';
import { checkFirstOrder, checkSecondOrder } from './finite-diff.js';
import type { FdInput, FdSpec } from './finite-diff-specs.js';
import { runFixtureCase } from './fixture-cases.js';

let cache: readonly FixtureCase[] | null = null;
function einsumSelectFixtures(): readonly FixtureCase[] {
  if (!cache) cache = readFixtureFile('einsum-select.json');
  return cache;
}

const U = (...shape: number[]): FdInput => ({ shape, values: { kind: 'uniform' } });
const Idx = (shape: number[], fixed: number[]): FdInput => ({ shape, fixed, dtype: 'int32' });
/** Values with 0.2 <= |v| < 2 (random sign): away from the kink at 0. */
const Away = (...shape: number[]): FdInput => ({
  shape, values: (rng: Rng) => Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(rng.uniform(0.2, 2) * (rng.uniform(0, 1) < 0.5 ? -1 : 1))),
});
/** Values at least 0.15 from the hardtanh bounds -1 and 1. */
const AwayFromBounds = (...shape: number[]): FdInput => ({
  shape, values: (rng: Rng) => Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround([-1.8, -0.5, 0.3, 1.6][rng.int(0, 4)] + rng.uniform(-0.3, 0.3))),
});

/** Finite-difference checks of every differentiable op of the family (second order where smooth). */
const FD: Readonly<Record<string, FdSpec & { secondOrder?: boolean }>> = {
  softplus: { op: 'softplus', inputs: [U(3, 4)], f: ([x]) => softplus(x, { beta: 1.5 }), secondOrder: true },
  logaddexp: { op: 'logaddexp', inputs: [U(3, 1), U(4)], f: ([a, b]) => logaddexp(a, b) },
  hardtanh: { op: 'hardtanh', inputs: [AwayFromBounds(2, 5)], f: ([x]) => hardtanh(x) },
  leakyRelu: { op: 'leakyRelu', inputs: [Away(2, 5)], f: ([x]) => leakyRelu(x, 0.1) },
  elu: { op: 'elu', inputs: [Away(2, 5)], f: ([x]) => elu(x, 0.7), secondOrder: true },
  mish: { op: 'mish', inputs: [U(2, 5)], f: ([x]) => mish(x), secondOrder: true },
  'einsum-chain': { op: 'einsum', inputs: [U(2, 3), U(3, 4), U(4, 2)], f: ([a, b, c]) => einsum('ij,jk,kl->il', a, b, c) },
  'einsum-batched-ellipsis': { op: 'einsum', inputs: [U(2, 1, 2, 3), U(3, 3, 2)], f: ([a, b]) => einsum('...ij,...jk->...ik', a, b) },
  'einsum-diagonal': { op: 'einsum', inputs: [U(3, 3), U(3)], f: ([a, b]) => einsum('ii,i->i', a, b) },
  'einsum-quadratic': { op: 'einsum', inputs: [U(3, 3)], f: ([a]) => einsum('ii,ij->j', a, a), secondOrder: true },
  'indexPut-set': { op: 'indexPut', inputs: [U(4, 3), Idx([2], [3, 0]), U(2, 3)], f: ([x, i, v]) => indexPut(x, [i], v) },
  'indexPut-accumulate': {
    op: 'indexPut', inputs: [U(3, 4), Idx([3], [1, 1, 2]), Idx([3], [0, 0, 3]), U(3)], f: ([x, i, j, v]) => indexPut(x, [i, j], v, { accumulate: true }),
  },
  scatter: { op: 'scatter', inputs: [U(3, 4), Idx([2, 4], [2, 0, 1, 1, 0, 1, 2, 0]), U(2, 4)], f: ([x, i, s]) => scatter(x, 0, i, s) },
  'scatter-add': { op: 'scatter', inputs: [U(3, 4), Idx([2, 2], [3, 3, 0, 3]), U(2, 2)], f: ([x, i, s]) => scatter(x, 1, i, s, { reduce: 'add' }) },
};

const f32 = (ctx: CaseContext, shape: number[]): Tensor =>
  tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 10), { shape, backend: ctx.backend });
const i32 = (ctx: CaseContext, shape: number[], values: number[]): Tensor => tensor(values, { shape, dtype: 'int32', backend: ctx.backend });
const spec = (op: string, make: (ctx: CaseContext) => Tensor[], call: (xs: Tensor[]) => unknown, mentions: string[], atRead = false): ErrorSpec => ({
  op, dtypes: ['float32'], atRead, setup: (ctx) => { const inputs = make(ctx); return { inputs, call: () => call(inputs), mentions }; },
});

/**
 * Bad calls: the message must name the op and these strings. Out-of-range indices may throw at
 * the next read instead (WebGPU), naming the scatterAdd primitive the update runs on.
 */
const ERRORS: Readonly<Record<string, ErrorSpec>> = {
  'einsum-operand-count': spec('einsum', (c) => [f32(c, [2, 3])], ([a]) => einsum('ij,jk->ik', a), ['einsum', '2 input terms', '[2, 3]']),
  'einsum-size-mismatch': spec('einsum', (c) => [f32(c, [2, 3]), f32(c, [4, 2])], ([a, b]) => einsum('ij,jk', a, b), ['einsum', "'j'", '[4, 2]', '[2, 3]']),
  'einsum-subscript-count': spec('einsum', (c) => [f32(c, [2])], ([a]) => einsum('ij->', a), ['einsum', '2 subscripts', '1 dimensions']),
  'einsum-bad-output': spec('einsum', (c) => [f32(c, [2])], ([a]) => einsum('i->j', a), ['einsum', "'j'"]),
  'einsum-diagonal-sizes': spec('einsum', (c) => [f32(c, [2, 3])], ([a]) => einsum('ii', a), ['einsum', "'i'", '[2, 3]', '2 vs 3']),
  'softplus-beta': spec('softplus', (c) => [f32(c, [3])], ([x]) => softplus(x, { beta: 0 }), ['softplus', 'beta']),
  'hardtanh-bounds': spec('hardtanh', (c) => [f32(c, [3])], ([x]) => hardtanh(x, 1, -1), ['hardtanh', 'minVal', 'maxVal']),
  'elu-int': spec('elu', (c) => [i32(c, [2], [1, 2])], ([x]) => elu(x), ['elu', 'int32']),
  'logaddexp-shapes': spec('logaddexp', (c) => [f32(c, [2, 3]), f32(c, [4])], ([a, b]) => logaddexp(a, b), ['logaddexp', '[2, 3]', '[4]']),
  'indexPut-index-dtype': spec('indexPut', (c) => [f32(c, [3, 2]), f32(c, [2])], ([x, i]) => indexPut(x, [i], 0), ['indexPut', 'int32', 'float32']),
  'indexPut-values-shape': spec('indexPut', (c) => [f32(c, [3, 2]), i32(c, [2], [0, 1]), f32(c, [3])], ([x, i, v]) => indexPut(x, [i], v), ['indexPut', '[3]', '[2, 2]']),
  'indexPut-out-of-range': spec('indexPut', (c) => [f32(c, [3, 2]), i32(c, [2], [0, 3])], ([x, i]) => indexPut(x, [i], 1), ['index 3', 'out of range'], true),
  'scatter-shapes': spec('scatter', (c) => [f32(c, [3, 4]), i32(c, [1, 3], [0, 1, 2]), f32(c, [1, 2])], ([x, i, s]) => scatter(x, 1, i, s), ['scatter', '[1, 3]', '[3, 4]', '[1, 2]']),
  'scatter-out-of-range': spec('scatter', (c) => [f32(c, [3, 4]), i32(c, [1, 1], [4])], ([x, i]) => scatter(x, 1, i, 1), ['scatter'], true),
  'maskedSelect-mask-dtype': spec('maskedSelect', (c) => [f32(c, [2, 3]), f32(c, [3])], ([x, m]) => maskedSelect(x, m), ['maskedSelect', 'bool', 'float32']),
  'maskedSelect-shapes': spec('maskedSelect', (c) => [f32(c, [2, 3]), tensor([true, false], { backend: c.backend })], ([x, m]) => maskedSelect(x, m), ['[2, 3]', '[2]']),
  'nonzero-not-tensor': spec('nonzero', () => [], () => nonzero([1, 2] as never), ['nonzero', 'Tensor']),
};

/**
 * The einsum/activation/indexed-update/selection cases (fixtures, non-contiguous inputs,
 * finite differences, errors).
 *
 * @example
 * ```ts
 * einsumSelectCases().filter((c) => c.op === 'einsum').length;
 * ```
 */
export function einsumSelectCases(): RunnableCase[] {
  const fixtures = einsumSelectFixtures().flatMap((c): RunnableCase[] => {
    const dtypes = [...new Set([...c.inputs, ...c.outputs].map((t) => t.dtype))];
    const cases: RunnableCase[] = [{
      id: `fixtures/${c.id}`, group: 'fixtures', op: c.op, dtypes, hasGradient: c.grads !== null,
      run: (ctx) => runFixtureCase(c, ctx, 'contiguous', runEinsumSelectOp),
    }];
    if (c.inputs.some((h) => layoutApplies('strided', h.shape))) {
      cases.push({
        id: `non-contiguous/${c.id}`, group: 'non-contiguous', op: c.op, dtypes, hasGradient: c.grads !== null,
        run: async (ctx) => {
          await runFixtureCase(c, ctx, 'strided', runEinsumSelectOp);
          if (c.inputs.some((h) => layoutApplies('transposed', h.shape))) await runFixtureCase(c, ctx, 'transposed', runEinsumSelectOp);
        },
      });
    }
    return cases;
  });
  const fd = Object.entries(FD).flatMap(([name, s]): RunnableCase[] => [
    {
      id: `finite-diff/einsum-select/${name}`, group: 'finite-diff', op: s.op, dtypes: ['float32'], hasGradient: true,
      run: (ctx) => checkFirstOrder(`einsum-select/${name}`, s, ctx),
    },
    ...(s.secondOrder ? [{
      id: `second-order/einsum-select/${name}`, group: 'second-order' as const, op: s.op, dtypes: ['float32' as const], hasGradient: true,
      run: (ctx: CaseContext) => checkSecondOrder(`einsum-select/${name}`, s, ctx),
    }] : []),
  ]);
  const errors = Object.entries(ERRORS).map(([name, s]): RunnableCase => ({
    id: `errors/einsum-select/${name}`, group: 'errors', op: s.op, dtypes: s.dtypes, hasGradient: false,
    run: (ctx) => runError(name, s, ctx),
  }));
  return [...fixtures, ...fd, ...errors];
}
