// SPDX-License-Identifier: MIT
// The fixture ops of reorder.json (scripts/fixtures/gen_reorder_fixtures.py): sorting, scans,
// triangles, masks and reshuffles, with each op's attribute type.
// runReorderOp is the runner the reorder group passes to runFixtureCase.
import {
  argsort, cumprod, cumsum, diff, flip, maskedFill, repeat, roll, sort, tile, topk, tril, triu, type Tensor,
} from '@heed/core';

interface SortAttrs { readonly axis?: number; readonly descending?: boolean }
interface AxisAttrs { readonly axis: number }
interface DiagonalAttrs { readonly diagonal?: number }

/**
 * Every reorder.json op and the attributes its cases carry. `maskedFill`'s value is a number
 * (or '-Infinity'/'Infinity'/'NaN' as JSON spells them), or a third input tensor when absent.
 *
 * @example
 * ```ts
 * const a: ReorderAttrMap['topk'] = { k: 3, largest: false };
 * ```
 */
export interface ReorderAttrMap {
  sort: SortAttrs; argsort: SortAttrs;
  topk: { readonly k: number; readonly axis?: number; readonly largest?: boolean };
  cumsum: AxisAttrs; cumprod: AxisAttrs; tril: DiagonalAttrs; triu: DiagonalAttrs;
  maskedFill: { readonly value?: number | string };
  repeat: { readonly repeats: number[] }; tile: { readonly reps: number[] };
  flip: { readonly dims: number | number[] };
  roll: { readonly shifts: number | number[]; readonly dims?: number | number[] };
  diff: { readonly n?: number; readonly axis?: number; readonly prepend?: boolean; readonly append?: boolean };
}

type OpImpl<A> = (inputs: readonly Tensor[], attrs: A) => Tensor | Tensor[];

/**
 * The table: reorder.json op name -> Heed call. Exhaustive over {@link ReorderAttrMap}.
 *
 * @example
 * ```ts
 * const [values, indices] = REORDER_FIXTURE_OPS.sort([x], { axis: -1 }) as Tensor[];
 * ```
 */
export const REORDER_FIXTURE_OPS: { readonly [K in keyof ReorderAttrMap]: OpImpl<ReorderAttrMap[K]> } = {
  sort: (x, a) => { const r = sort(x[0], { axis: a.axis, descending: a.descending }); return [r.values, r.indices]; },
  argsort: (x, a) => argsort(x[0], { axis: a.axis, descending: a.descending }),
  topk: (x, a) => { const r = topk(x[0], a.k, { axis: a.axis, largest: a.largest }); return [r.values, r.indices]; },
  cumsum: (x, a) => cumsum(x[0], a.axis),
  cumprod: (x, a) => cumprod(x[0], a.axis),
  tril: (x, a) => tril(x[0], a.diagonal),
  triu: (x, a) => triu(x[0], a.diagonal),
  maskedFill: (x, a) => maskedFill(x[0], x[1], a.value === undefined ? x[2] : Number(a.value)),
  repeat: (x, a) => repeat(x[0], a.repeats),
  tile: (x, a) => tile(x[0], a.reps),
  flip: (x, a) => flip(x[0], a.dims),
  roll: (x, a) => roll(x[0], a.shifts, a.dims),
  diff: (x, a) => {
    let next = 1;
    const prepend = a.prepend ? x[next++] : undefined;
    const append = a.append ? x[next] : undefined;
    return diff(x[0], { n: a.n, axis: a.axis, prepend, append });
  },
};

/**
 * Runs reorder.json op `op` (the runner given to runFixtureCase), returning its outputs.
 *
 * @example
 * ```ts
 * runReorderOp('cumsum', [x], { axis: 0 }); // [cumsum(x, 0)]
 * ```
 */
export function runReorderOp(op: string, inputs: readonly Tensor[], attrs: Readonly<Record<string, unknown>>): Tensor[] {
  if (!Object.prototype.hasOwnProperty.call(REORDER_FIXTURE_OPS, op)) {
    throw new Error(`reorder.json names op '${op}', which REORDER_FIXTURE_OPS does not know`);
  }
  const impl = REORDER_FIXTURE_OPS[op as keyof ReorderAttrMap] as OpImpl<unknown>;
  const out = impl(inputs, attrs);
  return Array.isArray(out) ? out : [out];
}
