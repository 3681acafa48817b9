// SPDX-License-Identifier: MIT
// The gradient rules: one exhaustive typed table, keyed by OpName (a missing op does not
// compile). Rules are written with core ops, so they are themselves differentiable (higher-
// order gradients). Rules return one gradient per input (null = none) in the OUTPUT's
// broadcast shape; the engine reduces them to each input's shape (the one un-broadcast place).
import type { Tensor } from '../tensor.js';
import type { Shape } from '../shape.js';
import type { OpAttrs, OpName } from './record.js';
import * as ops from './rule-ops.js';

/**
 * What a rule sees.
 *
 * @example
 * ```ts
 * const rule: GradRule<{}> = { save: { inputs: true, output: false }, backward: (dy, ctx) => [dy.mul(ctx.inputs[0]!)] };
 * ```
 */
export interface GradContext<A> {
  /** Saved inputs (null where the rule does not save that input). */
  readonly inputs: readonly (Tensor | null)[];
  /** The saved output (null unless the rule saves it). */
  readonly output: Tensor | null;
  readonly attrs: A;
  readonly inputShapes: readonly Shape[];
  /** Whether each input needs a gradient (skip work for the others). */
  readonly needs: readonly boolean[];
}

/**
 * A rule: what to save at forward time, and the vector-Jacobian product.
 *
 * @example
 * ```ts
 * gradRules.exp.save; // { inputs: false, output: true }
 * ```
 */
export interface GradRule<A> {
  readonly save: { readonly inputs: boolean | readonly number[]; readonly output: boolean };
  backward(dy: Tensor, ctx: GradContext<A>): (Tensor | null)[];
}

/**
 * The type of the gradient-rule table: one rule per differentiable op.
 *
 * @example
 * ```ts
 * const rule = (gradRules as Rules).matmul;
 * ```
 */
export type Rules = { readonly [K in OpName]: GradRule<OpAttrs[K]> };

const X = { inputs: true, output: false } as const;
const Y = { inputs: false, output: true } as const;
const NONE = { inputs: false, output: false } as const;

/** input i of the context (it is saved by the rule's `save`). */
const inp = (ctx: GradContext<unknown>, i: number): Tensor => ctx.inputs[i] as Tensor;
const out = (ctx: GradContext<unknown>): Tensor => ctx.output as Tensor;

/**
 * The gradient rules of every differentiable op.
 *
 * @example
 * ```ts
 * gradRules.mul.backward(dy, ctx); // [dy * b, dy * a]
 * ```
 */
export const gradRules: Rules = {
  neg: { save: NONE, backward: (dy) => [ops.neg(dy)] },
  // dy * sgn(x) with sgn(NaN) = 0, as PyTorch (sign(NaN) itself is left unspecified).
  abs: { save: X, backward: (dy, c) => [ops.mul(dy, ops.sub(ops.gt(inp(c, 0), 0).float(), ops.lt(inp(c, 0), 0).float()))] },
  exp: { save: Y, backward: (dy, c) => [ops.mul(dy, out(c))] },
  expm1: { save: Y, backward: (dy, c) => [ops.mul(dy, ops.add(out(c), 1))] },
  log: { save: X, backward: (dy, c) => [ops.div(dy, inp(c, 0))] },
  log1p: { save: X, backward: (dy, c) => [ops.div(dy, ops.add(inp(c, 0), 1))] },
  sqrt: { save: Y, backward: (dy, c) => [ops.div(ops.mul(dy, 0.5), out(c))] },
  // -dy y^3 / 2 from the output (PyTorch's form): x^-1.5 would lose the sign at -0 and give 0 at -inf.
  rsqrt: { save: Y, backward: (dy, c) => [ops.mul(dy, ops.mul(ops.mul(ops.mul(out(c), out(c)), out(c)), -0.5))] },
  square: { save: X, backward: (dy, c) => [ops.mul(dy, ops.mul(inp(c, 0), 2))] },
  reciprocal: { save: Y, backward: (dy, c) => [ops.neg(ops.mul(dy, ops.mul(out(c), out(c))))] },
  sin: { save: X, backward: (dy, c) => [ops.mul(dy, ops.cos(inp(c, 0)))] },
  cos: { save: X, backward: (dy, c) => [ops.neg(ops.mul(dy, ops.sin(inp(c, 0))))] },
  tanh: { save: Y, backward: (dy, c) => [ops.mul(dy, ops.sub(1, ops.mul(out(c), out(c))))] },
  sigmoid: { save: Y, backward: (dy, c) => [ops.mul(dy, ops.mul(out(c), ops.sub(1, out(c))))] },
  // 0 where x <= 0, dy elsewhere (also at NaN, as PyTorch's threshold_backward).
  relu: { save: X, backward: (dy, c) => [ops.where(ops.le(inp(c, 0), 0), 0, dy)] },
  erf: {
    save: X,
    backward: (dy, c) => [ops.mul(dy, ops.mul(ops.exp(ops.neg(ops.mul(inp(c, 0), inp(c, 0)))), 2 / Math.sqrt(Math.PI)))],
  },
  stepwise: { save: NONE, backward: () => [null] },

  add: { save: NONE, backward: (dy) => [dy, dy] },
  sub: { save: NONE, backward: (dy, c) => [dy, c.needs[1] ? ops.neg(dy) : null] },
  mul: {
    save: X,
    backward: (dy, c) => [c.needs[0] ? ops.mul(dy, inp(c, 1)) : null, c.needs[1] ? ops.mul(dy, inp(c, 0)) : null],
  },
  div: {
    save: X,
    backward: (dy, c) => [
      c.needs[0] ? ops.div(dy, inp(c, 1)) : null,
      // -dy (a / b) / b, as PyTorch: a / (b * b) overflows (b = 1e20) or underflows (b = 1e-30) in b * b.
      c.needs[1] ? ops.neg(ops.mul(dy, ops.div(ops.div(inp(c, 0), inp(c, 1)), inp(c, 1)))) : null,
    ],
  },
  pow: { save: { inputs: true, output: true }, backward: (dy, c) => powGrads(dy, inp(c, 0), inp(c, 1), out(c), c.needs) },
  maximum: { save: X, backward: (dy, c) => tieSplit(dy, inp(c, 0), inp(c, 1), 'gt', c.needs) },
  minimum: { save: X, backward: (dy, c) => tieSplit(dy, inp(c, 0), inp(c, 1), 'lt', c.needs) },
  mod: {
    save: { inputs: true, output: true },
    backward: (dy, c) => [dy, c.needs[1] ? ops.neg(ops.mul(dy, ops.floorDivide(inp(c, 0), inp(c, 1), out(c)))) : null],
  },
  atan2: {
    save: X,
    backward: (dy, c) => {
      const [a, b] = [inp(c, 0), inp(c, 1)];
      const denom = ops.add(ops.mul(a, a), ops.mul(b, b));
      return [c.needs[0] ? ops.div(ops.mul(dy, b), denom) : null, c.needs[1] ? ops.neg(ops.div(ops.mul(dy, a), denom)) : null];
    },
  },
  where: {
    save: { inputs: [0], output: false },
    backward: (dy, c) => [null, c.needs[1] ? ops.where(inp(c, 0), dy, 0) : null, c.needs[2] ? ops.where(inp(c, 0), 0, dy) : null],
  },

  sum: { save: NONE, backward: (dy, c) => [ops.expandReduced(dy, c.inputShapes[0], c.attrs.axes, c.attrs.keepdim)] },
  prod: {
    save: { inputs: true, output: true },
    backward: (dy, c) => {
      const { axes, keepdim } = c.attrs;
      const others = ops.prodOfOthers(inp(c, 0), ops.expandReduced(out(c), c.inputShapes[0], axes, keepdim), axes);
      return [ops.mul(ops.expandReduced(dy, c.inputShapes[0], axes, keepdim), others)];
    },
  },
  extreme: {
    save: { inputs: true, output: true },
    backward: (dy, c) => {
      const shape = c.inputShapes[0];
      const { axes, keepdim } = c.attrs;
      const hit = ops.eq(inp(c, 0), ops.expandReduced(out(c), shape, axes, keepdim)).float();
      const count = ops.sum(hit, { axis: axes, keepdim: true });
      return [ops.div(ops.mul(hit, ops.expandReduced(dy, shape, axes, keepdim)), count)];
    },
  },
  reshape: { save: NONE, backward: (dy, c) => [ops.reshape(dy, c.inputShapes[0])] },
  permute: {
    save: NONE,
    backward: (dy, c) => {
      const inverse = new Array<number>(c.attrs.perm.length);
      c.attrs.perm.forEach((p, i) => { inverse[p] = i; });
      return [ops.permute(dy, inverse)];
    },
  },
  expand: { save: NONE, backward: (dy) => [dy] },
  slice: { save: NONE, backward: (dy, c) => [ops.unslice(dy, c.inputShapes[0], c.attrs.starts, c.attrs.steps)] },
  matmul: {
    save: X,
    backward: (dy, c) => [
      c.needs[0] ? ops.matmul(dy, ops.transpose(inp(c, 1), -2, -1)) : null,
      c.needs[1] ? ops.matmul(ops.transpose(inp(c, 0), -2, -1), dy) : null,
    ],
  },
  concat: { save: NONE, backward: (dy, c) => ops.split(dy, c.attrs.sizes, c.attrs.axis) },
  gather: {
    save: { inputs: [1], output: false },
    backward: (dy, c) => [ops.scatterAdd(ops.zeros(c.inputShapes[0], { backend: dy.backend.name }), c.attrs.axis, inp(c, 1), dy), null],
  },
  indexSelect: {
    save: { inputs: [1], output: false },
    backward: (dy, c) => {
      const { axis } = c.attrs;
      const shape = dy.shape.map((_, i) => (i === axis ? dy.shape[i] : 1));
      const index = ops.expand(ops.reshape(inp(c, 1), shape), dy.shape);
      return [ops.scatterAdd(ops.zeros(c.inputShapes[0], { backend: dy.backend.name }), axis, index, dy), null];
    },
  },
  scatterAdd: { save: { inputs: [1], output: false }, backward: (dy, c) => [ops.gather(dy, c.attrs.axis, inp(c, 1)), null] },

  softmax: {
    save: Y,
    backward: (dy, c) => {
      const y = out(c);
      return [ops.mul(y, ops.sub(dy, ops.sum(ops.mul(dy, y), { axis: -1, keepdim: true })))];
    },
  },
  logSoftmax: {
    save: Y,
    backward: (dy, c) => [ops.sub(dy, ops.mul(ops.exp(out(c)), ops.sum(dy, { axis: -1, keepdim: true })))],
  },
  gelu: { save: X, backward: (dy, c) => [ops.mul(dy, ops.geluDerivative(inp(c, 0), c.attrs.approximate))] },
  layerNorm: { save: X, backward: (dy, c) => ops.layerNormBackward(dy, c.inputs as Tensor[], c.attrs, c.needs) },
  custom: { save: X, backward: (dy, c) => c.attrs.backward(dy, c.inputs as Tensor[]) },
};

/**
 * Gradient of maximum ('gt') or minimum ('lt'), as PyTorch: a side that loses gets 0, a tie
 * gives each side dy / 2, and otherwise (winning, or a NaN on either side) a side gets dy.
 */
function tieSplit(dy: Tensor, a: Tensor, b: Tensor, wins: 'gt' | 'lt', needs: readonly boolean[]): (Tensor | null)[] {
  const tie = ops.eq(a, b);
  const shared = ops.where(tie, ops.mul(dy, 0.5), dy);
  return [
    needs[0] ? ops.where(wins === 'gt' ? ops.lt(a, b) : ops.gt(a, b), 0, shared) : null,
    needs[1] ? ops.where(wins === 'gt' ? ops.gt(a, b) : ops.lt(a, b), 0, shared) : null,
  ];
}

/**
 * Gradients of a^b, with PyTorch's values at the edges. Base: b a^(b-1), and 0 wherever b = 0
 * (also at a = 0, where b a^(b-1) would be 0 * inf). Exponent: a^b log a, and 0 where a = 0
 * and b >= 0 (the limit from a > 0); elsewhere log a is NaN for a < 0 and -inf at a = 0 with
 * b < 0, as in PyTorch. The masked log sees 1 instead of 0, so higher-order gradients through
 * the masked entries stay finite.
 */
function powGrads(dy: Tensor, a: Tensor, b: Tensor, y: Tensor, needs: readonly boolean[]): (Tensor | null)[] {
  let db: Tensor | null = null;
  if (needs[1]) {
    const masked = ops.logicalAnd(ops.eq(a, 0), ops.ge(b, 0));
    db = ops.mul(dy, ops.where(masked, 0, ops.mul(y, ops.log(ops.where(masked, 1, a)))));
  }
  return [needs[0] ? ops.where(ops.eq(b, 0), 0, ops.mul(dy, ops.mul(b, ops.pow(a, ops.sub(b, 1))))) : null, db];
}
