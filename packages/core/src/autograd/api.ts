// SPDX-License-Identifier: MIT
// The user-facing autograd API: `backward` (PyTorch style, into `.grad`), functional `grad`
// and `valueAndGrad` (JAX style, pure), `customGrad`, and `detach`.
import { HeedError, fmtShape } from '../errors.js';
import { isFloatDType } from '../dtype.js';
import { Tensor } from '../tensor.js';
import { isGradEnabled, noGrad } from './mode.js';
import { record } from './record.js';
import { runBackward, type BackwardOptions } from './engine.js';
import { onesLike, zerosLike } from '../ops/creation.js';
import { makeView } from '../ops/operands.js';
import { reshape } from '../ops/views.js';
import { tidy } from '../scope.js';

/**
 * Computes gradients of `output` (a scalar, or any shape with `gradient`) and accumulates them
 * into `.grad` of every leaf that requires grad. Prefer the method `loss.backward()`. The
 * second argument is the upstream gradient or, for scalar outputs, the options.
 *
 * @example
 * ```ts
 * const w = randn([3]).requiresGrad_();
 * backward(w.square().sum());
 * w.grad; // 2 * w
 * ```
 */
export function backward(output: Tensor, gradientOrOptions?: Tensor | BackwardOptions | null, options: BackwardOptions = {}): void {
  output.assertLive('backward');
  const gradient = gradientOrOptions instanceof Tensor ? gradientOrOptions : null;
  if (gradientOrOptions && !(gradientOrOptions instanceof Tensor)) options = gradientOrOptions;
  if (!output.node) {
    throw new HeedError('backward', `the tensor ${fmtShape(output.shape)} does not require grad: none of its inputs had ` +
      'requiresGrad set (or it was computed under noGrad). Call requiresGrad_() on the parameters first.');
  }
  if (!gradient && output.size !== 1) {
    throw new HeedError('backward', `gradient can be implied only for one-element outputs, got shape ${fmtShape(output.shape)}; ` +
      'pass a gradient tensor of that shape, or reduce first (e.g. .sum()).');
  }
  if (gradient && (gradient.rank !== output.rank || gradient.shape.some((d, i) => d !== output.shape[i]))) {
    throw new HeedError('backward', `gradient shape ${fmtShape(gradient.shape)} must equal the output shape ${fmtShape(output.shape)}.`);
  }
  const seed = gradient ? noGrad(() => reshape(gradient, gradient.shape)) : noGrad(() => onesLike(output));
  runBackward([output], [seed], options);
}

/**
 * A function of tensors returning a one-element tensor (for {@link grad}).
 *
 * @example
 * ```ts
 * const f: ScalarFn<[Tensor]> = (x) => x.square().sum();
 * ```
 */
export type ScalarFn<A extends Tensor[]> = (...args: A) => Tensor;

function prepareInputs(args: Tensor[], op: string): Tensor[] {
  return args.map((x, i) => {
    if (!(x instanceof Tensor)) throw new HeedError(op, `argument ${i} must be a Tensor.`);
    x.assertLive(op);
    if (!isFloatDType(x.dtype)) throw new HeedError(op, `argument ${i} is ${x.dtype}; gradients need float tensors.`);
    // Inside an outer differentiation, keep the connection (an identity view); else a fresh leaf.
    if (x.requiresGrad && isGradEnabled()) return record('reshape', [x], makeView(x, x.shape, x.strides, x.offset), {});
    return makeView(x, x.shape, x.strides, x.offset).requiresGrad_();
  });
}

/**
 * Returns a function computing `f`'s value and its gradients w.r.t. all tensor arguments.
 * Pure: no `.grad` is touched, and tensors created inside `f` are disposed. Nested use gives
 * higher-order gradients.
 *
 * @example
 * ```ts
 * const f = (x: Tensor) => x.pow(3).sum();
 * const { value, grads } = valueAndGrad(f)(tensor([2])); // value 8, grads [[12]]
 * ```
 */
export function valueAndGrad<A extends Tensor[]>(f: ScalarFn<A>): (...args: A) => { value: Tensor; grads: Tensor[] } {
  // Intermediates created by `f` are disposed (like tfjs): only the value and grads survive.
  return (...args: A) => tidy(() => {
    const inputs = prepareInputs(args, 'valueAndGrad');
    const createGraph = isGradEnabled() && args.some((a) => a.requiresGrad);
    try {
      const value = f(...(inputs as A));
      if (!(value instanceof Tensor) || value.size !== 1) {
        throw new HeedError('valueAndGrad', `the function must return a one-element Tensor, got ${value instanceof Tensor ? fmtShape(value.shape) : typeof value}.`);
      }
      if (!value.node) {
        return { value, grads: inputs.map((x) => noGrad(() => zerosLike(x))) };
      }
      const found = runBackward([value], [noGrad(() => onesLike(value))], { createGraph, retainGraph: createGraph },
        inputs.map((x) => x.node!));
      const grads = inputs.map((x) => found.get(x.node!) ?? noGrad(() => zerosLike(x)));
      const result = createGraph ? value : noGrad(() => detach(value));
      if (result !== value) value.dispose();
      return { value: result, grads };
    } finally {
      for (const x of inputs) x.dispose();
    }
  });
}

/**
 * Returns a function computing the gradient of scalar-valued `f` w.r.t. its first argument
 * (JAX style). Compose for higher-order derivatives.
 *
 * @example
 * ```ts
 * const d2 = grad((x: Tensor) => grad((y: Tensor) => y.pow(3).sum())(x).sum());
 * d2(tensor([2])); // [12]  (6x)
 * ```
 */
export function grad<A extends Tensor[]>(f: ScalarFn<A>): (...args: A) => Tensor {
  return (...args: A) => {
    const { value, grads } = valueAndGrad(f)(...args);
    value.dispose();
    for (const g of grads.slice(1)) g.dispose();
    return grads[0];
  };
}

/**
 * A tensor sharing `x`'s data but cut from the graph (no gradient flows through it).
 *
 * @example
 * ```ts
 * const target = prediction.detach();
 * ```
 */
export function detach(x: Tensor): Tensor {
  x.assertLive('detach');
  return makeView(x, x.shape, x.strides, x.offset);
}

/**
 * Defines an op with a hand-written gradient. `f` returns the output value (computed any way
 * you like) and `backward(dy, inputs)`, which returns one gradient per input (or null).
 *
 * @example
 * ```ts
 * const clipGrad = customGrad((x: Tensor) => ({
 *   value: x.mul(1),
 *   backward: (dy) => [dy.clamp(-1, 1)],
 * }));
 * ```
 */
export function customGrad<A extends Tensor[]>(
  f: (...inputs: A) => { value: Tensor; backward: (dy: Tensor, inputs: Tensor[]) => (Tensor | null)[] },
): (...inputs: A) => Tensor {
  return (...inputs: A) => {
    const { value, backward: vjp } = noGrad(() => f(...inputs));
    const out = makeView(value, value.shape, value.strides, value.offset);
    value.dispose();
    return record('custom', inputs, out, { backward: vjp });
  };
}
