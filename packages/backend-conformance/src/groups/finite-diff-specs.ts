// SPDX-License-Identifier: MIT
// The finite-difference table: for every differentiable op, small smooth inputs (drawn away
// from kinks, ties and poles so central differences are accurate in float32) and the function
// checked. RULE_COVERAGE maps every gradient rule of core (OpName) to the specs exercising it,
// so a new rule cannot be added to core without a finite-difference check here.
import {
  Generator, abs, atan2, cast, ceil, chunk, clamp, clone, concat, cos, customGrad, div, dropout, erf, exp, expand, expm1,
  flatten, floor, gather, gelu, indexSelect, layerNorm, linear, log, log1p, logSoftmax, logsumexp, matmul, max, maximum,
  mean, min, minimum, mul, narrow, neg, permute, pow, prod, reciprocal, relu, remainder, reshape, round, rsqrt,
  scaledDotProductAttention, scatterAdd, select, sigmoid, sign, silu, sin, slice, softmax, split, sqrt, square, squeeze,
  stack, std, sub, sum, tanh, transpose, unsqueeze, variance, where, add, contiguous,
  type DType, type OpName, type Tensor,
} from '@heed/core';
import { draw, numel, type Rng, type ValueKind } from '../host.js';

/**
 * An input of a finite-difference spec: differentiated (`values`), or a constant (`fixed`,
 * e.g. an index or a mask). `from` draws values that depend on earlier inputs.
 *
 * @example
 * ```ts
 * const x: FdInput = { shape: [2, 3], values: { kind: 'positive' } };
 * ```
 */
export type FdInput =
  | { readonly shape: readonly number[]; readonly values: ValueKind | ((rng: Rng, prev: readonly number[][]) => number[]) }
  | { readonly shape: readonly number[]; readonly fixed: readonly number[]; readonly dtype: DType };

/**
 * A finite-difference check: `f` maps all inputs (in order) to a tensor; the loss is
 * `sum(f(...) * U)` for a fixed random U. `secondOrder` also checks d/dx of
 * `sum(grad(loss)(x) * V)` (the first input must then be the only differentiated one).
 *
 * @example
 * ```ts
 * const spec: FdSpec = { op: 'exp', inputs: [{ shape: [6], values: { kind: 'uniform' } }], f: ([x]) => exp(x) };
 * ```
 */
export interface FdSpec {
  readonly op: string;
  readonly inputs: readonly FdInput[];
  readonly f: (xs: readonly Tensor[]) => Tensor;
  readonly secondOrder?: boolean;
}

const U = (...shape: number[]): FdInput => ({ shape, values: { kind: 'uniform' } });
const Pos = (...shape: number[]): FdInput => ({ shape, values: { kind: 'positive' } });
const Away = (...shape: number[]): FdInput => ({ shape, values: { kind: 'away', lo: 0.5 } });
const Distinct = (...shape: number[]): FdInput => ({ shape, values: { kind: 'distinct' } });
const Frac = (...shape: number[]): FdInput => ({ shape, values: { kind: 'frac' } });
const Idx = (shape: number[], fixed: number[]): FdInput => ({ shape, fixed, dtype: 'int32' });
const Mask = (shape: number[], fixed: number[]): FdInput => ({ shape, fixed, dtype: 'bool' });
/** A second ladder offset by half a step from the first input's: never within 0.18 of it. */
const OffsetLadder = (...shape: number[]): FdInput => ({
  shape,
  values: (rng) => draw(rng, numel(shape), { kind: 'distinct' }).map((v) => Math.fround(v + 0.185)),
});
/** Dividends whose ratio to the first input (divisors with |b| in [1, 2)) is >= 0.2 from an integer. */
const Dividend = (...shape: number[]): FdInput => ({ shape, values: (rng, prev) => prev[0].map((b) => Math.fround(b * (rng.int(-1, 2) + rng.uniform(0.2, 0.8)))) });
/** Values at least 0.15 away from the clamp bounds -0.5 and 0.7. */
const AwayFromBounds = (...shape: number[]): FdInput => ({
  shape,
  values: (rng) => draw(rng, numel(shape), { kind: 'uniform', lo: -1.5, hi: 1.5 }).map((v) => (Math.abs(v + 0.5) < 0.15 || Math.abs(v - 0.7) < 0.15 ? v + 0.35 : v)),
});
const W = (k: number): FdInput => ({ shape: [k], values: { kind: 'uniform', lo: 0.5, hi: 1.5 } });

const custom = customGrad((x: Tensor) => ({ value: x.mul(x).mul(x), backward: (dy: Tensor, saved: Tensor[]) => [dy.mul(saved[0].square()).mul(3)] }));

/**
 * Every finite-difference check, by name (the case ids are `finite-diff/<name>` and, for
 * specs marked secondOrder, `second-order/<name>`).
 *
 * @example
 * ```ts
 * FD_SPECS.softmax.secondOrder; // true
 * ```
 */
export const FD_SPECS = {
  neg: { op: 'neg', inputs: [U(2, 3)], f: ([x]) => neg(x) },
  abs: { op: 'abs', inputs: [Away(2, 3)], f: ([x]) => abs(x) },
  sign: { op: 'sign', inputs: [Away(2, 3)], f: ([x]) => sign(x) },
  exp: { op: 'exp', inputs: [U(2, 3)], f: ([x]) => exp(x), secondOrder: true },
  expm1: { op: 'expm1', inputs: [U(2, 3)], f: ([x]) => expm1(x) },
  log: { op: 'log', inputs: [Pos(2, 3)], f: ([x]) => log(x), secondOrder: true },
  log1p: { op: 'log1p', inputs: [Pos(2, 3)], f: ([x]) => log1p(x) },
  sqrt: { op: 'sqrt', inputs: [Pos(2, 3)], f: ([x]) => sqrt(x), secondOrder: true },
  rsqrt: { op: 'rsqrt', inputs: [Pos(2, 3)], f: ([x]) => rsqrt(x) },
  square: { op: 'square', inputs: [U(2, 3)], f: ([x]) => square(x) },
  reciprocal: { op: 'reciprocal', inputs: [Away(2, 3)], f: ([x]) => reciprocal(x) },
  sin: { op: 'sin', inputs: [U(2, 3)], f: ([x]) => sin(x), secondOrder: true },
  cos: { op: 'cos', inputs: [U(2, 3)], f: ([x]) => cos(x) },
  tanh: { op: 'tanh', inputs: [U(2, 3)], f: ([x]) => tanh(x), secondOrder: true },
  sigmoid: { op: 'sigmoid', inputs: [U(2, 3)], f: ([x]) => sigmoid(x), secondOrder: true },
  relu: { op: 'relu', inputs: [Away(2, 3)], f: ([x]) => relu(x) },
  erf: { op: 'erf', inputs: [U(2, 3)], f: ([x]) => erf(x), secondOrder: true },
  floor: { op: 'floor', inputs: [Frac(2, 3)], f: ([x]) => floor(x) },
  ceil: { op: 'ceil', inputs: [Frac(2, 3)], f: ([x]) => ceil(x) },
  round: { op: 'round', inputs: [Frac(2, 3)], f: ([x]) => round(x) },
  add: { op: 'add', inputs: [U(2, 3), U(3)], f: ([a, b]) => add(a, b) },
  sub: { op: 'sub', inputs: [U(2, 1), U(2, 3)], f: ([a, b]) => sub(a, b) },
  mul: { op: 'mul', inputs: [U(2, 3), U(2, 3)], f: ([a, b]) => mul(a, b) },
  'mul-self': { op: 'mul', inputs: [U(2, 3)], f: ([a]) => mul(a, a), secondOrder: true },
  div: { op: 'div', inputs: [U(2, 3), Away(2, 3)], f: ([a, b]) => div(a, b) },
  'div-by-x': { op: 'div', inputs: [Away(2, 3)], f: ([x]) => div(1.5, x), secondOrder: true },
  pow: { op: 'pow', inputs: [Pos(2, 3), U(2, 3)], f: ([a, b]) => pow(a, b) },
  'pow-scalar': { op: 'pow', inputs: [Pos(2, 3)], f: ([x]) => pow(x, 2.5), secondOrder: true },
  maximum: { op: 'maximum', inputs: [Distinct(2, 3), OffsetLadder(2, 3)], f: ([a, b]) => maximum(a, b) },
  minimum: { op: 'minimum', inputs: [Distinct(2, 3), OffsetLadder(2, 3)], f: ([a, b]) => minimum(a, b) },
  remainder: {
    op: 'remainder',
    inputs: [{ shape: [2, 3], values: { kind: 'away', lo: 1, hi: 2 } }, Dividend(2, 3)],
    f: ([b, a]) => remainder(a, b),
  },
  atan2: { op: 'atan2', inputs: [Away(2, 3), Away(2, 3)], f: ([a, b]) => atan2(a, b) },
  'atan2-first': {
    op: 'atan2', inputs: [Away(2, 3), { shape: [3], fixed: [0.8, -1.3, 0.6], dtype: 'float32' }], f: ([a, b]) => atan2(a, b), secondOrder: true,
  },
  where: { op: 'where', inputs: [Mask([2, 3], [1, 0, 1, 1, 0, 0]), U(2, 3), U(3)], f: ([c, a, b]) => where(c, a, b) },
  clamp: { op: 'clamp', inputs: [AwayFromBounds(3, 4)], f: ([x]) => clamp(x, -0.5, 0.7) },
  sum: { op: 'sum', inputs: [U(2, 3, 2)], f: ([x]) => sum(x, { axis: [0, 2], keepdim: true }) },
  mean: { op: 'mean', inputs: [U(2, 3)], f: ([x]) => mean(x, { axis: -1 }) },
  prod: { op: 'prod', inputs: [{ shape: [2, 4], values: { kind: 'positive', lo: 0.5, hi: 1.5 } }], f: ([x]) => prod(x, { axis: 1 }) },
  max: { op: 'max', inputs: [Distinct(3, 4)], f: ([x]) => max(x, { axis: 1 }) },
  'max-all': { op: 'max', inputs: [Distinct(2, 3)], f: ([x]) => max(x) },
  min: { op: 'min', inputs: [Distinct(3, 4)], f: ([x]) => min(x, { axis: [0, 1], keepdim: true }) },
  variance: { op: 'variance', inputs: [U(2, 4)], f: ([x]) => variance(x, { axis: 1 }), secondOrder: true },
  std: { op: 'std', inputs: [U(2, 4)], f: ([x]) => std(x, { axis: 0, correction: 0 }) },
  logsumexp: { op: 'logsumexp', inputs: [U(2, 4)], f: ([x]) => logsumexp(x, { axis: -1 }), secondOrder: true },
  reshape: { op: 'reshape', inputs: [U(2, 3)], f: ([x]) => reshape(x, [3, 2]) },
  flatten: { op: 'flatten', inputs: [U(2, 2, 2)], f: ([x]) => flatten(x, 1) },
  permute: { op: 'permute', inputs: [U(2, 3, 2)], f: ([x]) => permute(x, [2, 0, 1]) },
  transpose: { op: 'transpose', inputs: [U(2, 3)], f: ([x]) => transpose(x) },
  expand: { op: 'expand', inputs: [U(3, 1)], f: ([x]) => expand(x, [2, 3, 4]) },
  slice: { op: 'slice', inputs: [U(5, 4)], f: ([x]) => slice(x, [[1, 5, 2], [-3]]) },
  narrow: { op: 'narrow', inputs: [U(4, 3)], f: ([x]) => narrow(x, 0, 1, 2) },
  select: { op: 'select', inputs: [U(3, 4)], f: ([x]) => select(x, 1, -1) },
  squeeze: { op: 'squeeze', inputs: [U(1, 3, 1)], f: ([x]) => squeeze(x) },
  unsqueeze: { op: 'unsqueeze', inputs: [U(3)], f: ([x]) => unsqueeze(x, 0) },
  contiguous: { op: 'contiguous', inputs: [U(2, 3)], f: ([x]) => contiguous(transpose(x)) },
  clone: { op: 'clone', inputs: [U(2, 3)], f: ([x]) => clone(x) },
  cast: { op: 'cast', inputs: [U(2, 3)], f: ([x]) => cast(x, 'float32') },
  split: { op: 'split', inputs: [U(2, 5)], f: ([x]) => split(x, [2, 3], 1)[1] },
  chunk: { op: 'chunk', inputs: [U(5, 2)], f: ([x]) => chunk(x, 2, 0)[1] },
  concat: { op: 'concat', inputs: [U(2, 1), U(2, 3)], f: ([a, b]) => concat([a, b], 1) },
  stack: { op: 'stack', inputs: [U(3), U(3)], f: ([a, b]) => stack([a, b], 1) },
  matmul: { op: 'matmul', inputs: [U(2, 3), U(3, 2)], f: ([a, b]) => matmul(a, b) },
  'matmul-batched': { op: 'matmul', inputs: [U(2, 1, 2, 3), U(2, 3, 2)], f: ([a, b]) => matmul(a, b) },
  'matmul-vector': { op: 'matmul', inputs: [U(3), U(2, 3, 2)], f: ([a, b]) => matmul(a, b) },
  'matmul-self': { op: 'matmul', inputs: [U(3, 3)], f: ([a]) => matmul(a, a), secondOrder: true },
  linear: { op: 'linear', inputs: [U(2, 3), U(2, 3), U(2)], f: ([x, w, b]) => linear(x, w, b) },
  gather: { op: 'gather', inputs: [U(3, 4), Idx([3, 2], [0, 3, 1, 1, 2, 0])], f: ([x, i]) => gather(x, 1, i) },
  indexSelect: { op: 'indexSelect', inputs: [U(4, 2), Idx([3], [3, 0, 3])], f: ([x, i]) => indexSelect(x, 0, i) },
  scatterAdd: {
    op: 'scatterAdd',
    inputs: [U(3, 2), Idx([2, 2], [0, 2, 2, 2]), U(2, 2)],
    f: ([x, i, s]) => scatterAdd(x, 0, i, s),
  },
  softmax: { op: 'softmax', inputs: [U(2, 4)], f: ([x]) => softmax(x, -1), secondOrder: true },
  'softmax-axis0': { op: 'softmax', inputs: [U(3, 2)], f: ([x]) => softmax(x, 0) },
  logSoftmax: { op: 'logSoftmax', inputs: [U(2, 4)], f: ([x]) => logSoftmax(x, 1), secondOrder: true },
  'gelu-none': { op: 'gelu', inputs: [U(2, 4)], f: ([x]) => gelu(x), secondOrder: true },
  'gelu-tanh': { op: 'gelu', inputs: [U(2, 4)], f: ([x]) => gelu(x, 'tanh'), secondOrder: true },
  silu: { op: 'silu', inputs: [U(2, 4)], f: ([x]) => silu(x) },
  layerNorm: { op: 'layerNorm', inputs: [U(2, 4)], f: ([x]) => layerNorm(x, [4]), secondOrder: true },
  'layerNorm-affine': { op: 'layerNorm', inputs: [U(2, 4), W(4), U(4)], f: ([x, w, b]) => layerNorm(x, [4], w, b) },
  'layerNorm-2d': {
    op: 'layerNorm',
    inputs: [U(2, 2, 3), { shape: [2, 3], values: { kind: 'uniform', lo: 0.5, hi: 1.5 } }, U(2, 3)],
    f: ([x, w, b]) => layerNorm(x, [2, 3], w, b),
  },
  attention: { op: 'scaledDotProductAttention', inputs: [U(1, 2, 3), U(1, 4, 3), U(1, 4, 2)], f: ([q, k, v]) => scaledDotProductAttention(q, k, v) },
  'attention-bool-mask': {
    op: 'scaledDotProductAttention',
    inputs: [U(1, 1, 2, 3), U(1, 1, 3, 3), U(1, 1, 3, 2), Mask([2, 3], [1, 0, 1, 0, 1, 1])],
    f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m }),
  },
  'attention-additive-mask': {
    op: 'scaledDotProductAttention',
    inputs: [U(1, 2, 3), U(1, 3, 3), U(1, 3, 2), U(2, 3)],
    f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m }),
  },
  'attention-causal': {
    op: 'scaledDotProductAttention',
    inputs: [U(1, 3, 2), U(1, 3, 2), U(1, 3, 2)],
    f: ([q, k, v]) => scaledDotProductAttention(q, k, v, { isCausal: true }),
  },
  'attention-query': {
    op: 'scaledDotProductAttention',
    inputs: [U(1, 2, 3), { shape: [1, 3, 3], fixed: [0.3, -0.2, 0.5, 1.1, 0.4, -0.7, -0.6, 0.9, 0.2], dtype: 'float32' },
      { shape: [1, 3, 2], fixed: [1, -1, 0.5, 2, -0.3, 0.8], dtype: 'float32' }],
    f: ([q, k, v]) => scaledDotProductAttention(q, k, v, { isCausal: true }),
    secondOrder: true,
  },
  dropout: { op: 'dropout', inputs: [U(3, 4)], f: ([x]) => dropout(x, 0.3, true, new Generator(11)) },
  customGrad: { op: 'customGrad', inputs: [U(2, 3)], f: ([x]) => custom(x), secondOrder: true },
} satisfies Record<string, FdSpec>;

/**
 * Name of a finite-difference spec.
 *
 * @example
 * ```ts
 * const n: FdName = 'softmax';
 * ```
 */
export type FdName = keyof typeof FD_SPECS;

/**
 * For every gradient rule of core, the finite-difference specs that exercise it. Typed
 * exhaustively over core's OpName.
 *
 * @example
 * ```ts
 * RULE_COVERAGE.extreme; // ['max', 'max-all', 'min']
 * ```
 */
export const RULE_COVERAGE: { readonly [K in OpName]: readonly FdName[] } = {
  neg: ['neg'], abs: ['abs'], exp: ['exp'], expm1: ['expm1'], log: ['log'], log1p: ['log1p'], sqrt: ['sqrt', 'std'],
  rsqrt: ['rsqrt'], square: ['square', 'variance'], reciprocal: ['reciprocal'], sin: ['sin'], cos: ['cos'], tanh: ['tanh', 'gelu-tanh'],
  sigmoid: ['sigmoid', 'silu'], relu: ['relu'], erf: ['erf', 'gelu-none'], stepwise: ['sign', 'floor', 'ceil', 'round'],
  add: ['add', 'linear'], sub: ['sub'], mul: ['mul', 'mul-self', 'dropout'], div: ['div', 'div-by-x', 'mean'],
  pow: ['pow', 'pow-scalar'], maximum: ['maximum'], minimum: ['minimum'], mod: ['remainder'], atan2: ['atan2', 'atan2-first'],
  where: ['where', 'clamp', 'attention-bool-mask'], sum: ['sum', 'mean'], prod: ['prod'], extreme: ['max', 'max-all', 'min'],
  reshape: ['reshape', 'flatten', 'squeeze', 'unsqueeze', 'contiguous', 'clone', 'cast'], permute: ['permute', 'transpose'],
  expand: ['expand'], slice: ['slice', 'narrow', 'select', 'split', 'chunk'],
  matmul: ['matmul', 'matmul-batched', 'matmul-vector', 'matmul-self', 'linear', 'attention'],
  concat: ['concat', 'stack'], gather: ['gather'], indexSelect: ['indexSelect'], scatterAdd: ['scatterAdd'],
  softmax: ['softmax', 'softmax-axis0', 'attention', 'attention-causal'], logSoftmax: ['logSoftmax'], gelu: ['gelu-none', 'gelu-tanh'],
  layerNorm: ['layerNorm', 'layerNorm-affine', 'layerNorm-2d'], custom: ['customGrad'],
};
