// SPDX-License-Identifier: MIT
// Elementwise ops: unary math, binary arithmetic/comparison/logic with broadcasting and
// PyTorch dtype promotion, where, clamp and cast. Each records its gradient via `record`.
import { checkBufferLimit, type BinaryOp, type UnaryOp } from '../backend.js';
import { checkDType, isFloatDType, promoteTypes, type DType } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes, broadcastStrides, contiguousStrides } from '../shape.js';
import { Tensor } from '../tensor.js';
import { record, type OpName } from '../autograd/record.js';
import { checkBackendDType, checkNumber, checkNumel } from '../validate.js';
import { commonBackend, fromData, makeView, toTensors, type TensorLike } from './operands.js';
import { runKernel } from '../kernel-dispatch.js';

/** Result dtype and grad-rule name of each unary op. 'float' = float32 for non-float input. */
const UNARY_TABLE: { readonly [K in UnaryOp]: { dtype: 'same' | 'float' | 'bool'; rule: OpName | null } } = {
  neg: { dtype: 'same', rule: 'neg' }, abs: { dtype: 'same', rule: 'abs' }, sign: { dtype: 'same', rule: 'stepwise' },
  exp: { dtype: 'float', rule: 'exp' }, expm1: { dtype: 'float', rule: 'expm1' }, log: { dtype: 'float', rule: 'log' },
  log1p: { dtype: 'float', rule: 'log1p' }, sqrt: { dtype: 'float', rule: 'sqrt' }, rsqrt: { dtype: 'float', rule: 'rsqrt' },
  square: { dtype: 'same', rule: 'square' }, reciprocal: { dtype: 'float', rule: 'reciprocal' },
  sin: { dtype: 'float', rule: 'sin' }, cos: { dtype: 'float', rule: 'cos' }, tanh: { dtype: 'float', rule: 'tanh' },
  sigmoid: { dtype: 'float', rule: 'sigmoid' }, relu: { dtype: 'same', rule: 'relu' }, erf: { dtype: 'float', rule: 'erf' },
  floor: { dtype: 'same', rule: 'stepwise' }, ceil: { dtype: 'same', rule: 'stepwise' }, round: { dtype: 'same', rule: 'stepwise' },
  not: { dtype: 'bool', rule: null }, isnan: { dtype: 'bool', rule: null },
};

/** Result dtype kind and grad-rule name of each binary op. */
const BINARY_TABLE: { readonly [K in BinaryOp]: { dtype: 'promote' | 'float' | 'bool'; rule: OpName | null } } = {
  add: { dtype: 'promote', rule: 'add' }, sub: { dtype: 'promote', rule: 'sub' }, mul: { dtype: 'promote', rule: 'mul' },
  div: { dtype: 'float', rule: 'div' }, pow: { dtype: 'promote', rule: 'pow' }, maximum: { dtype: 'promote', rule: 'maximum' },
  minimum: { dtype: 'promote', rule: 'minimum' }, mod: { dtype: 'promote', rule: 'mod' }, atan2: { dtype: 'float', rule: 'atan2' },
  eq: { dtype: 'bool', rule: null }, ne: { dtype: 'bool', rule: null }, lt: { dtype: 'bool', rule: null },
  le: { dtype: 'bool', rule: null }, gt: { dtype: 'bool', rule: null }, ge: { dtype: 'bool', rule: null },
  and: { dtype: 'bool', rule: null }, or: { dtype: 'bool', rule: null }, xor: { dtype: 'bool', rule: null },
};

/** @internal Applies a unary primitive with dtype rules and gradient recording. */
export function unary(op: UnaryOp, x: Tensor): Tensor {
  const backend = commonBackend(op, [x]);
  const spec = UNARY_TABLE[op];
  if (op === 'not' && x.dtype !== 'bool') {
    throw new HeedError('logicalNot', `expects a bool tensor, got ${x.dtype}; compare first (e.g. x.ne(0)).`);
  }
  const dtype: DType = spec.dtype === 'bool' ? 'bool' : spec.dtype === 'float' && !isFloatDType(x.dtype) ? 'float32' : x.dtype;
  const out = fromData(backend, runKernel(backend, 'unary', op, x.stridedView(op), dtype), x.shape, dtype);
  return spec.rule ? record(spec.rule, [x], out, {}) : out;
}

/** @internal Applies a binary primitive with broadcasting, promotion and recording. */
export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const { tensors: [ta, tb], temps } = toTensors(op, [a, b]);
  try {
    const spec = BINARY_TABLE[op];
    const promoted = promoteTypes(ta.dtype, tb.dtype);
    if ((op === 'and' || op === 'or' || op === 'xor') && promoted !== 'bool') {
      throw new HeedError(`logical${op[0].toUpperCase()}${op.slice(1)}`, `expects bool tensors, got ${ta.dtype} and ${tb.dtype}; compare first (e.g. x.gt(0)).`);
    }
    const shape = broadcastShapes(op, ta.shape, tb.shape);
    checkNumel(op, shape);
    const dtype: DType = spec.dtype === 'bool' ? 'bool' : spec.dtype === 'float' && !isFloatDType(promoted) ? 'float32' : promoted;
    const computeIn: DType = spec.dtype === 'bool' ? promoted : dtype;
    checkBufferLimit(ta.backend, op, shape, dtype);
    const va = castView(ta, computeIn, shape, op);
    const vb = castView(tb, computeIn, shape, op);
    const backend = ta.backend;
    const data = runKernel(backend, 'binary', op, va.view, vb.view, dtype);
    va.release();
    vb.release();
    const out = fromData(backend, data, shape, dtype);
    return spec.rule ? record(spec.rule, [ta, tb], out, {}) : out;
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** A broadcast view of `t` in dtype `dtype` (casting into a temporary buffer when needed). */
function castView(t: Tensor, dtype: DType, shape: readonly number[], op: string) {
  const strides = broadcastStrides(t.shape, t.strides, shape);
  if (t.dtype === dtype) {
    return { view: { ...t.stridedView(op), shape, strides }, release: () => undefined };
  }
  const backend = t.backend;
  checkBufferLimit(backend, op, t.shape, dtype);
  const data = runKernel(backend, 'cast', t.stridedView(op), dtype);
  const castStrides = broadcastStrides(t.shape, contiguousStrides(t.shape), shape);
  return { view: { data, dtype, shape, strides: castStrides, offset: 0 }, release: () => runKernel(backend, 'free', data) };
}

/**
 * Elementwise `cond ? a : b`, broadcasting all three. `cond` must be bool.
 *
 * @example
 * ```ts
 * where(x.gt(0), x, 0); // relu
 * ```
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const { tensors: [ta, tb], temps } = toTensors('where', [a, b], cond instanceof Tensor ? cond.backend : undefined);
  try {
    commonBackend('where', [cond, ta, tb]);
    if (cond.dtype !== 'bool') {
      throw new HeedError('where', `condition must be bool, got ${cond.dtype} (shape ${fmtShape(cond.shape)}); compare first, e.g. x.gt(0).`);
    }
    const shape = broadcastShapes('where', cond.shape, ta.shape, tb.shape);
    checkNumel('where', shape);
    const dtype = promoteTypes(ta.dtype, tb.dtype);
    checkBufferLimit(cond.backend, 'where', shape, dtype);
    const vc = castView(cond, 'bool', shape, 'where');
    const va = castView(ta, dtype, shape, 'where');
    const vb = castView(tb, dtype, shape, 'where');
    const data = runKernel(cond.backend, 'where', vc.view, va.view, vb.view);
    vc.release(); va.release(); vb.release();
    const out = fromData(cond.backend, data, shape, dtype);
    return record('where', [cond, ta, tb], out, {});
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * Converts to another dtype. Float to int truncates toward zero; anything to bool is `!= 0`.
 * Gradients flow only between float dtypes.
 *
 * @example
 * ```ts
 * cast(tensor([1.7, -1.7]), 'int32'); // [1, -1]
 * ```
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  const backend = commonBackend('cast', [x]);
  checkDType('cast', dtype);
  checkBackendDType('cast', backend, dtype);
  if (x.dtype === dtype) return binaryIdentity(x);
  checkBufferLimit(backend, 'cast', x.shape, dtype);
  return fromData(backend, runKernel(backend, 'cast', x.stridedView('cast'), dtype), x.shape, dtype);
}

/** A copy of `x` that stays in the graph (x * 1 without a kernel for the multiply). */
function binaryIdentity(x: Tensor): Tensor {
  const out = fromData(x.backend, runKernel(x.backend, 'copy', x.stridedView('clone')), x.shape, x.dtype);
  return record('reshape', [x], out, {});
}

/**
 * A contiguous copy of `x` that keeps the gradient connection.
 *
 * @example
 * ```ts
 * const y = clone(x);
 * ```
 */
export function clone(x: Tensor): Tensor {
  commonBackend('clone', [x]);
  return binaryIdentity(x);
}

/**
 * Clamps values into `[min, max]` (either bound may be omitted). The gradient passes where the
 * value was not clamped, including exactly at a bound (like torch.clamp).
 *
 * @example
 * ```ts
 * clamp(tensor([-2, 0.5, 3]), 0, 1); // [0, 0.5, 1]
 * ```
 */
export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  commonBackend('clamp', [x]);
  if (min === undefined && max === undefined) {
    throw new HeedError('clamp', 'at least one of min or max must be given.');
  }
  if (min !== undefined) checkNumber('clamp', 'min', min, {}, true);
  if (max !== undefined) checkNumber('clamp', 'max', max, {}, true);
  let out = x;
  for (const [bound, op] of [[min, 'lt'], [max, 'gt']] as const) {
    if (bound === undefined) continue;
    const outside = binary(op, out, bound);
    const next = where(outside, bound, out);
    outside.dispose();
    if (out !== x) out.dispose();
    out = next;
  }
  if (!out.requiresGrad) return out;
  // PyTorch's gradient is 0 at NaN (which compares false to both bounds, so it flowed through):
  // NaN entries come from a view of x that records nothing.
  const nan = unary('isnan', x);
  const frozen = makeView(x, x.shape, x.strides, x.offset);
  const masked = where(nan, frozen, out);
  for (const t of [nan, frozen, out]) t.dispose();
  return masked;
}
