// SPDX-License-Identifier: MIT
// The fixture ops of einsum-select.json (scripts/fixtures/gen_einsum_select_fixtures.py):
// einsum, the activations, indexPut, scatter, maskedSelect and nonzero, with each op's
// attribute type. runEinsumSelectOp is the runner the einsum-select group passes to
// runFixtureCase (async: maskedSelect and nonzero read their data).
import {
  einsum, elu, hardtanh, indexPut, leakyRelu, logaddexp, maskedSelect, mish, nonzero, scatter, softplus, type Tensor,
} from '@heed/core';

type NoAttrs = Readonly<Record<string, never>>;

/**
 * Every einsum-select.json op and the attributes its cases carry. indexPut's inputs are x,
 * `indices` index tensors, then the values; scatter's are x, index and src (or `value`).
 *
 * @example
 * ```ts
 * const a: EinsumSelectAttrMap['einsum'] = { equation: 'ij,jk->ik' };
 * ```
 */
export interface EinsumSelectAttrMap {
  einsum: { readonly equation: string };
  softplus: { readonly beta?: number; readonly threshold?: number };
  logaddexp: NoAttrs; mish: NoAttrs;
  hardtanh: { readonly minVal?: number; readonly maxVal?: number };
  leakyRelu: { readonly negativeSlope?: number };
  elu: { readonly alpha?: number };
  indexPut: { readonly indices: number; readonly accumulate?: boolean };
  scatter: { readonly axis: number; readonly value?: number; readonly reduce?: 'add' };
  maskedSelect: NoAttrs; nonzero: { readonly asTuple?: boolean };
}

type OpImpl<A> = (inputs: readonly Tensor[], attrs: A) => Tensor | Tensor[] | Promise<Tensor | Tensor[]>;

/**
 * The table: einsum-select.json op name -> Heed call. Exhaustive over {@link EinsumSelectAttrMap}.
 *
 * @example
 * ```ts
 * const y = EINSUM_SELECT_FIXTURE_OPS.einsum([a, b], { equation: 'ij,jk' });
 * ```
 */
export const EINSUM_SELECT_FIXTURE_OPS: { readonly [K in keyof EinsumSelectAttrMap]: OpImpl<EinsumSelectAttrMap[K]> } = {
  einsum: (x, a) => einsum(a.equation, ...x),
  softplus: (x, a) => softplus(x[0], { beta: a.beta, threshold: a.threshold }),
  logaddexp: (x) => logaddexp(x[0], x[1]),
  mish: (x) => mish(x[0]),
  hardtanh: (x, a) => hardtanh(x[0], a.minVal, a.maxVal),
  leakyRelu: (x, a) => leakyRelu(x[0], a.negativeSlope),
  elu: (x, a) => elu(x[0], a.alpha),
  indexPut: (x, a) => indexPut(x[0], x.slice(1, 1 + a.indices), x[1 + a.indices], { accumulate: a.accumulate }),
  scatter: (x, a) => scatter(x[0], a.axis, x[1], a.value ?? x[2], a.reduce ? { reduce: a.reduce } : undefined),
  maskedSelect: (x) => maskedSelect(x[0], x[1]),
  nonzero: (x, a) => (a.asTuple ? nonzero(x[0], { asTuple: true }) : nonzero(x[0])),
};

/**
 * Runs einsum-select.json op `op` (the runner given to runFixtureCase), returning its outputs.
 *
 * @example
 * ```ts
 * await runEinsumSelectOp('mish', [x], {}); // [mish(x)]
 * ```
 */
export async function runEinsumSelectOp(op: string, inputs: readonly Tensor[], attrs: Readonly<Record<string, unknown>>): Promise<Tensor[]> {
  if (!Object.prototype.hasOwnProperty.call(EINSUM_SELECT_FIXTURE_OPS, op)) {
    throw new Error(`einsum-select.json names op '${op}', which EINSUM_SELECT_FIXTURE_OPS does not know`);
  }
  const impl = EINSUM_SELECT_FIXTURE_OPS[op as keyof EinsumSelectAttrMap] as OpImpl<unknown>;
  const out = await impl(inputs, attrs);
  return Array.isArray(out) ? out : [out];
}
