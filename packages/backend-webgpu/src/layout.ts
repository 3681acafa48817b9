// SPDX-License-Identifier: MIT
// Host-side layout planning for strided kernels: merges dimensions that every operand walks
// contiguously (so most kernels see rank 1 or 2), marks operands that are plain contiguous
// runs, and packs the per-dispatch metadata words the kernels read. The layout arithmetic
// itself (coalesceDims, isContiguous, sizeOf) is core's, shared by every
// backend; what is WebGPU's is the plan, the metadata packing and the WGSL offsets.
// Invariants: coalescing never changes which element an output index maps to; metadata words
// are u32 (offsets and strides are non-negative: core never passes negative strides); the
// rank a kernel sees is at most MAX_RANK.
import { HeedError, coalesceDims, isContiguous, sizeOf, type StridedView } from '@heed/core';

/**
 * Highest tensor rank the WebGPU kernels accept (each operand's strides live in metadata).
 *
 * @example
 * ```ts
 * MAX_RANK; // 8
 * ```
 */
export const MAX_RANK = 8;

/**
 * The offset and strides of one operand over the iteration shape.
 *
 * @example
 * ```ts
 * const op: Operand = { offset: 0, strides: [1, 3] };
 * ```
 */
export interface Operand {
  readonly offset: number;
  readonly strides: readonly number[];
}

/**
 * An iteration plan: the (coalesced) shape, each operand over it, and which operands are
 * contiguous runs (`offset + i`).
 *
 * @example
 * ```ts
 * const plan: Plan = coalesce('add', [2, 3], [{ offset: 0, strides: [3, 1] }]);
 * plan.shape; // [6]
 * ```
 */
export interface Plan {
  readonly shape: readonly number[];
  readonly operands: readonly Operand[];
  readonly contiguous: readonly boolean[];
  readonly size: number;
}

/**
 * Throws a HeedError naming `op` when a tensor's rank exceeds {@link MAX_RANK}.
 *
 * @example
 * ```ts
 * checkRank('add', [2, 3]); // ok
 * ```
 */
export function checkRank(op: string, shape: readonly number[]): void {
  if (shape.length > MAX_RANK) {
    throw new HeedError(op, `tensors of rank ${shape.length} are not supported on WebGPU (at most ${MAX_RANK}); reshape to fewer dimensions first.`);
  }
}

/**
 * The plan of operands walking one iteration shape: core's {@link coalesceDims} (size-1 dims
 * dropped, neighbours that every operand walks contiguously merged), plus which operands are
 * contiguous runs. Throws a HeedError naming `op` above {@link MAX_RANK}.
 *
 * @example
 * ```ts
 * coalesce('copy', [4, 5], [{ offset: 2, strides: [5, 1] }]).shape; // [20]
 * ```
 */
export function coalesce(op: string, shape: readonly number[], operands: readonly Operand[]): Plan {
  checkRank(op, shape);
  const merged = coalesceDims(shape, operands.map((o) => o.strides));
  const out = operands.map((o, k) => ({ offset: o.offset, strides: merged.strides[k] }));
  return { shape: merged.shape, operands: out, contiguous: out.map((o) => isContiguous(merged.shape, o.strides)), size: sizeOf(shape) };
}

/**
 * The plan of views that share one iteration shape (elementwise ops, copies).
 *
 * @example
 * ```ts
 * planViews('add', [a, b]); // a, b: StridedView of the same shape
 * ```
 */
export function planViews(op: string, views: readonly StridedView[]): Plan {
  return coalesce(op, views[0].shape, views);
}

/**
 * Packs metadata words: `[n, rank, shape..., per operand: offset, strides...]` then `tail`.
 * Kernels generated for the same rank read them at fixed positions.
 *
 * @example
 * ```ts
 * metaWords(plan, [axisStride]); // Uint32Array
 * ```
 */
export function metaWords(plan: Plan, tail: readonly number[] = []): Uint32Array {
  const words = [plan.size, plan.shape.length, ...plan.shape];
  for (const o of plan.operands) words.push(o.offset, ...o.strides);
  words.push(...tail);
  return Uint32Array.from(words);
}

/**
 * WGSL that computes `off<k>` (element offset of operand k) for output index `i` under a plan
 * of rank `rank`, reading shape/strides from `md` at fixed positions. Contiguous operands
 * skip the index arithmetic, `scalar` ones (all strides 0) are just their offset; the
 * coordinates are computed once for all strided operands.
 *
 * @example
 * ```ts
 * offsetsWgsl(2, [true, false]); // 'let off0 = md[4] + i; ...'
 * ```
 */
export function offsetsWgsl(rank: number, contiguous: readonly boolean[], first = 0, scalar: readonly boolean[] = []): string {
  const lines: string[] = [];
  const base = (k: number) => 2 + rank + k * (rank + 1);
  const strided = contiguous.some((c, k) => k >= first && !c && !scalar[k]);
  if (strided) {
    lines.push('var rem = i;');
    for (let d = rank - 1; d >= 0; d--) {
      lines.push(d > 0 ? `let c${d} = rem % md[${2 + d}]; rem = rem / md[${2 + d}];` : `let c0 = rem;`);
    }
  }
  contiguous.forEach((c, k) => {
    if (k < first) return;
    if (scalar[k]) { lines.push(`let off${k} = md[${base(k)}];`); return; }
    if (c) { lines.push(`let off${k} = md[${base(k)}] + i;`); return; }
    const terms = Array.from({ length: rank }, (_, d) => `c${d} * md[${base(k) + 1 + d}]`);
    lines.push(`let off${k} = md[${base(k)}]${terms.map((t) => ` + ${t}`).join('')};`);
  });
  return lines.join('\n  ');
}

/**
 * A plan in units of 4 elements, for kernels that move `vec4`s: the output and every operand
 * walk their innermost dimension contiguously in aligned groups of 4 (or, for `scalar`
 * operands, read one broadcast element). Null when the plan does not allow it.
 *
 * @example
 * ```ts
 * const v = vectorize(coalesce('add', [512, 128], [a, bias])); // v.plan.size == 16384
 * ```
 */
export function vectorize(plan: Plan): { plan: Plan; scalar: boolean[] } | null {
  const r = plan.shape.length;
  if (r === 0 || plan.shape[r - 1] % 4 !== 0) return null;
  const scalar = plan.operands.map((o) => o.strides.every((st) => st === 0));
  const ok = plan.operands.every((o, k) => scalar[k] || (o.strides[r - 1] === 1 && o.offset % 4 === 0 && o.strides.every((st, d) => d === r - 1 || st % 4 === 0)));
  if (!ok) return null;
  const shape = plan.shape.map((d, i) => (i === r - 1 ? d / 4 : d));
  const operands = plan.operands.map((o, k) => (scalar[k] ? o : { offset: o.offset / 4, strides: o.strides.map((st, d) => (d === r - 1 ? 1 : st / 4)) }));
  const contiguous = operands.map((o, k) => !scalar[k] && isContiguous(shape, o.strides));
  return { plan: { shape, operands, contiguous, size: plan.size / 4 }, scalar };
}
