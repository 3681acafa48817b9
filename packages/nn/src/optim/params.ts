// SPDX-License-Identifier: MIT
// Turning the many ways users hand over parameters (a tensor list, `[name, tensor]` pairs, an
// object with `namedParameters()`, or PyTorch-style param groups) into named tensor lists.
// Invariants: every parameter is a live float32 leaf; a tensor appears at most once across
// all groups; unnamed parameters are named by their global index ("0", "1", ...).
import { HeedError, Tensor, fmtShape } from '@heed/core';

/**
 * Anything with named parameters, e.g. an nn `Module`. Only this structural method is used.
 *
 * @example
 * ```ts
 * const model: HasNamedParameters = { namedParameters: () => [['weight', w], ['bias', b]] };
 * ```
 */
export interface HasNamedParameters {
  namedParameters(): Iterable<[string, Tensor]>;
}

/**
 * Parameters as accepted by optimizers and gradient clipping: a list of tensors, a list (or
 * iterable) of `[name, tensor]` pairs, or an object with `namedParameters()`.
 *
 * @example
 * ```ts
 * const a: ParamSource = [w, b];
 * const c: ParamSource = [['weight', w], ['bias', b]];
 * const d: ParamSource = model; // has namedParameters()
 * ```
 */
export type ParamSource = Iterable<Tensor> | Iterable<readonly [string, Tensor]> | HasNamedParameters;

/** @internal A parameter with its name. */
export interface NamedParam {
  readonly name: string;
  readonly tensor: Tensor;
}

function hasNamedParameters(x: unknown): x is HasNamedParameters {
  return typeof x === 'object' && x !== null && typeof (x as { namedParameters?: unknown }).namedParameters === 'function';
}

/** @internal Whether `x` looks like a param source (as opposed to a param-group spec). */
export function isParamSource(x: unknown): x is ParamSource {
  return x instanceof Tensor || hasNamedParameters(x) || Array.isArray(x) || (typeof x === 'object' && x !== null && Symbol.iterator in x);
}

/**
 * @internal Flattens a param source into named parameters. `firstIndex` numbers unnamed ones.
 * Validates each tensor (live, float32, leaf).
 */
export function namedParams(op: string, source: ParamSource, firstIndex = 0): NamedParam[] {
  if (source === null || typeof source !== 'object') {
    throw new HeedError(op, `parameters must be tensors, [name, tensor] pairs, or an object with namedParameters(); got ${source === null ? 'null' : typeof source}.`);
  }
  const items: Iterable<unknown> = hasNamedParameters(source) ? source.namedParameters() : (source as Iterable<unknown>);
  if (!(Symbol.iterator in Object(items))) {
    throw new HeedError(op, 'parameters must be iterable (a list of tensors or of [name, tensor] pairs).');
  }
  const out: NamedParam[] = [];
  for (const item of items) {
    let name: string;
    let tensor: unknown;
    if (item instanceof Tensor) {
      name = String(firstIndex + out.length);
      tensor = item;
    } else if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string') {
      [name, tensor] = item as [string, unknown];
    } else {
      throw new HeedError(op, `parameter #${out.length} is neither a Tensor nor a [name, tensor] pair.`);
    }
    if (!(tensor instanceof Tensor)) throw new HeedError(op, `parameter '${name}' is not a Tensor.`);
    tensor.assertLive(op);
    if (tensor.dtype !== 'float32') {
      throw new HeedError(op, `parameter '${name}' ${fmtShape(tensor.shape)} is ${tensor.dtype}; only float32 tensors can be optimized.`);
    }
    if (!tensor.isLeaf) {
      throw new HeedError(op, `parameter '${name}' ${fmtShape(tensor.shape)} is not a leaf tensor (it was computed by an op); ` +
        'optimize the leaf it came from, or detach() it and call requiresGrad_().');
    }
    out.push({ name, tensor });
  }
  return out;
}

/**
 * @internal Every tensor of `source` (for clipping), without the leaf check: clipping only
 * touches `.grad`.
 */
export function paramTensors(op: string, source: ParamSource | Tensor): Tensor[] {
  if (source instanceof Tensor) return [source];
  const items: Iterable<unknown> = hasNamedParameters(source) ? source.namedParameters() : (source as Iterable<unknown>);
  const out: Tensor[] = [];
  for (const item of items) {
    const t = item instanceof Tensor ? item : Array.isArray(item) ? item[1] : null;
    if (!(t instanceof Tensor)) throw new HeedError(op, `item #${out.length} is neither a Tensor nor a [name, tensor] pair.`);
    out.push(t);
  }
  return out;
}

/**
 * A weight-decay filter that decays only parameters of rank >= 2 (weight matrices, embedding
 * tables, conv kernels) and exempts biases, norm gains and other vectors/scalars, the usual
 * practice for transformers (GPT-2, BERT).
 *
 * @example
 * ```ts
 * const opt = new AdamW(model, { lr: 3e-4, weightDecay: 0.1, weightDecayFilter: decayMatricesOnly });
 * ```
 */
export function decayMatricesOnly(name: string, param: Tensor): boolean {
  void name;
  return param.rank >= 2;
}

/**
 * Builds a weight-decay filter that exempts parameters whose name matches any of `patterns`
 * (strings match as a dotted-name component suffix, e.g. `'bias'` matches `layer.0.bias`).
 *
 * @example
 * ```ts
 * const filter = excludeFromDecay(['bias', /norm/i]);
 * filter('encoder.layer.0.bias', b); // false: no decay
 * ```
 */
export function excludeFromDecay(patterns: readonly (string | RegExp)[]): (name: string, param: Tensor) => boolean {
  return (name) => !patterns.some((p) => (typeof p === 'string' ? name === p || name.endsWith(`.${p}`) : p.test(name)));
}
