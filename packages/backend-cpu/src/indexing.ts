// SPDX-License-Identifier: MIT
// Data movement: copy (strided -> contiguous), concat, and the index-driven kernels gather,
// indexSelect and scatterAdd. Invariants:
// - inputs are never modified; every result is a new contiguous buffer;
// - indices are int32 and must lie in [0, size of the axis); a bad index throws a HeedError
//   naming the op, the value, where it was found and the valid range, before the result is
//   returned (nothing observable has been written);
// - gather and indexSelect share one kernel: indexSelect is gather with a 1-D index
//   broadcast (stride 0) over every dimension but `axis`.
import {
  HeedError, StridedWalker, allocArray, contiguousStrides, sizeOf, unravelIndex, type DataId, type StridedView,
} from '@heed/core';
import { arrayOf, wrap } from './storage.js';
import { copyStrided, withStride } from './strided.js';

/**
 * Materialises a strided view into a new contiguous buffer of the same dtype.
 *
 * @example
 * ```ts
 * // contiguous copy of the transpose of a 2x3 buffer
 * const id = copyKernel({ data, dtype: 'float32', shape: [3, 2], strides: [1, 3], offset: 0 });
 * ```
 */
export function copyKernel(x: StridedView): DataId {
  const src = arrayOf(x.data, 'copy');
  const out = allocArray(x.dtype, sizeOf(x.shape));
  copyStrided(out, contiguousStrides(x.shape), 0, src, x.strides, x.offset, x.shape);
  return wrap(out, x.dtype);
}

/**
 * Joins views of one dtype (equal shapes except along `axis`) along `axis`.
 *
 * @example
 * ```ts
 * const id = concatKernel([a2x3, b1x3], 0); // [3, 3]
 * ```
 */
export function concatKernel(inputs: readonly StridedView[], axis: number): DataId {
  if (inputs.length === 0) throw new HeedError('concat', 'expects at least one input.');
  const first = inputs[0];
  const rank = first.shape.length;
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
    throw new HeedError('concat', `axis ${axis} is out of range for rank ${rank}; it must be in 0..${rank - 1}.`);
  }
  const shape = first.shape.slice();
  shape[axis] = 0;
  for (const v of inputs) {
    if (v.dtype !== first.dtype) {
      throw new HeedError('concat', `inputs must share one dtype, got ${first.dtype} and ${v.dtype}; cast them first.`);
    }
    shape[axis] += v.shape[axis];
  }
  const out = allocArray(first.dtype, sizeOf(shape));
  const outStrides = contiguousStrides(shape);
  let offset = 0;
  for (const v of inputs) {
    copyStrided(out, outStrides, offset * outStrides[axis], arrayOf(v.data, 'concat'), v.strides, v.offset, v.shape);
    offset += v.shape[axis];
  }
  return wrap(out, first.dtype);
}

/**
 * PyTorch `gather`: `out[p] = x[p with p[axis] replaced by index[p]]`; out shape = index shape,
 * dtype = `x.dtype`. Throws a HeedError for an index outside `[0, x.shape[axis])`.
 *
 * @example
 * ```ts
 * // x = [[1, 2], [3, 4]], index = [[0, 0], [1, 0]] (int32), axis 1 -> [[1, 1], [4, 3]]
 * const id = gatherKernel(x, 1, index);
 * ```
 */
export function gatherKernel(x: StridedView, axis: number, index: StridedView): DataId {
  checkAxis('gather', axis, x.shape.length);
  return gatherCore('gather', x, axis, index);
}

/**
 * Picks entries of `x` along `axis` by the 1-D int32 `index`; the result has `x.shape` with
 * `shape[axis] = index.length`.
 *
 * @example
 * ```ts
 * const rows = indexSelectKernel(table, 0, ids); // embedding lookup
 * ```
 */
export function indexSelectKernel(x: StridedView, axis: number, index: StridedView): DataId {
  const op = 'indexSelect';
  checkAxis(op, axis, x.shape.length);
  if (index.shape.length !== 1) throw new HeedError(op, `index must be 1-D, got shape [${index.shape.join(', ')}].`);
  const idx = arrayOf(index.data, op);
  const count = index.shape[0];
  const len = x.shape[axis];
  const step = index.strides[0];
  for (let j = 0, p = index.offset; j < count; j++, p += step) {
    const k = idx[p];
    if (!(k >= 0 && k < len)) throw badIndex(op, k, `position ${j} of the index`, axis, len);
  }
  const shape = x.shape.slice();
  shape[axis] = count;
  const strides = new Array<number>(shape.length).fill(0);
  strides[axis] = step;
  return gatherCore(op, x, axis, { data: index.data, dtype: index.dtype, shape, strides, offset: index.offset });
}

/** out[p] = x[base(p) + index[p] * x.strides[axis]] over the index's shape. */
function gatherCore(op: string, x: StridedView, axis: number, index: StridedView): DataId {
  const src = arrayOf(x.data, op);
  const idx = arrayOf(index.data, op);
  checkIndexDims(op, x, axis, index.shape);
  const out = allocArray(x.dtype, sizeOf(index.shape));
  const len = x.shape[axis];
  const step = x.strides[axis];
  const w = new StridedWalker(index.shape, index.strides, index.offset, withStride(x.strides, axis, 0), x.offset);
  const { n, s0, s1 } = w;
  let o = 0;
  for (let r = 0; r < w.rows; r++, w.next()) {
    let pi = w.p0;
    let px = w.p1;
    if (s0 === 0) {
      // One index for the whole run (indexSelect over inner dims): check once, then copy.
      const k = idx[pi];
      if (!(k >= 0 && k < len)) throw badIndex(op, k, `index position [${unravelIndex(o, index.shape).join(', ')}]`, axis, len);
      let p = px + k * step;
      for (let j = 0; j < n; j++, p += s1) out[o++] = src[p];
    } else {
      for (let j = 0; j < n; j++, pi += s0, px += s1) {
        const k = idx[pi];
        if (!(k >= 0 && k < len)) throw badIndex(op, k, `index position [${unravelIndex(o, index.shape).join(', ')}]`, axis, len);
        out[o++] = src[px + k * step];
      }
    }
  }
  return wrap(out, x.dtype);
}

/**
 * Zeros of `shape` (dtype `src.dtype`), then `out[p with p[axis] = index[p]] += src[p]` for
 * every position p of `index` (same shape as `src`). Throws a HeedError for a bad index.
 *
 * @example
 * ```ts
 * // shape [3], index [0, 0, 2], src [1, 2, 3] -> [3, 0, 3]
 * const id = scatterAddKernel([3], 0, index, src);
 * ```
 */
export function scatterAddKernel(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId {
  const op = 'scatterAdd';
  checkAxis(op, axis, shape.length);
  const idx = arrayOf(index.data, op);
  const sv = arrayOf(src.data, op);
  const sizeMismatch = index.shape.length !== src.shape.length || index.shape.some((d, i) => d !== src.shape[i]);
  if (sizeMismatch) {
    throw new HeedError(op, `index [${index.shape.join(', ')}] and src [${src.shape.join(', ')}] must have the same shape.`);
  }
  checkIndexDims(op, { shape }, axis, index.shape);
  const out = allocArray(src.dtype, sizeOf(shape));
  const outStrides = contiguousStrides(shape);
  const len = shape[axis];
  const step = outStrides[axis];
  const isBool = src.dtype === 'bool';
  const w = new StridedWalker(index.shape, index.strides, index.offset, src.strides, src.offset, withStride(outStrides, axis, 0), 0);
  const { n, s0, s1, s2 } = w;
  let flat = 0;
  for (let r = 0; r < w.rows; r++, w.next()) {
    let pi = w.p0;
    let ps = w.p1;
    let po = w.p2;
    for (let j = 0; j < n; j++, pi += s0, ps += s1, po += s2, flat++) {
      const k = idx[pi];
      if (!(k >= 0 && k < len)) throw badIndex(op, k, `index position [${unravelIndex(flat, index.shape).join(', ')}]`, axis, len);
      const at = po + k * step;
      if (isBool) out[at] = out[at] !== 0 || sv[ps] !== 0 ? 1 : 0;
      else out[at] += sv[ps]; // Int32Array stores wrap mod 2^32; Float32Array rounds each add
    }
  }
  return wrap(out, src.dtype);
}

function checkAxis(op: string, axis: number, rank: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
    throw new HeedError(op, `axis ${axis} is out of range for rank ${rank}; it must be in 0..${rank - 1}.`);
  }
}

/** The index must have x's rank and no larger size than x outside `axis`. */
function checkIndexDims(op: string, x: { readonly shape: readonly number[] }, axis: number, shape: readonly number[]): void {
  const bad = shape.length !== x.shape.length || shape.some((d, i) => i !== axis && d > x.shape[i]);
  if (bad) {
    throw new HeedError(op, `index shape [${shape.join(', ')}] must have the rank of [${x.shape.join(', ')}] ` +
      `and no larger size outside axis ${axis}.`);
  }
}

function badIndex(op: string, value: number, where: string, axis: number, len: number): HeedError {
  const range = len === 0 ? `axis ${axis} has size 0, so no index is valid` : `valid indices are 0..${len - 1} (axis ${axis} has size ${len})`;
  return new HeedError(op, `index ${value} at ${where} is out of range: ${range}. ` +
    'Fix the index values (negative indices are not wrapped); clamp or mask them before this op.');
}
