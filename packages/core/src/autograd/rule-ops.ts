// SPDX-License-Identifier: MIT
// The ops gradient rules are written with, plus the few backward-only helpers (undoing a
// reduction's shape, scattering a slice back, GELU's derivative, LayerNorm's backward, the
// product of the other entries for prod, PyTorch's floor division for remainder).
// Everything here is built from differentiable core ops, so rules support higher-order grads.
import type { Tensor } from '../tensor.js';
import type { Shape } from '../shape.js';
import type { OpAttrs } from './record.js';
import { noGrad } from './mode.js';
import { arange, zeros } from '../ops/creation.js';
import { where } from '../ops/elementwise.js';
import { add, div, eq, ge, gt, le, logicalAnd, lt, mul, pow, sub } from '../ops/binary-math.js';
import { abs, cos, erf, exp, floor, log, neg, round, sign, sin, tanh } from '../ops/unary-math.js';
import { matmul } from '../ops/matmul.js';
import { gather, scatterAdd } from '../ops/indexing.js';
import { split } from '../ops/join.js';
import { mean, prod, sum } from '../ops/reduce.js';
import { expand, permute, reshape, transpose } from '../ops/views.js';

export {
  add, cos, div, eq, exp, expand, floor, gather, ge, gt, le, log, logicalAnd, lt, matmul, mul, neg, permute, pow, reshape,
  scatterAdd, sign, sin, split, sub, sum, tanh, transpose, where, zeros,
};

/** Broadcasts the gradient of a reduction back to the input shape. */
export function expandReduced(dy: Tensor, inputShape: Shape, axes: readonly number[], keepdim: boolean): Tensor {
  const kept = inputShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const shaped = keepdim ? dy : reshape(dy, kept);
  return expand(shaped, inputShape);
}

/** Places the gradient of a slice back into zeros of the input shape, one sliced axis at a time. */
export function unslice(dy: Tensor, inputShape: Shape, starts: readonly number[], steps: readonly number[]): Tensor {
  let g = dy;
  for (let axis = 0; axis < inputShape.length; axis++) {
    if (g.shape[axis] === inputShape[axis]) continue;
    const len = g.shape[axis];
    const idxShape = g.shape.map((_, i) => (i === axis ? len : 1));
    const positions = arange(starts[axis], starts[axis] + len * steps[axis], steps[axis], { dtype: 'int32', backend: dy.backend.name });
    const index = expand(reshape(positions, idxShape), g.shape);
    const target = g.shape.map((d, i) => (i === axis ? inputShape[axis] : d));
    g = scatterAdd(zeros(target, { backend: dy.backend.name }), axis, index, g);
  }
  return g;
}

/**
 * For each entry of `x`, the product of the other entries of its slice over `axes` (the
 * gradient of prod; `prodExpanded` is the product broadcast back to x's shape), without
 * dividing by zero: prod / x where x != 0 (0 in a slice that holds a zero); at a zero, the
 * product of the slice's non-zero entries if it is the slice's only zero, else 0. These are
 * PyTorch's values for finite inputs. Second derivatives are exact too: in a slice with two
 * zeros, the other zero enters as (sum of the slice's zeros - x), which is 0 with derivative 1.
 */
export function prodOfOthers(x: Tensor, prodExpanded: Tensor, axes: readonly number[]): Tensor {
  const isZero = eq(x, 0);
  const safe = where(isZero, 1, x);
  const count = sum(isZero.float(), { axis: axes, keepdim: true });
  const nonZeroProd = prod(safe, { axis: axes, keepdim: true });
  const zeroSum = sum(where(isZero, x, 0), { axis: axes, keepdim: true });
  const atZero = where(eq(count, 1), nonZeroProd, where(eq(count, 2), mul(nonZeroProd, sub(zeroSum, x)), 0));
  return where(isZero, atZero, div(prodExpanded, safe));
}

/**
 * PyTorch's floor division of floats, a // b, given r = remainder(a, b) (the pair satisfies
 * a = b q + r): round((a - r) / b), which agrees with r also where floor(a / b) rounds up to
 * the next integer; a / b where b = 0; -1 where b is infinite and a is finite with the
 * opposite sign (there r = b); NaN where a is infinite. A constant (no gradient), as in PyTorch.
 */
export function floorDivide(a: Tensor, b: Tensor, r: Tensor): Tensor {
  return noGrad(() => {
    const q = round(div(sub(a, r), b));
    const opposite = logicalAnd(logicalAnd(eq(abs(b), Infinity), lt(abs(a), Infinity)), lt(mul(a, b), 0));
    return where(eq(b, 0), div(a, b), where(opposite, -1, q));
  });
}

/** d gelu(x) / dx for the exact and tanh forms. */
export function geluDerivative(x: Tensor, approximate: 'none' | 'tanh'): Tensor {
  if (approximate === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const x2 = mul(x, x);
    const t = tanh(mul(add(x, mul(mul(x2, x), 0.044715)), k));
    const dInner = mul(add(mul(x2, 3 * 0.044715), 1), k);
    return add(mul(add(t, 1), 0.5), mul(mul(mul(x, 0.5), sub(1, mul(t, t))), dInner));
  }
  const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
  const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return add(cdf, mul(x, pdf));
}

/** Gradients of layerNorm over the last axis w.r.t. x, weight and bias (when present). */
export function layerNormBackward(dy: Tensor, inputs: Tensor[], attrs: OpAttrs['layerNorm'], needs: readonly boolean[]): (Tensor | null)[] {
  const x = inputs[0];
  const weight = attrs.hasWeight ? inputs[1] : null;
  const mu = mean(x, { axis: -1, keepdim: true });
  const centered = sub(x, mu);
  const v = mean(mul(centered, centered), { axis: -1, keepdim: true });
  const rstd = pow(add(v, attrs.eps), -0.5);
  const xhat = mul(centered, rstd);
  const batchAxes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const dxhat = weight ? mul(dy, weight) : dy;
  const grads: (Tensor | null)[] = [];
  if (needs[0]) {
    const meanD = mean(dxhat, { axis: -1, keepdim: true });
    const meanDX = mean(mul(dxhat, xhat), { axis: -1, keepdim: true });
    grads.push(mul(rstd, sub(sub(dxhat, meanD), mul(xhat, meanDX))));
  } else {
    grads.push(null);
  }
  let next = 1;
  if (attrs.hasWeight) grads.push(needs[next++] ? sum(mul(dy, xhat), { axis: batchAxes }) : null);
  if (attrs.hasBias) grads.push(needs[next++] ? sum(dy, { axis: batchAxes }) : null);
  return grads;
}
