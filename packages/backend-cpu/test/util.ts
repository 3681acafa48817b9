// SPDX-License-Identifier: MIT
// Test helpers: build StridedViews over uploaded buffers, read results back, and compute
// reference values independently of the kernels (plain nested index arithmetic).
import type { DataId, DType, StridedView, TypedArray } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';

export const cpu = new CpuBackend();

export function contiguous(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uploads `values` and returns a view with the given layout (contiguous by default). */
export function view(values: ArrayLike<number>, dtype: DType, shape: number[], strides?: number[], offset = 0): StridedView {
  const arr = dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
  return { data: cpu.upload(arr, dtype), dtype, shape, strides: strides ?? contiguous(shape), offset };
}

/** A contiguous view of an existing buffer. */
export function asView(data: DataId, dtype: DType, shape: number[]): StridedView {
  return { data, dtype, shape, strides: contiguous(shape), offset: 0 };
}

/** Reads a whole result buffer as a plain array. */
export function read(id: DataId, dtype: DType, n: number): number[] {
  return Array.from(cpu.readSync(id, dtype, n) as TypedArray);
}

/** Every multi-index of `shape` in row-major order. */
export function* indices(shape: readonly number[]): Generator<number[]> {
  const n = size(shape);
  for (let flat = 0; flat < n; flat++) {
    const idx = new Array<number>(shape.length);
    let f = flat;
    for (let d = shape.length - 1; d >= 0; d--) { idx[d] = f % shape[d]; f = Math.floor(f / shape[d]); }
    yield idx;
  }
}

/** The element of `v` at multi-index `idx`, read through its strides from `values`. */
export function at(values: ArrayLike<number>, v: { strides: readonly number[]; offset: number }, idx: readonly number[]): number {
  let p = v.offset;
  for (let d = 0; d < idx.length; d++) p += idx[d] * v.strides[d];
  return values[p];
}

/** Deterministic pseudo-random numbers in [-1, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

export function randomArray(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r());
}

/** Deterministic float32 values in [-range, range) (randomArray scaled; a power-of-two range keeps them exact). */
export function randomValues(n: number, seed: number, range: number): number[] {
  return Array.from(randomArray(n, seed), (v) => v * range);
}
