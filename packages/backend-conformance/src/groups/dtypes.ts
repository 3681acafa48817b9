// SPDX-License-Identifier: MIT
// Dtype rules, checked over every dtype combination: promotion bool < int32 < float32 for
// arithmetic, true division and atan2 give float32, comparisons give bool, logical ops need
// bool; unary and reduction result dtypes; reads return the matching TypedArray; bool storage
// holds only 0/1; int32 arithmetic is exact beyond float32's 24-bit mantissa.
import {
  HeedError, DTYPES, promoteTypes, tensor, tidy,
  add, sub, mul, div, pow, maximum, minimum, remainder, atan2, eq, ne, lt, le, gt, ge, logicalAnd, logicalOr, logicalXor,
  neg, abs, sign, exp, expm1, log, log1p, sqrt, rsqrt, square, reciprocal, sin, cos, tanh, sigmoid, relu, erf, floor, ceil,
  round, isnan, logicalNot, sum, prod, max, min, argmax, argmin, mean, variance, std, logsumexp, any, all, cast,
  type BinaryOp, type DType, type ReduceOp, type Tensor, type TensorLike, type UnaryOp,
} from '@heed/core';
import { ConformanceError, ensure, readHost } from '../assert.js';
import type { CaseContext, RunnableCase } from '../types.js';

type ResultRule = 'promote' | 'float' | 'bool' | 'logical';

/** Every binary primitive with its Heed function and result rule (exhaustive over BinaryOp). */
const BINARY: { readonly [K in BinaryOp]: readonly [(a: TensorLike, b: TensorLike) => Tensor, ResultRule] } = {
  add: [add, 'promote'], sub: [sub, 'promote'], mul: [mul, 'promote'], div: [div, 'float'], pow: [pow, 'promote'],
  maximum: [maximum, 'promote'], minimum: [minimum, 'promote'], mod: [remainder, 'promote'], atan2: [atan2, 'float'],
  eq: [eq, 'bool'], ne: [ne, 'bool'], lt: [lt, 'bool'], le: [le, 'bool'], gt: [gt, 'bool'], ge: [ge, 'bool'],
  and: [logicalAnd, 'logical'], or: [logicalOr, 'logical'], xor: [logicalXor, 'logical'],
};

/** Every unary primitive with its function and result: same dtype, float32, or bool. */
const UNARY: { readonly [K in UnaryOp]: readonly [(x: Tensor) => Tensor, 'same' | 'float' | 'bool' | 'not'] } = {
  neg: [neg, 'same'], abs: [abs, 'same'], sign: [sign, 'same'], exp: [exp, 'float'], expm1: [expm1, 'float'], log: [log, 'float'],
  log1p: [log1p, 'float'], sqrt: [sqrt, 'float'], rsqrt: [rsqrt, 'float'], square: [square, 'same'], reciprocal: [reciprocal, 'float'],
  sin: [sin, 'float'], cos: [cos, 'float'], tanh: [tanh, 'float'], sigmoid: [sigmoid, 'float'], relu: [relu, 'same'], erf: [erf, 'float'],
  floor: [floor, 'same'], ceil: [ceil, 'same'], round: [round, 'same'], not: [logicalNot, 'not'], isnan: [isnan, 'bool'],
};

/** Reductions and the dtype they give for bool, int32 and float32 input (absent: unspecified). */
const REDUCE: Readonly<Record<string, readonly [(x: Tensor) => Tensor, { readonly [D in DType]?: DType }]>> = {
  sum: [(x) => sum(x, { axis: 1 }), { bool: 'int32', int32: 'int32', float32: 'float32' }],
  prod: [(x) => prod(x, { axis: 1 }), { bool: 'int32', int32: 'int32', float32: 'float32' }],
  max: [(x) => max(x, { axis: 1 }), { bool: 'bool', int32: 'int32', float32: 'float32' }],
  min: [(x) => min(x), { bool: 'bool', int32: 'int32', float32: 'float32' }],
  argmax: [(x) => argmax(x, 1), { bool: 'int32', int32: 'int32', float32: 'int32' }],
  argmin: [(x) => argmin(x), { bool: 'int32', int32: 'int32', float32: 'int32' }],
  mean: [(x) => mean(x, { axis: 0 }), { bool: 'float32', int32: 'float32', float32: 'float32' }],
  variance: [(x) => variance(x, { axis: 1 }), { bool: 'float32', int32: 'float32', float32: 'float32' }],
  std: [(x) => std(x), { bool: 'float32', int32: 'float32', float32: 'float32' }],
  logsumexp: [(x) => logsumexp(x, { axis: 1 }), { int32: 'float32', float32: 'float32' }],
  any: [(x) => any(x, { axis: 1 }), { bool: 'bool', int32: 'bool', float32: 'bool' }],
  all: [(x) => all(x), { bool: 'bool', int32: 'bool', float32: 'bool' }],
};
/** Compile-time: every reduce primitive has an entry above. */
const _reduceCovered: { readonly [K in ReduceOp]: true } = { sum: true, prod: true, max: true, min: true, argmax: true, argmin: true };
void _reduceCovered;

const SAMPLE: { readonly [D in DType]: number[] } = { bool: [1, 0, 1, 1, 0, 1], int32: [3, -2, 5, 1, 4, 2], float32: [1.5, -0.25, 2, 0.5, 3, 1.25] };

function sample(ctx: CaseContext, dtype: DType): Tensor {
  return tensor(SAMPLE[dtype], { shape: [2, 3], dtype, backend: ctx.backend });
}

async function withResult(label: string, make: () => Tensor, want: DType | 'error'): Promise<void> {
  let out: Tensor;
  try {
    out = tidy(make);
  } catch (e) {
    if (want === 'error' && e instanceof HeedError) return;
    throw new ConformanceError(`${label}: ${want === 'error' ? 'expected a HeedError, got' : 'threw'} ${String(e)}`);
  }
  try {
    ensure(want !== 'error', `${label}: expected a HeedError, got a ${out.dtype} result`);
    ensure(out.dtype === want, `${label}: result dtype ${out.dtype}, want ${want}`);
    const h = await readHost(out);
    ensure(h.values.length === out.size, `${label}: read ${h.values.length} values for ${out.size} elements`);
    if (want === 'bool') ensure(h.values.every((v) => v === 0 || v === 1), () => `${label}: bool result holds [${h.values}], not only 0/1`);
    if (want === 'int32') ensure(h.values.every(Number.isInteger), () => `${label}: int32 result holds non-integers [${h.values}]`);
  } finally {
    out.dispose();
  }
}

async function binaryDtypes(ctx: CaseContext): Promise<void> {
  for (const [op, [f, rule]] of Object.entries(BINARY)) {
    for (const da of DTYPES) {
      for (const db of DTYPES) {
        const p = promoteTypes(da, db);
        const want: DType | 'error' = rule === 'promote' ? p : rule === 'float' ? 'float32' : rule === 'bool' ? 'bool' : p === 'bool' ? 'bool' : 'error';
        await withResult(`${op}(${da}, ${db})`, () => f(sample(ctx, da), sample(ctx, db)), want);
      }
    }
  }
}

async function unaryDtypes(ctx: CaseContext): Promise<void> {
  for (const [op, [f, rule]] of Object.entries(UNARY)) {
    for (const d of DTYPES) {
      if (rule === 'same' && d === 'bool') continue; // arithmetic on bool is not part of the contract
      const want: DType | 'error' = rule === 'same' ? d : rule === 'float' ? 'float32' : rule === 'bool' ? 'bool' : d === 'bool' ? 'bool' : 'error';
      await withResult(`${op}(${d})`, () => f(sample(ctx, d)), want);
    }
  }
}

async function reduceDtypes(ctx: CaseContext): Promise<void> {
  for (const [op, [f, table]] of Object.entries(REDUCE)) {
    for (const d of DTYPES) {
      const want = table[d];
      if (want) await withResult(`${op}(${d})`, () => f(sample(ctx, d)), want);
    }
  }
}

async function readTypes(ctx: CaseContext): Promise<void> {
  const want: { readonly [D in DType]: string } = { float32: 'Float32Array', int32: 'Int32Array', bool: 'Uint8Array' };
  for (const d of DTYPES) {
    const t = sample(ctx, d);
    const v = t.transpose(0, 1);
    try {
      for (const x of [t, v]) {
        const data = await x.data();
        ensure(data.constructor.name === want[d], () => `data() of a ${d} tensor returned ${data.constructor.name}, want ${want[d]}`);
      }
      const h = await readHost(v);
      const s = SAMPLE[d];
      ensure(h.values.join() === [s[0], s[3], s[1], s[4], s[2], s[5]].join(), () => `${d} transposed read gave [${h.values}]`);
    } finally {
      v.dispose();
      t.dispose();
    }
  }
}

async function boolStorage(ctx: CaseContext): Promise<void> {
  const cases: [string, () => Tensor, number[]][] = [
    ['cast(float -> bool)', () => cast(tensor([2, -3, 0.5, 0, -0], { backend: ctx.backend }), 'bool'), [1, 1, 1, 0, 0]],
    ['cast(int32 -> bool)', () => cast(tensor([7, 0, -1], { dtype: 'int32', backend: ctx.backend }), 'bool'), [1, 0, 1]],
    ['tensor(bool from numbers)', () => tensor([5, 0, 2], { dtype: 'bool', backend: ctx.backend }), [1, 0, 1]],
    ['add(bool, bool)', () => add(tensor([true, true, false]), tensor([true, false, false])), [1, 1, 0]],
    ['maximum(bool, bool)', () => maximum(tensor([true, false]), tensor([true, false])), [1, 0]],
    ['cast(bool -> int32)', () => cast(tensor([true, false, true]), 'int32'), [1, 0, 1]],
  ];
  for (const [label, make, want] of cases) {
    const t = tidy(make);
    try {
      const h = await readHost(t);
      ensure(h.values.join() === want.join(), () => `${label} gave [${h.values}], want [${want}]`);
    } finally {
      t.dispose();
    }
  }
}

async function int32Exact(ctx: CaseContext): Promise<void> {
  const big = 16777217; // 2^24 + 1: not representable in float32
  const checks: [string, () => Tensor, number[]][] = [
    ['add', () => add(tensor([big, -big], { dtype: 'int32', backend: ctx.backend }), 2), [big + 2, -big + 2]],
    ['mul', () => mul(tensor([46340, -40000], { dtype: 'int32', backend: ctx.backend }), tensor([46340, 50000], { dtype: 'int32', backend: ctx.backend })), [2147395600, -2000000000]],
    ['sum', () => sum(tensor([big, 1, 1, big], { dtype: 'int32', backend: ctx.backend })), [2 * big + 2]],
    ['max', () => max(tensor([big, big + 1, big - 1], { dtype: 'int32', backend: ctx.backend })), [big + 1]],
    ['argmax', () => argmax(tensor([big, big + 2, big + 1], { dtype: 'int32', backend: ctx.backend })), [1]],
    ['sub', () => sub(tensor([2147483647], { dtype: 'int32', backend: ctx.backend }), 2147483646), [1]],
    ['remainder', () => remainder(tensor([big, -big], { dtype: 'int32', backend: ctx.backend }), 10), [7, 3]],
    ['upload/read', () => tensor([-2147483648, 2147483647, big], { dtype: 'int32', backend: ctx.backend }), [-2147483648, 2147483647, big]],
  ];
  for (const [label, make, want] of checks) {
    const t = tidy(make);
    try {
      const h = await readHost(t);
      ensure(t.dtype === 'int32' && h.values.join() === want.join(), () => `int32 ${label} gave ${t.dtype} [${h.values}], want [${want}] (exact)`);
    } finally {
      t.dispose();
    }
  }
}

/**
 * The dtype-rule cases.
 *
 * @example
 * ```ts
 * dtypeCases().map((c) => c.id); // ['dtypes/binary-result-dtypes', ...]
 * ```
 */
export function dtypeCases(): RunnableCase[] {
  const all: DType[] = ['bool', 'int32', 'float32'];
  return [
    { id: 'dtypes/binary-result-dtypes', group: 'dtypes', op: 'binary', dtypes: all, hasGradient: false, run: binaryDtypes },
    { id: 'dtypes/unary-result-dtypes', group: 'dtypes', op: 'unary', dtypes: all, hasGradient: false, run: unaryDtypes },
    { id: 'dtypes/reduce-result-dtypes', group: 'dtypes', op: 'reduce', dtypes: all, hasGradient: false, run: reduceDtypes },
    { id: 'dtypes/read-array-types', group: 'dtypes', op: 'data', dtypes: all, hasGradient: false, run: readTypes },
    { id: 'dtypes/bool-storage', group: 'dtypes', op: 'cast', dtypes: all, hasGradient: false, run: boolStorage },
    { id: 'dtypes/int32-exact', group: 'dtypes', op: 'add', dtypes: ['int32'], hasGradient: false, run: int32Exact },
  ];
}
