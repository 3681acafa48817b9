// SPDX-License-Identifier: MIT
// The exhaustive typed table from fixture op names (as written by gen_core_fixtures.py) to
// Heed calls, with each op's attribute type. Compile-time tables below also map every core
// primitive (UnaryOp, BinaryOp, ReduceOp) to a fixture op, so a new primitive cannot be added
// to core without a fixture mapping here.
import {
  abs, all, any, arange, argmax, argmin, atan2, cast, ceil, chunk, clamp, clone, concat, contiguous, cos, div, dropout,
  eq, erf, exp, expand, expm1, eye, flatten, floor, full, gather, ge, gelu, gt, indexSelect, isnan, layerNorm, le, linear,
  linspace, log, log1p, logicalAnd, logicalNot, logicalOr, logicalXor, logSoftmax, logsumexp, lt, matmul, max, maximum,
  mean, min, minimum, mul, narrow, ne, neg, oneHot, ones, permute, pow, prod, reciprocal, relu, remainder, reshape, round,
  rsqrt, scaledDotProductAttention, attention, scatterAdd, select, sigmoid, sign, silu, sin, slice, softmax, split, sqrt,
  square, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, variance, where, zeros, add,
  type BinaryOp, type DType, type ReduceOp, type SliceRange, type Tensor, type TensorLike, type UnaryOp,
} from '@heed/core';

type NoAttrs = Readonly<Record<string, never>>;
/** A binary op with a JS number on one side instead of a second input tensor. */
interface ScalarAttrs { readonly scalar?: number; readonly side?: 'left' | 'right' }
interface ReduceAttrs { readonly axis?: number | number[]; readonly keepdim?: boolean }
interface VarianceAttrs extends ReduceAttrs { readonly correction?: number }
interface ArgAttrs { readonly axis?: number; readonly keepdim?: boolean }
interface AxisAttrs { readonly axis: number }
interface ShapeAttrs { readonly shape: number[]; readonly dtype?: DType }
interface AttentionAttrs { readonly isCausal?: boolean; readonly scale?: number }

/**
 * Every fixture op and the attributes its cases carry.
 *
 * @example
 * ```ts
 * const a: FixtureAttrMap['sum'] = { axis: [0, 2], keepdim: true };
 * ```
 */
export interface FixtureAttrMap {
  neg: NoAttrs; abs: NoAttrs; sign: NoAttrs; exp: NoAttrs; expm1: NoAttrs; log: NoAttrs; log1p: NoAttrs; sqrt: NoAttrs;
  rsqrt: NoAttrs; square: NoAttrs; reciprocal: NoAttrs; sin: NoAttrs; cos: NoAttrs; tanh: NoAttrs; sigmoid: NoAttrs;
  relu: NoAttrs; erf: NoAttrs; floor: NoAttrs; ceil: NoAttrs; round: NoAttrs; isnan: NoAttrs; logicalNot: NoAttrs;
  add: ScalarAttrs; sub: ScalarAttrs; mul: ScalarAttrs; div: ScalarAttrs; pow: ScalarAttrs; maximum: ScalarAttrs;
  minimum: ScalarAttrs; remainder: ScalarAttrs; atan2: ScalarAttrs; eq: ScalarAttrs; ne: ScalarAttrs; lt: ScalarAttrs;
  le: ScalarAttrs; gt: ScalarAttrs; ge: ScalarAttrs; logicalAnd: ScalarAttrs; logicalOr: ScalarAttrs; logicalXor: ScalarAttrs;
  where: ScalarAttrs; clamp: { readonly min?: number; readonly max?: number }; cast: { readonly dtype: DType }; clone: NoAttrs;
  dropout: { readonly p: number; readonly training: boolean }; silu: NoAttrs;
  sum: ReduceAttrs; mean: ReduceAttrs; prod: ReduceAttrs; max: ReduceAttrs; min: ReduceAttrs; logsumexp: ReduceAttrs;
  any: ReduceAttrs; all: ReduceAttrs; variance: VarianceAttrs; std: VarianceAttrs; argmax: ArgAttrs; argmin: ArgAttrs;
  reshape: ShapeAttrs; permute: { readonly perm: number[] }; transpose: { readonly dim0?: number; readonly dim1?: number };
  expand: ShapeAttrs; slice: { readonly ranges: SliceRange[] };
  narrow: { readonly axis: number; readonly start: number; readonly length: number };
  select: { readonly axis: number; readonly index: number }; squeeze: { readonly axes?: number | number[] };
  unsqueeze: AxisAttrs; flatten: { readonly startDim?: number; readonly endDim?: number }; contiguous: NoAttrs;
  matmul: { readonly transpose?: [boolean, boolean] }; linear: NoAttrs;
  concat: AxisAttrs; stack: AxisAttrs; split: { readonly sizes: number | number[]; readonly axis: number };
  chunk: { readonly chunks: number; readonly axis: number };
  gather: AxisAttrs; indexSelect: AxisAttrs; scatterAdd: AxisAttrs; oneHot: { readonly numClasses: number };
  softmax: AxisAttrs; logSoftmax: AxisAttrs; gelu: { readonly approximate: 'none' | 'tanh' };
  layerNorm: { readonly normalizedShape: number[]; readonly weight?: boolean; readonly bias?: boolean; readonly eps?: number };
  scaledDotProductAttention: AttentionAttrs; attentionWeights: AttentionAttrs;
  arange: { readonly start: number; readonly stop?: number; readonly step?: number };
  linspace: { readonly start: number; readonly stop: number; readonly num: number };
  eye: { readonly n: number; readonly m?: number }; full: ShapeAttrs & { readonly value: number };
  zeros: ShapeAttrs; ones: ShapeAttrs; tensor: NoAttrs;
}

/**
 * Name of a fixture op.
 *
 * @example
 * ```ts
 * const op: FixtureOpName = 'layerNorm';
 * ```
 */
export type FixtureOpName = keyof FixtureAttrMap;

/** Runs one op: inputs are on `backend` (creation ops use it explicitly). */
type OpImpl<A> = (inputs: readonly Tensor[], attrs: A, backend: string) => Tensor | Tensor[];

/** A binary op with the optional scalar operand on either side. */
function bin(f: (a: TensorLike, b: TensorLike) => Tensor): OpImpl<ScalarAttrs> {
  return (x, a) => (a.scalar === undefined ? f(x[0], x[1]) : a.side === 'left' ? f(a.scalar, x[0]) : f(x[0], a.scalar));
}

const un = (f: (x: Tensor) => Tensor): OpImpl<NoAttrs> => (x) => f(x[0]);
const red = (f: (x: Tensor, o: ReduceAttrs) => Tensor): OpImpl<ReduceAttrs> => (x, a) => f(x[0], { axis: a.axis, keepdim: a.keepdim });

/**
 * The table: fixture op name -> Heed call. Exhaustive over {@link FixtureAttrMap}.
 *
 * @example
 * ```ts
 * const y = FIXTURE_OPS.softmax([x], { axis: -1 }, 'cpu');
 * ```
 */
export const FIXTURE_OPS: { readonly [K in FixtureOpName]: OpImpl<FixtureAttrMap[K]> } = {
  neg: un(neg), abs: un(abs), sign: un(sign), exp: un(exp), expm1: un(expm1), log: un(log), log1p: un(log1p),
  sqrt: un(sqrt), rsqrt: un(rsqrt), square: un(square), reciprocal: un(reciprocal), sin: un(sin), cos: un(cos),
  tanh: un(tanh), sigmoid: un(sigmoid), relu: un(relu), erf: un(erf), floor: un(floor), ceil: un(ceil), round: un(round),
  isnan: un(isnan), logicalNot: un(logicalNot),
  add: bin(add), sub: bin(sub), mul: bin(mul), div: bin(div), pow: bin(pow), maximum: bin(maximum), minimum: bin(minimum),
  remainder: bin(remainder), atan2: bin(atan2), eq: bin(eq), ne: bin(ne), lt: bin(lt), le: bin(le), gt: bin(gt), ge: bin(ge),
  logicalAnd: bin(logicalAnd), logicalOr: bin(logicalOr), logicalXor: bin(logicalXor),
  where: (x, a) => (a.scalar === undefined ? where(x[0], x[1], x[2]) : a.side === 'left' ? where(x[0], a.scalar, x[1]) : where(x[0], x[1], a.scalar)),
  clamp: (x, a) => clamp(x[0], a.min, a.max),
  cast: (x, a) => cast(x[0], a.dtype),
  clone: un(clone),
  dropout: (x, a) => dropout(x[0], a.p, a.training),
  silu: un(silu),
  sum: red(sum), mean: red(mean), prod: red(prod), max: red(max), min: red(min), logsumexp: red(logsumexp),
  any: red(any), all: red(all),
  variance: (x, a) => variance(x[0], { axis: a.axis, keepdim: a.keepdim, correction: a.correction }),
  std: (x, a) => std(x[0], { axis: a.axis, keepdim: a.keepdim, correction: a.correction }),
  argmax: (x, a) => argmax(x[0], a.axis, a.keepdim),
  argmin: (x, a) => argmin(x[0], a.axis, a.keepdim),
  reshape: (x, a) => reshape(x[0], a.shape),
  permute: (x, a) => permute(x[0], a.perm),
  transpose: (x, a) => transpose(x[0], a.dim0, a.dim1),
  expand: (x, a) => expand(x[0], a.shape),
  slice: (x, a) => slice(x[0], a.ranges),
  narrow: (x, a) => narrow(x[0], a.axis, a.start, a.length),
  select: (x, a) => select(x[0], a.axis, a.index),
  squeeze: (x, a) => squeeze(x[0], a.axes),
  unsqueeze: (x, a) => unsqueeze(x[0], a.axis),
  flatten: (x, a) => flatten(x[0], a.startDim, a.endDim),
  contiguous: un(contiguous),
  matmul: (x, a) => {
    const [ta, tb] = a.transpose ?? [false, false];
    const l = ta ? x[0].transpose(-2, -1) : x[0];
    const r = tb ? x[1].transpose(-2, -1) : x[1];
    const out = matmul(l, r);
    if (l !== x[0]) l.dispose();
    if (r !== x[1]) r.dispose();
    return out;
  },
  linear: (x) => linear(x[0], x[1], x[2] ?? null),
  concat: (x, a) => concat(x, a.axis),
  stack: (x, a) => stack(x, a.axis),
  split: (x, a) => split(x[0], a.sizes, a.axis),
  chunk: (x, a) => chunk(x[0], a.chunks, a.axis),
  gather: (x, a) => gather(x[0], a.axis, x[1]),
  indexSelect: (x, a) => indexSelect(x[0], a.axis, x[1]),
  scatterAdd: (x, a) => scatterAdd(x[0], a.axis, x[1], x[2]),
  oneHot: (x, a) => oneHot(x[0], a.numClasses),
  softmax: (x, a) => softmax(x[0], a.axis),
  logSoftmax: (x, a) => logSoftmax(x[0], a.axis),
  gelu: (x, a) => gelu(x[0], a.approximate),
  layerNorm: (x, a) => {
    const w = a.weight ? x[1] : null;
    const b = a.bias ? x[a.weight ? 2 : 1] : null;
    return layerNorm(x[0], a.normalizedShape, w, b, a.eps ?? 1e-5);
  },
  scaledDotProductAttention: (x, a) => scaledDotProductAttention(x[0], x[1], x[2], { attnMask: x[3] ?? null, isCausal: a.isCausal, scale: a.scale }),
  attentionWeights: (x, a) => {
    const r = attention(x[0], x[1], x[2], { attnMask: x[3] ?? null, isCausal: a.isCausal, scale: a.scale, needWeights: true });
    return r.weights ? [r.output, r.weights] : [r.output];
  },
  arange: (_, a, backend) => arange(a.start, a.stop, a.step, { backend }),
  linspace: (_, a, backend) => linspace(a.start, a.stop, a.num, { backend }),
  eye: (_, a, backend) => eye(a.n, a.m, { backend }),
  full: (_, a, backend) => full(a.shape, a.value, { backend, dtype: a.dtype }),
  zeros: (_, a, backend) => zeros(a.shape, { backend, dtype: a.dtype }),
  ones: (_, a, backend) => ones(a.shape, { backend, dtype: a.dtype }),
  // The runner uploads the inputs; returning the input checks the upload/read round trip.
  tensor: (x) => x[0],
};

/**
 * Whether `name` is a fixture op.
 *
 * @example
 * ```ts
 * isFixtureOp('exp'); // true
 * ```
 */
export function isFixtureOp(name: string): name is FixtureOpName {
  return Object.prototype.hasOwnProperty.call(FIXTURE_OPS, name);
}

/**
 * Runs fixture op `name` with untyped attrs from the JSON (the generator writes them to match
 * {@link FixtureAttrMap}).
 *
 * @example
 * ```ts
 * runFixtureOp('sum', [x], { axis: 1 }, 'cpu');
 * ```
 */
export function runFixtureOp(name: FixtureOpName, inputs: readonly Tensor[], attrs: Readonly<Record<string, unknown>>, backend: string): Tensor[] {
  const impl = FIXTURE_OPS[name] as OpImpl<unknown>;
  const out = impl(inputs, attrs, backend);
  return Array.isArray(out) ? out : [out];
}

/**
 * The fixture op that covers each core primitive (compile-time exhaustive over core's lists).
 *
 * @example
 * ```ts
 * PRIMITIVE_FIXTURE_OPS.unary.not; // 'logicalNot'
 * ```
 */
export const PRIMITIVE_FIXTURE_OPS: {
  readonly unary: { readonly [K in UnaryOp]: FixtureOpName };
  readonly binary: { readonly [K in BinaryOp]: FixtureOpName };
  readonly reduce: { readonly [K in ReduceOp]: FixtureOpName };
} = {
  unary: {
    neg: 'neg', abs: 'abs', sign: 'sign', exp: 'exp', expm1: 'expm1', log: 'log', log1p: 'log1p', sqrt: 'sqrt', rsqrt: 'rsqrt',
    square: 'square', reciprocal: 'reciprocal', sin: 'sin', cos: 'cos', tanh: 'tanh', sigmoid: 'sigmoid', relu: 'relu',
    erf: 'erf', floor: 'floor', ceil: 'ceil', round: 'round', not: 'logicalNot', isnan: 'isnan',
  },
  binary: {
    add: 'add', sub: 'sub', mul: 'mul', div: 'div', pow: 'pow', maximum: 'maximum', minimum: 'minimum', mod: 'remainder',
    atan2: 'atan2', eq: 'eq', ne: 'ne', lt: 'lt', le: 'le', gt: 'gt', ge: 'ge', and: 'logicalAnd', or: 'logicalOr', xor: 'logicalXor',
  },
  reduce: { sum: 'sum', prod: 'prod', max: 'max', min: 'min', argmax: 'argmax', argmin: 'argmin' },
};
