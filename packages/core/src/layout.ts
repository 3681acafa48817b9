// SPDX-License-Identifier: MIT
// Layout helpers for backend authors (the arithmetic of shapes and strides lives in shape.ts):
// mapping flat indices to multi-indices, coalescing the dimensions of several strided operands
// that share one iteration shape, and StridedWalker, the allocation-free iteration over up to
// three strided views that the CPU backend's kernels use. Backend-specific planning (WebGPU
// metadata words, WASM operand modes) stays in the backends and builds on these.
// Invariants: coalescing never changes which element an iteration index maps to; size-1
// dimensions never matter; a zero-size shape iterates nothing.

/**
 * The multi-index of flat row-major position `flat` in `shape` (dims of size 0 give index 0).
 *
 * @example
 * ```ts
 * unravelIndex(5, [2, 3]); // [1, 2]
 * unravelIndex(0, []); // []
 * ```
 */
export function unravelIndex(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i];
    if (d > 0) {
      idx[i] = flat % d;
      flat = Math.floor(flat / d);
    }
  }
  return idx;
}

/**
 * Dimensions merged by {@link coalesceDims}: the new shape and, per operand, its strides over
 * it (fresh arrays the caller may modify).
 *
 * @example
 * ```ts
 * const c: CoalescedDims = coalesceDims([4, 5], [[5, 1]]); // { shape: [20], strides: [[1]] }
 * ```
 */
export interface CoalescedDims {
  /** The merged iteration shape: no size-1 dims; `[]` for a single element. */
  readonly shape: number[];
  /** `strides[k]`: operand k's strides over `shape`. */
  readonly strides: number[][];
}

/**
 * Merges the dimensions of an iteration `shape` walked by several strided operands at once:
 * drops size-1 dims and joins each dim with the next inner one wherever every operand steps
 * over both as one run (`outer stride == inner stride * inner size`). The element each
 * iteration index reaches is unchanged, so same-layout contiguous operands collapse to one
 * dimension. A stride missing from an operand's array counts as 0, so `[]` is a broadcast
 * scalar. Zero-size shapes keep a 0 dimension.
 *
 * @example
 * ```ts
 * coalesceDims([2, 3, 4], [[12, 4, 1], [0, 4, 1]]); // { shape: [2, 12], strides: [[12, 1], [0, 1]] }
 * coalesceDims([3, 2], [[1, 3]]); // a transpose stays 2-D: { shape: [3, 2], strides: [[1, 3]] }
 * ```
 */
export function coalesceDims(shape: readonly number[], strides: readonly (readonly number[])[]): CoalescedDims {
  const ops = strides.length;
  const dims: number[] = [];
  const out: number[][] = [];
  for (let k = 0; k < ops; k++) out.push([]);
  for (let d = 0; d < shape.length; d++) {
    const len = shape[d];
    if (len === 1) continue;
    const last = dims.length - 1;
    let merge = last >= 0;
    for (let k = 0; merge && k < ops; k++) {
      const st = strides[k][d];
      merge = out[k][last] === (st === undefined ? 0 : st) * len;
    }
    if (merge) {
      dims[last] *= len;
      for (let k = 0; k < ops; k++) {
        const st = strides[k][d];
        out[k][last] = st === undefined ? 0 : st;
      }
    } else {
      dims.push(len);
      for (let k = 0; k < ops; k++) {
        const st = strides[k][d];
        out[k].push(st === undefined ? 0 : st);
      }
    }
  }
  return { shape: dims, strides: out };
}

const NO_STRIDES: readonly number[] = [];

/**
 * Walks up to three strided operands over one iteration shape in row-major order, as "runs":
 * each run is {@link StridedWalker.n} elements along the innermost coalesced dimension (see
 * {@link coalesceDims}), where operand k starts at `pk` and steps by `sk`. Kernels loop over
 * the runs and do their per-element work in a plain for-loop: no per-element calls or
 * allocations. Operands that are not given have stride 0 and offset 0. After `rows` calls to
 * `next()` the walker is back at the first run; a zero-size shape has `rows === 0`.
 *
 * @example
 * ```ts
 * // out[i] = A[a's i-th element] + B[b's i-th element] over any views a, b of one shape
 * const w = new StridedWalker(shape, a.strides, a.offset, b.strides, b.offset);
 * let o = 0;
 * for (let r = 0; r < w.rows; r++, w.next()) {
 *   let pa = w.p0, pb = w.p1;
 *   for (let j = 0; j < w.n; j++, pa += w.s0, pb += w.s1) out[o++] = A[pa] + B[pb];
 * }
 * ```
 */
export class StridedWalker {
  /** Elements per run (the innermost coalesced dimension). */
  readonly n: number;
  /** Number of runs; 0 for a zero-size shape. */
  readonly rows: number;
  /** Inner stride of operand 0. */
  readonly s0: number;
  /** Inner stride of operand 1. */
  readonly s1: number;
  /** Inner stride of operand 2. */
  readonly s2: number;
  /** Start offset of the current run of operand 0. */
  p0: number;
  /** Start offset of the current run of operand 1. */
  p1: number;
  /** Start offset of the current run of operand 2. */
  p2: number;
  private readonly dims: number[];
  private readonly t0: number[];
  private readonly t1: number[];
  private readonly t2: number[];
  private readonly count: number[];

  constructor(
    shape: readonly number[],
    strides0: readonly number[], offset0: number,
    strides1: readonly number[] = NO_STRIDES, offset1 = 0,
    strides2: readonly number[] = NO_STRIDES, offset2 = 0,
  ) {
    let size = 1;
    for (let d = 0; d < shape.length; d++) size *= shape[d];
    const merged = coalesceDims(shape, [strides0, strides1, strides2]);
    const dims = merged.shape;
    const t0 = merged.strides[0];
    const t1 = merged.strides[1];
    const t2 = merged.strides[2];
    this.p0 = offset0;
    this.p1 = offset1;
    this.p2 = offset2;
    if (size === 0) {
      this.n = 0;
      this.rows = 0;
      this.s0 = this.s1 = this.s2 = 0;
    } else if (dims.length === 0) {
      this.n = 1;
      this.rows = 1;
      this.s0 = this.s1 = this.s2 = 0;
    } else {
      this.n = dims.pop() as number;
      this.s0 = t0.pop() as number;
      this.s1 = t1.pop() as number;
      this.s2 = t2.pop() as number;
      this.rows = size / this.n;
    }
    this.dims = dims;
    this.t0 = t0;
    this.t1 = t1;
    this.t2 = t2;
    this.count = new Array<number>(dims.length).fill(0);
  }

  /** Moves to the next run (wrapping to the first after the last). */
  next(): void {
    const { dims, count, t0, t1, t2 } = this;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++count[d] < dims[d]) {
        this.p0 += t0[d];
        this.p1 += t1[d];
        this.p2 += t2[d];
        return;
      }
      const back = dims[d] - 1;
      count[d] = 0;
      this.p0 -= t0[d] * back;
      this.p1 -= t1[d] * back;
      this.p2 -= t2[d] * back;
    }
  }
}
