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
  abs: { save: X, backward: (dy, c) => [ops.mul(dy, ops.sign(inp(c, 0)))] },
  exp: { save: Y, backward: (dy, c) => [ops.mul(dy, out(c))] },
  expm1: { save: Y, backward: (dy, c) => [ops.mul(dy, ops.add(out(c), 1))] },
  log: { save: X, backward: (dy, c) => [ops.div(dy, inp(c, 0))] },
  log1p: { save: X, backward: (dy, c) => [ops.div(dy, ops.add(inp(c, 0), 1))] },
  sqrt: { save: Y, backward: (dy, c) => [ops.div(ops.mul(dy, 0.5), out(c))] },
  rsqrt: { save: X, backward: (dy, c) => [ops.mul(dy, ops.mul(ops.pow(inp(c, 0), -1.5), -0.5))] },
  square: { save: X, backward: (dy, c) => [ops.mul(dy, ops.mul(inp(c, 0), 2))] },
  reciprocal: { save: Y, backward: (dy, c) => [ops.neg(ops.mul(dy, ops.mul(out(c), out(c))))] },
  sin: { save: X, backward: (dy, c) => [ops.mul(dy, ops.cos(inp(c, 0)))] },
  cos: { save: X, backward: (dy, c) => [ops.neg(ops.mul(dy, ops.sin(inp(c, 0))))] },
  tanh: { save: Y, backward: (dy, c) => [ops.mul(dy, ops.sub(1, ops.mul(out(c), out(c))))] },
  sigmoid: { save: Y, backward: (dy, c) => [ops.mul(dy, ops.mul(out(c), ops.sub(1, out(c))))] },
  relu: { save: X, backward: (dy, c) => [ops.where(ops.gt(inp(c, 0), 0), dy, 0)] },
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
      c.needs[1] ? ops.neg(ops.div(ops.mul(dy, inp(c, 0)), ops.mul(inp(c, 1), inp(c, 1)))) : null,
    ],
  },
  pow: {
    save: { inputs: true, output: true },
    backward: (dy, c) => {
      const [a, b] = [inp(c, 0), inp(c, 1)];
      return [
        c.needs[0] ? ops.mul(dy, ops.mul(b, ops.pow(a, ops.sub(b, 1)))) : null,
        // d/db a^b = a^b log a; defined as 0 where a <= 0 (PyTorch masks a == 0 the same way).
        c.needs[1] ? ops.where(ops.gt(a, 0), ops.mul(dy, ops.mul(out(c), ops.log(ops.where(ops.gt(a, 0), a, 1)))), 0) : null,
      ];
    },
  },
  maximum: { save: X, backward: (dy, c) => tieSplit(dy, inp(c, 0), inp(c, 1), 'gt', c.needs) },
  minimum: { save: X, backward: (dy, c) => tieSplit(dy, inp(c, 0), inp(c, 1), 'lt', c.needs) },
  mod: {
    save: X,
    backward: (dy, c) => [dy, c.needs[1] ? ops.neg(ops.mul(dy, ops.floor(ops.div(inp(c, 0), inp(c, 1))))) : null],
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
      const shape = c.inputShapes[0];
      const g = ops.mul(ops.expandReduced(dy, shape, c.attrs.axes, c.attrs.keepdim), ops.expandReduced(out(c), shape, c.attrs.axes, c.attrs.keepdim));
      return [ops.div(g, inp(c, 0))];
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

/** Gradient of maximum ('gt') or minimum ('lt'): the winner gets dy, ties split it evenly. */
function tieSplit(dy: Tensor, a: Tensor, b: Tensor, wins: 'gt' | 'lt', needs: readonly boolean[]): (Tensor | null)[] {
  const half = ops.mul(ops.eq(a, b).float(), 0.5);
  const aWins = wins === 'gt' ? ops.gt(a, b) : ops.lt(a, b);
  const bWins = wins === 'gt' ? ops.lt(a, b) : ops.gt(a, b);
  return [
    needs[0] ? ops.mul(dy, ops.add(aWins.float(), half)) : null,
    needs[1] ? ops.mul(dy, ops.add(bWins.float(), half)) : null,
  ];
}
