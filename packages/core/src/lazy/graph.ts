// SPDX-License-Identifier: MIT
// The lazy layer's pending graph: a LazyBuffer is the DataId core holds; until it is computed
// it carries the primitive that makes it (`Pending`), whose operands are views of other
// LazyBuffers. Recorded kinds are the elementwise primitives, the reductions a program can
// end in (sum/prod/max/min of float32 over trailing axes) and matmul (whose product a program
// may read as its epilogue, `FusedKernels.matmulElementwise`). Invariants:
// - `uses` counts the operand slots of pending nodes reading the buffer; a buffer is dropped
//   when core freed it and `uses` is 0;
// - `cseKey` identifies a pending node by its op, constants and operand views (common
//   subexpressions: a second identical node becomes an alias of the first).
import type { BinaryOp, DataId, StridedView, UnaryOp } from '../backend.js';
import type { DType } from '../dtype.js';
import type { ProgramReduceOp } from './program.js';

/**
 * A recorded primitive; its operands' `data` are LazyBuffers.
 *
 * @example
 * ```ts
 * const p: Pending = { kind: 'reduce', fn: 'sum', x: view, axes: 1 };
 * ```
 */
export type Pending =
  | { readonly kind: 'fill'; readonly value: number }
  | { readonly kind: 'copy'; readonly x: StridedView }
  | { readonly kind: 'unary'; readonly fn: UnaryOp; readonly x: StridedView }
  | { readonly kind: 'binary'; readonly fn: BinaryOp; readonly a: StridedView; readonly b: StridedView }
  | { readonly kind: 'where'; readonly cond: StridedView; readonly a: StridedView; readonly b: StridedView }
  | { readonly kind: 'cast'; readonly x: StridedView }
  /** `fn` over the `axes` trailing dims of `x` (the buffer has x's shape without them). */
  | { readonly kind: 'reduce'; readonly fn: ProgramReduceOp; readonly x: StridedView; readonly axes: number }
  /** `a @ b` as the backend's `matmul` takes it; the buffer holds the product (its shape may drop size-1 dims of it). */
  | { readonly kind: 'matmul'; readonly a: StridedView; readonly b: StridedView };

let nextId = 0;

/**
 * The lazy layer's DataId: a computed inner buffer, or a pending node.
 *
 * @example
 * ```ts
 * const b = new LazyBuffer('float32', [4]);
 * b.pending = { kind: 'fill', value: 0 };
 * ```
 */
export class LazyBuffer {
  readonly id = nextId++;
  inner: DataId | null = null;
  pending: Pending | null = null;
  /** Freed by core (no tensor refers to it any more). */
  freed = false;
  /** Number of operand slots of pending nodes that read this buffer. */
  uses = 0;
  /** For a CSE alias (a pending identity copy): the node it copies. */
  aliasOf: LazyBuffer | null = null;
  /** The node's key in the backend's CSE table while it is pending (null: not in it). */
  cseKey: string | null = null;
  constructor(readonly dtype: DType, readonly shape: readonly number[]) {}
}

/**
 * The operand views of a pending node.
 *
 * @example
 * ```ts
 * for (const v of operands(b.pending)) (v.data as LazyBuffer).uses++;
 * ```
 */
export function operands(p: Pending): readonly StridedView[] {
  switch (p.kind) {
    case 'fill': return [];
    case 'copy': case 'unary': case 'cast': case 'reduce': return [p.x];
    case 'binary': case 'matmul': return [p.a, p.b];
    case 'where': return [p.cond, p.a, p.b];
  }
}

/**
 * The shape of the product a pending matmul's backend call returns: `[...batch, M, N]`.
 *
 * @example
 * ```ts
 * matmulShape({ kind: 'matmul', a, b }); // [1, 64, 128] for a [1, 64, 32] and b [1, 32, 128]
 * ```
 */
export function matmulShape(p: { readonly a: StridedView; readonly b: StridedView }): number[] {
  return [...p.a.shape.slice(0, -1), p.b.shape[p.b.shape.length - 1]];
}

/**
 * The CSE key of a node made by `p` with result `dtype` and `shape`: op, constants and operand
 * views (buffer id, shape, strides, offset). Fills have none (a constant is free in a program).
 *
 * @example
 * ```ts
 * const key = cseKey(p, 'float32', [4, 8]);
 * ```
 */
export function cseKey(p: Pending, dtype: DType, shape: readonly number[]): string | null {
  if (p.kind === 'fill') return null;
  const view = (v: StridedView): string => `${(v.data as LazyBuffer).id}[${v.shape.join(',')}|${v.strides.join(',')}|${v.offset}]`;
  const head = p.kind === 'unary' || p.kind === 'binary' ? `${p.kind}:${p.fn}` : p.kind === 'reduce' ? `reduce:${p.fn}:${p.axes}` : p.kind;
  return `${head}:${dtype}:${shape.join(',')}:${operands(p).map(view).join(' ')}`;
}
