// SPDX-License-Identifier: MIT
// Reductions. sum/prod/max/min over any set of axes walk the input in its own (row-major view)
// order and accumulate into an accumulator shaped like the output, reached through strides
// that are 0 along the reduced axes; argmax/argmin walk each output position's single axis.
// Invariants:
// - float results accumulate in a Float64Array (JS doubles) and are rounded once at the end;
// - int32 results accumulate in an Int32Array, wrapping mod 2^32 like PyTorch (imul for prod);
// - max/min propagate NaN; argmax/argmin return the first extreme index, treating NaN as the
//   extreme (PyTorch's rule); an empty reduced axis gives sum 0 and prod 1.
import {
  HeedError, StridedWalker, allocArray, contiguousStrides, sizeOf, type DataId, type DType, type ReduceOp, type StridedView,
} from '@heed/core';
import { arrayOf, toBool, wrap, type NumArray } from './storage.js';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Reduces `x` over `axes` (sorted, unique). Output shape is `x.shape` without those axes,
 * contiguous, dtype `outDtype`. argmax/argmin take exactly one axis and return int32.
 *
 * @example
 * ```ts
 * // column sums of a 2x3 float32 view
 * const id = reduceKernel('sum', view, [0], 'float32');
 * ```
 */
export function reduceKernel(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
  const rank = x.shape.length;
  for (let i = 0; i < axes.length; i++) {
    const a = axes[i];
    if (!Number.isInteger(a) || a < 0 || a >= rank || (i > 0 && a <= axes[i - 1])) {
      throw new HeedError(op, `axes [${axes.join(', ')}] must be sorted, unique and within 0..${rank - 1} for shape [${x.shape.join(', ')}].`);
    }
  }
  const src = arrayOf(x.data, op);
  if (op === 'argmax' || op === 'argmin') return argReduce(op, x, src, axes);
  if (op !== 'sum' && op !== 'prod' && op !== 'max' && op !== 'min') {
    throw new HeedError('reduce', `unknown reduce op '${String(op)}'; the cpu backend implements sum, prod, max, min, argmax, argmin.`);
  }

  const keptShape: number[] = [];
  for (let d = 0; d < rank; d++) if (!axes.includes(d)) keptShape.push(x.shape[d]);
  const outSize = sizeOf(keptShape);
  // Strides into the accumulator for every input dim: row-major for kept dims, 0 for reduced.
  const keptStrides = contiguousStrides(keptShape);
  const accStrides = new Array<number>(rank).fill(0);
  for (let d = 0, k = 0; d < rank; d++) if (!axes.includes(d)) accStrides[d] = keptStrides[k++];

  const intAcc = outDtype === 'int32' && x.dtype !== 'float32';
  const acc: Float64Array | Int32Array = intAcc ? new Int32Array(outSize) : new Float64Array(outSize);
  const init = op === 'sum' ? 0 : op === 'prod' ? 1 : op === 'max' ? (intAcc ? INT32_MIN : -Infinity) : intAcc ? INT32_MAX : Infinity;
  if (init !== 0) acc.fill(init);

  const w = new StridedWalker(x.shape, x.strides, x.offset, accStrides, 0);
  const n = w.n;
  const sx = w.s0;
  const sa = w.s1;
  for (let r = 0; r < w.rows; r++, w.next()) {
    const px = w.p0;
    const pa = w.p1;
    if (op === 'sum') sumRun(acc, pa, sa, src, px, sx, n, intAcc);
    else if (op === 'prod') prodRun(acc, pa, sa, src, px, sx, n, intAcc);
    else if (op === 'max') maxRun(acc, pa, sa, src, px, sx, n);
    else minRun(acc, pa, sa, src, px, sx, n);
  }

  if (outDtype === 'int32' && intAcc) return wrap(acc as Int32Array, 'int32');
  const out = allocArray(outDtype, outSize);
  if (outDtype === 'bool') toBool(acc, out as Uint8Array);
  else out.set(acc);
  return wrap(out, outDtype);
}

/** acc[pa + j*sa] += x[px + j*sx] for j < n (int accumulators wrap mod 2^32). */
function sumRun(acc: Float64Array | Int32Array, pa: number, sa: number, x: NumArray, px: number, sx: number, n: number, int: boolean): void {
  if (sa === 0) {
    let s = acc[pa];
    if (int) for (let j = 0; j < n; j++, px += sx) s = (s + x[px]) | 0;
    else for (let j = 0; j < n; j++, px += sx) s += x[px];
    acc[pa] = s;
  } else {
    for (let j = 0; j < n; j++, px += sx, pa += sa) acc[pa] += x[px]; // Int32Array stores wrap
  }
}

/** acc[pa + j*sa] *= x[px + j*sx] for j < n (Math.imul for int accumulators). */
function prodRun(acc: Float64Array | Int32Array, pa: number, sa: number, x: NumArray, px: number, sx: number, n: number, int: boolean): void {
  if (sa === 0) {
    let s = acc[pa];
    if (int) for (let j = 0; j < n; j++, px += sx) s = Math.imul(s, x[px]);
    else for (let j = 0; j < n; j++, px += sx) s *= x[px];
    acc[pa] = s;
  } else if (int) {
    for (let j = 0; j < n; j++, px += sx, pa += sa) acc[pa] = Math.imul(acc[pa], x[px]);
  } else {
    for (let j = 0; j < n; j++, px += sx, pa += sa) acc[pa] *= x[px];
  }
}

/** Running maximum; once NaN is seen it stays (v !== v is the NaN test). */
function maxRun(acc: Float64Array | Int32Array, pa: number, sa: number, x: NumArray, px: number, sx: number, n: number): void {
  if (sa === 0) {
    let m = acc[pa];
    for (let j = 0; j < n; j++, px += sx) {
      const v = x[px];
      if (v > m || v !== v) m = v;
    }
    acc[pa] = m;
  } else {
    for (let j = 0; j < n; j++, px += sx, pa += sa) {
      const v = x[px];
      if (v > acc[pa] || v !== v) acc[pa] = v;
    }
  }
}

/** Running minimum; once NaN is seen it stays. */
function minRun(acc: Float64Array | Int32Array, pa: number, sa: number, x: NumArray, px: number, sx: number, n: number): void {
  if (sa === 0) {
    let m = acc[pa];
    for (let j = 0; j < n; j++, px += sx) {
      const v = x[px];
      if (v < m || v !== v) m = v;
    }
    acc[pa] = m;
  } else {
    for (let j = 0; j < n; j++, px += sx, pa += sa) {
      const v = x[px];
      if (v < acc[pa] || v !== v) acc[pa] = v;
    }
  }
}

/** argmax/argmin over exactly one axis: int32 index of the first extreme (NaN wins). */
function argReduce(op: 'argmax' | 'argmin', x: StridedView, src: NumArray, axes: readonly number[]): DataId {
  if (axes.length !== 1) {
    throw new HeedError(op, `reduces exactly one axis, got axes [${axes.join(', ')}]; reduce one axis at a time or flatten first.`);
  }
  const axis = axes[0];
  const len = x.shape[axis];
  const keptShape = x.shape.filter((_, d) => d !== axis);
  const keptStrides = x.strides.filter((_, d) => d !== axis);
  const out = new Int32Array(sizeOf(keptShape));
  if (out.length === 0) return wrap(out, 'int32');
  if (len === 0) {
    throw new HeedError(op, `cannot take ${op} over axis ${axis} of size 0 (shape [${x.shape.join(', ')}]); the axis must be non-empty.`);
  }
  const step = x.strides[axis];
  const isMax = op === 'argmax';
  const w = new StridedWalker(keptShape, keptStrides, x.offset);
  const { n, s0 } = w;
  let o = 0;
  for (let r = 0; r < w.rows; r++, w.next()) {
    let base = w.p0;
    for (let j = 0; j < n; j++, base += s0) {
      let best = src[base];
      let at = 0;
      if (best === best) {
        let p = base + step;
        for (let k = 1; k < len; k++, p += step) {
          const v = src[p];
          if (v !== v) { at = k; break; }
          if (isMax ? v > best : v < best) { best = v; at = k; }
        }
      }
      out[o++] = at;
    }
  }
  return wrap(out, 'int32');
}
