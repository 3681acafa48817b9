// SPDX-License-Identifier: MIT
// Sorting, scan, triangle, mask and reshuffle cases: every case of fixtures/reorder.json
// (gen_reorder_fixtures.py, PyTorch 1.13) forward and gradients with contiguous and
// non-contiguous inputs, finite differences of each differentiable op, and the errors that
// must leave memory and the backend as they were. (Fused argsort/topk against core's
// fallback: the fused group.)
// Invariant: every tensor a case creates is disposed, also when an assertion fails.
import {
  argsort, cumprod, cumsum, diff, flip, maskedFill, repeat, roll, sort, tensor, tile, topk, tril, triu,
  type Tensor,
} from '@heed/core';
import { readFixtureFile, type FixtureCase } from '../fixtures.js';
import { layoutApplies, type Rng } from '../host.js';
import { runReorderOp } from '../reorder-fixture-ops.js';
import type { CaseContext, RunnableCase } from '../types.js';
import { checkFirstOrder } from './finite-diff.js';
import type { FdInput, FdSpec } from './finite-diff-specs.js';
import { errorSpec, runError } from './errors.js';
import { runFixtureCase } from './fixture-cases.js';

let cache: readonly FixtureCase[] | null = null;
function reorderFixtures(): readonly FixtureCase[] {
  if (!cache) cache = readFixtureFile('reorder.json');
  return cache;
}

const U = (...shape: number[]): FdInput => ({ shape, values: { kind: 'uniform' } });
/** Distinct values in shuffled order, at least 0.1 apart (sort/topk are smooth there). */
const Shuffled = (...shape: number[]): FdInput => ({
  shape,
  values: (rng: Rng) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = Array.from({ length: n }, (_, i) => Math.fround(-2 + (4 * i) / Math.max(1, n - 1)));
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  },
});
const Mask = (shape: number[], fixed: number[]): FdInput => ({ shape, fixed, dtype: 'bool' });

/** Finite-difference checks of every differentiable op of the family. */
const FD: Readonly<Record<string, FdSpec>> = {
  'sort-values': { op: 'sort', inputs: [Shuffled(3, 5)], f: ([x]) => sort(x, { descending: true }).values },
  'sort-axis0': { op: 'sort', inputs: [Shuffled(4, 3)], f: ([x]) => sort(x, { axis: 0 }).values },
  topk: { op: 'topk', inputs: [Shuffled(2, 9)], f: ([x]) => topk(x, 3).values },
  'topk-smallest-axis0': { op: 'topk', inputs: [Shuffled(6, 2)], f: ([x]) => topk(x, 2, { axis: 0, largest: false }).values },
  cumsum: { op: 'cumsum', inputs: [U(3, 7)], f: ([x]) => cumsum(x, 1) },
  'cumsum-axis0': { op: 'cumsum', inputs: [U(5, 2)], f: ([x]) => cumsum(x, 0) },
  cumprod: { op: 'cumprod', inputs: [{ shape: [2, 6], values: { kind: 'away', lo: 0.5, hi: 1.5 } }], f: ([x]) => cumprod(x, -1) },
  'cumprod-with-zero': {
    op: 'cumprod',
    inputs: [{ shape: [6], values: (rng) => [0.9, 0, 1.2, -0.7, 0, 1.1].map((v) => (v === 0 ? 0 : Math.fround(v + rng.uniform(-0.1, 0.1)))) }],
    f: ([x]) => cumprod(x, 0),
  },
  tril: { op: 'tril', inputs: [U(2, 3, 4)], f: ([x]) => tril(x, 1) },
  triu: { op: 'triu', inputs: [U(4, 3)], f: ([x]) => triu(x, -1) },
  maskedFill: { op: 'maskedFill', inputs: [U(2, 3), Mask([3], [1, 0, 1])], f: ([x, m]) => maskedFill(x, m, 0.5) },
  'maskedFill-tensor-value': {
    op: 'maskedFill', inputs: [U(2, 3), U(), Mask([2, 1], [0, 1])], f: ([x, v, m]) => maskedFill(x, m, v),
  },
  repeat: { op: 'repeat', inputs: [U(2, 3)], f: ([x]) => repeat(x, [2, 1, 3]) },
  tile: { op: 'tile', inputs: [U(3)], f: ([x]) => tile(x, [2, 2]) },
  flip: { op: 'flip', inputs: [U(3, 4)], f: ([x]) => flip(x, [0, 1]) },
  roll: { op: 'roll', inputs: [U(3, 4)], f: ([x]) => roll(x, [2, -1], [1, 0]) },
  'roll-flat': { op: 'roll', inputs: [U(2, 3)], f: ([x]) => roll(x, 4) },
  diff: { op: 'diff', inputs: [U(3, 5)], f: ([x]) => diff(x, { n: 2 }) },
  'diff-prepend-append': { op: 'diff', inputs: [U(4, 2), U(1, 2), U(2, 2)], f: ([x, p, a]) => diff(x, { axis: 0, prepend: p, append: a }) },
};

const f32 = (ctx: CaseContext, shape: number[]): Tensor =>
  tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 10), { shape, backend: ctx.backend });
const i32 = (ctx: CaseContext, shape: number[]): Tensor =>
  tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i), { shape, dtype: 'int32', backend: ctx.backend });

/** A bad call: the inputs it makes, the call, and what the message must mention. */
interface BadCall {
  readonly op: string;
  readonly make: (ctx: CaseContext) => Tensor[];
  readonly call: (xs: Tensor[]) => unknown;
  readonly mentions: string[];
}
const on = (...shapes: number[][]) => (ctx: CaseContext) => shapes.map((s) => f32(ctx, s));

/** Bad calls: the message must name the op and these strings. */
const ERRORS: Readonly<Record<string, BadCall>> = {
  'topk-k-too-large': { op: 'topk', make: on([2, 5]), call: ([x]) => topk(x, 6), mentions: ['topk', 'k = 6', '[2, 5]'] },
  'topk-negative-k': { op: 'topk', make: on([4]), call: ([x]) => topk(x, -1), mentions: ['topk', 'k', '-1'] },
  'sort-axis': { op: 'sort', make: on([2, 3]), call: ([x]) => sort(x, { axis: 2 }), mentions: ['sort', 'axis', '2'] },
  'sort-unknown-option': { op: 'sort', make: on([3]), call: ([x]) => sort(x, { dim: 0 } as never), mentions: ['sort', 'dim'] },
  'argsort-descending-type': { op: 'argsort', make: on([3]), call: ([x]) => argsort(x, { descending: 'yes' as never }), mentions: ['argsort', 'descending'] },
  'cumsum-axis': { op: 'cumsum', make: on([2, 3]), call: ([x]) => cumsum(x, -3), mentions: ['cumsum', '-3'] },
  'cumprod-no-axis': { op: 'cumprod', make: on([3]), call: ([x]) => cumprod(x, undefined as never), mentions: ['cumprod', 'axis'] },
  'tril-rank': { op: 'tril', make: on([4]), call: ([x]) => tril(x), mentions: ['tril', '[4]', '2 dims'] },
  'triu-diagonal': { op: 'triu', make: on([2, 2]), call: ([x]) => triu(x, 0.5), mentions: ['triu', 'diagonal', '0.5'] },
  'maskedFill-mask-dtype': { op: 'maskedFill', make: on([2, 3], [2, 3]), call: ([x, m]) => maskedFill(x, m, 0), mentions: ['maskedFill', 'bool', 'float32'] },
  'maskedFill-mask-shape': {
    op: 'maskedFill',
    make: (ctx) => [f32(ctx, [2, 3]), tensor([true, false, true, true, false, true, true, false], { shape: [2, 2, 2], backend: ctx.backend })],
    call: ([x, m]) => maskedFill(x, m, 0), mentions: ['maskedFill', '[2, 2, 2]', '[2, 3]'],
  },
  'maskedFill-value-shape': {
    op: 'maskedFill',
    make: (ctx) => [f32(ctx, [2, 3]), tensor([true, false, true], { backend: ctx.backend }), f32(ctx, [3])],
    call: ([x, m, v]) => maskedFill(x, m, v), mentions: ['maskedFill', '0-d', '[3]'],
  },
  'maskedFill-int-fraction': {
    op: 'maskedFill',
    make: (ctx) => [i32(ctx, [3]), tensor([true, false, true], { backend: ctx.backend })],
    call: ([x, m]) => maskedFill(x, m, 0.5), mentions: ['maskedFill', '0.5', 'int32'],
  },
  'repeat-too-few': { op: 'repeat', make: on([2, 3]), call: ([x]) => repeat(x, [2]), mentions: ['repeat', '[2, 3]', 'tile'] },
  'repeat-negative': { op: 'repeat', make: on([2]), call: ([x]) => repeat(x, [-1]), mentions: ['repeat', 'repeats[0]', '-1'] },
  'tile-not-array': { op: 'tile', make: on([2]), call: ([x]) => tile(x, 2 as never), mentions: ['tile', 'reps', '2'] },
  'flip-repeated-dims': { op: 'flip', make: on([2, 3]), call: ([x]) => flip(x, [1, -1]), mentions: ['flip', 'repeats'] },
  'flip-axis': { op: 'flip', make: on([2, 3]), call: ([x]) => flip(x, 2), mentions: ['flip', '2'] },
  'roll-lengths': { op: 'roll', make: on([2, 3]), call: ([x]) => roll(x, [1, 2], [0]), mentions: ['roll', 'shifts', 'dims'] },
  'roll-no-dims-list': { op: 'roll', make: on([2, 3]), call: ([x]) => roll(x, [1, 2]), mentions: ['roll', 'without dims'] },
  'diff-prepend-shape': {
    op: 'diff', make: on([2, 3], [3, 1]), call: ([x, p]) => diff(x, { prepend: p }), mentions: ['diff', 'prepend', '[3, 1]', '[2, 3]'],
  },
  'diff-negative-n': { op: 'diff', make: on([3]), call: ([x]) => diff(x, { n: -1 }), mentions: ['diff', 'n', '-1'] },
  'diff-scalar': { op: 'diff', make: on([]), call: ([x]) => diff(x), mentions: ['diff', '0-d'] },
};

/**
 * The sorting/scan/triangle/mask/reshuffle cases (fixtures, non-contiguous inputs, finite
 * differences, errors).
 *
 * @example
 * ```ts
 * reorderCases().filter((c) => c.op === 'topk').length;
 * ```
 */
export function reorderCases(): RunnableCase[] {
  const fixtures = reorderFixtures().flatMap((c): RunnableCase[] => {
    const dtypes = [...new Set([...c.inputs, ...c.outputs].map((t) => t.dtype))];
    const cases: RunnableCase[] = [{
      id: `fixtures/${c.id}`, group: 'fixtures', op: c.op, dtypes, hasGradient: c.grads !== null,
      run: (ctx) => runFixtureCase(c, ctx, 'contiguous', runReorderOp),
    }];
    if (c.inputs.some((h) => layoutApplies('strided', h.shape))) {
      cases.push({
        id: `non-contiguous/${c.id}`, group: 'non-contiguous', op: c.op, dtypes, hasGradient: c.grads !== null,
        run: async (ctx) => {
          await runFixtureCase(c, ctx, 'strided', runReorderOp);
          if (c.inputs.some((h) => layoutApplies('transposed', h.shape))) await runFixtureCase(c, ctx, 'transposed', runReorderOp);
        },
      });
    }
    return cases;
  });
  const fd = Object.entries(FD).map(([name, spec]): RunnableCase => ({
    id: `finite-diff/reorder/${name}`, group: 'finite-diff', op: spec.op, dtypes: ['float32'], hasGradient: true,
    run: (ctx) => checkFirstOrder(`reorder/${name}`, spec, ctx),
  }));
  const errors = Object.entries(ERRORS).map(([name, spec]): RunnableCase => ({
    id: `errors/reorder/${name}`, group: 'errors', op: spec.op, dtypes: ['float32'], hasGradient: false,
    run: (ctx) => runError(name, errorSpec(spec.op, spec.make, spec.call, spec.mentions), ctx),
  }));
  return [...fixtures, ...fd, ...errors];
}
