// SPDX-License-Identifier: MIT
// Shared plumbing of the loss functions: the reduction modes, option validation and the
// shape checks every loss makes. Invariant: every check throws a HeedError naming the loss,
// the shapes involved and the fix, before any tensor is created.
import { HeedError, fmtShape, type Tensor } from '@heed/core';

/**
 * How a loss reduces its per-element values: `'mean'` (default), `'sum'`, or `'none'`
 * (the unreduced tensor).
 *
 * @example
 * ```ts
 * const r: Reduction = 'sum';
 * mseLoss(prediction, target, { reduction: r });
 * ```
 */
export type Reduction = 'mean' | 'sum' | 'none';

const REDUCTIONS: { readonly [R in Reduction]: true } = { mean: true, sum: true, none: true };

/**
 * Options every loss accepts.
 *
 * @example
 * ```ts
 * const opts: LossOptions = { reduction: 'none' };
 * ```
 */
export interface LossOptions {
  /** How per-element losses are reduced (default `'mean'`). */
  reduction?: Reduction;
}

/** @internal Validates and defaults the reduction option. */
export function resolveReduction(op: string, reduction: Reduction | undefined): Reduction {
  const r = reduction ?? 'mean';
  if (!Object.prototype.hasOwnProperty.call(REDUCTIONS, r)) {
    throw new HeedError(op, `unknown reduction '${String(r)}'; use 'mean', 'sum' or 'none'.`);
  }
  return r;
}

/** @internal Applies `'mean'`/`'sum'` over all elements, or returns `loss` for `'none'`. */
export function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'none') return loss;
  return reduction === 'sum' ? loss.sum() : loss.mean();
}

/** @internal Throws unless `t` is a live float32 tensor. */
export function checkFloat(op: string, what: string, t: Tensor): void {
  if (t === null || typeof t !== 'object' || typeof (t as { assertLive?: unknown }).assertLive !== 'function') {
    throw new HeedError(op, `${what} must be a Tensor, got ${t === null ? 'null' : typeof t}.`);
  }
  t.assertLive(op);
  if (t.dtype !== 'float32') {
    throw new HeedError(op, `${what} must be float32, got ${t.dtype} ${fmtShape(t.shape)}; cast it with .float().`);
  }
}

/** @internal Throws unless `a` and `b` have equal shapes (losses do not broadcast silently). */
export function checkSameShape(op: string, input: Tensor, target: Tensor): void {
  if (input.rank !== target.rank || input.shape.some((d, i) => d !== target.shape[i])) {
    throw new HeedError(op, `input ${fmtShape(input.shape)} and target ${fmtShape(target.shape)} must have the same shape. ` +
      'Heed does not broadcast loss targets (a [N] target against [N, 1] predictions is a common bug); reshape one of them.');
  }
}

/** @internal Throws unless `t` (a weight) broadcasts to `shape`. */
export function checkBroadcastsTo(op: string, what: string, t: Tensor, shape: readonly number[]): void {
  const lead = shape.length - t.rank;
  if (lead < 0 || t.shape.some((d, i) => d !== 1 && d !== shape[lead + i])) {
    throw new HeedError(op, `${what} ${fmtShape(t.shape)} must broadcast to the input shape ${fmtShape(shape)}.`);
  }
}
