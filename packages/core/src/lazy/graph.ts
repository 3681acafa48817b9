// SPDX-License-Identifier: MIT
// The lazy layer's pending graph: a LazyBuffer is the DataId core holds; until it is computed
// it carries the primitive that makes it (`Pending`), whose operands are views of other
// LazyBuffers. Recorded kinds are the elementwise primitives, the reductions a program can
// end in (sum/prod/max/min of float32 over trailing axes) and matmul (whose product a program
// may read as its epilogue, `FusedKernels.matmulElementwise`). Invariants:
// - `uses` counts the operand slots of pending nodes reading the buffer; a buffer is dropped
//   when core freed it and `uses` is 0;
// - `sameNode` identifies a pending node by its op, constants and operand views (common
//   subexpressions: a second identical node becomes an alias of the first); the backend finds
//   candidates among the pending readers of the node's first operand (its `readers`), so no
//   key is built;
// - a LazyBuffer's `shape` is the caller's array, never copied: shapes are immutable (core's
//   tensors and views never write to one after handing it on).
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
  /** Whether the node is in the backend's CSE table (under its first operand) while it is pending. */
  inCse = false;
  /** Kept by autograd for a backward (core's `savedForBackward` hint; the mark stays): may be recomputed where read rather than written out. */
  saved = false;
  /** Left pending by a program that computed it internally, to be recomputed where it is read (never grouped as a sibling). */
  recompute = false;
  /**
   * The pending nodes filed under this buffer as their first operand: the backend's CSE
   * candidates (null when none). Kept here rather than in a backend-wide Map: see live-list.ts
   * on why a long-lived, churning hash table of graph nodes costs old-space memory.
   */
  readers: LazyBuffer[] | null = null;
  /** Whether the buffer is on the backend's live list, and its neighbours there (live-list.ts). */
  inLive = false;
  prevLive: LazyBuffer | null = null;
  nextLive: LazyBuffer | null = null;
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
 * The buffer of a pending node's first operand (null for a fill), without building the
 * operand list: the key of the backend's CSE table.
 *
 * @example
 * ```ts
 * const first = firstOperand(b.pending); // the LazyBuffer the node is filed under
 * ```
 */
export function firstOperand(p: Pending): DataId | null {
  switch (p.kind) {
    case 'fill': return null;
    case 'copy': case 'unary': case 'cast': case 'reduce': return p.x.data;
    case 'binary': case 'matmul': return p.a.data;
    case 'where': return p.cond.data;
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
 * Whether pending nodes `p` and `q` compute the same values: same kind, same constants and
 * function, and the same operand views (buffer, shape, strides, offset). Fills never match (a
 * constant is free in a program). Compares every field generically, so a new Pending kind needs
 * no case here.
 *
 * @example
 * ```ts
 * if (twin.dtype === dtype && sameShape(twin.shape, shape) && sameNode(twin.pending, p)) return alias(twin);
 * ```
 */
export function sameNode(p: Pending, q: Pending): boolean {
  if (p.kind !== q.kind || p.kind === 'fill') return false;
  const a = p as unknown as Readonly<Record<string, unknown>>, b = q as unknown as Readonly<Record<string, unknown>>;
  for (const k in a) {
    const x = a[k], y = b[k];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (!sameView(x as StridedView, y as StridedView)) return false;
  }
  return true;
}

function sameView(v: StridedView, w: StridedView): boolean {
  if (v.data !== w.data || v.offset !== w.offset || v.shape.length !== w.shape.length) return false;
  for (let d = 0; d < v.shape.length; d++) if (v.shape[d] !== w.shape[d] || v.strides[d] !== w.strides[d]) return false;
  return true;
}
