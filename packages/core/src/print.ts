// SPDX-License-Identifier: MIT
// Reading what a printed tensor shows (format.ts lays it out): the whole tensor, or for a
// summarised one only its edge blocks (up to 2^rank strided copies of at most `edgeItems`
// per dimension), so printing a 100M-element weight reads a few dozen numbers, not 400 MB.
// Invariant: every temporary buffer is released, also when a read fails.
import type { StridedView } from './backend.js';
import type { TypedArray } from './dtype.js';
import { shownSegments } from './format.js';
import { Storage } from './storage.js';
import type { Tensor } from './tensor.js';
import { runKernel } from './kernel-dispatch.js';

interface Block {
  readonly view: StridedView;
  readonly size: number;
  /** Where each dimension of the block starts in the shown (compact) index space. */
  readonly starts: readonly number[];
}

/** The blocks to read, or null when the whole tensor is shown. */
function blocksOf(t: Tensor, op: string): { blocks: Block[]; counts: number[] } | null {
  const segments = shownSegments(t.shape);
  if (segments.every((segs) => segs.length === 1)) return null;
  const view = t.stridedView(op);
  const counts = segments.map((segs) => segs.reduce((a, [, len]) => a + len, 0));
  let blocks: { offset: number; shape: number[]; starts: number[] }[] = [{ offset: view.offset, shape: [], starts: [] }];
  segments.forEach((segs, d) => {
    blocks = blocks.flatMap((b) => {
      let compact = 0;
      return segs.map(([start, len]) => {
        const next = { offset: b.offset + start * view.strides[d], shape: [...b.shape, len], starts: [...b.starts, compact] };
        compact += len;
        return next;
      });
    });
  });
  return {
    counts,
    blocks: blocks.filter((b) => b.shape.every((n) => n > 0)).map((b) => ({
      view: { ...view, shape: b.shape, offset: b.offset },
      size: b.shape.reduce((x, y) => x * y, 1),
      starts: b.starts,
    })),
  };
}

/** Places each block's row-major values at its position in the compact array. */
function assemble(blocks: readonly Block[], counts: readonly number[], parts: readonly TypedArray[]): Float64Array {
  const out = new Float64Array(counts.reduce((a, b) => a * b, 1));
  const rank = counts.length;
  const strides = new Array<number>(rank);
  for (let d = rank - 1, step = 1; d >= 0; d--) {
    strides[d] = step;
    step *= counts[d];
  }
  blocks.forEach((block, k) => {
    const shape = block.view.shape;
    const index = new Array<number>(rank).fill(0);
    for (let i = 0; i < block.size; i++) {
      let pos = 0;
      for (let d = 0; d < rank; d++) pos += (block.starts[d] + index[d]) * strides[d];
      out[pos] = parts[k][i];
      for (let d = rank - 1; d >= 0; d--) {
        if (++index[d] < shape[d]) break;
        index[d] = 0;
      }
    }
  });
  return out;
}

/** Copies `block` to a contiguous buffer, reads it with `read`, and frees the buffer. */
function withCopy<R>(t: Tensor, block: Block, read: (s: Storage) => R): R {
  const storage = new Storage(t.backend, runKernel(t.backend, 'copy', block.view), block.size, t.dtype);
  let result: R;
  try {
    result = read(storage);
  } catch (e) {
    storage.release();
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => storage.release()) as R;
  storage.release();
  return result;
}

/** @internal The values `formatTensor` shows, read synchronously (backends with `readSync`). */
export function shownValuesSync(t: Tensor): ArrayLike<number> {
  const plan = blocksOf(t, 'toString');
  if (!plan) return t.dataSync();
  const backend = t.backend;
  const parts = plan.blocks.map((b) => withCopy(t, b, (s) => runKernel(backend, 'readSync', s.data, t.dtype, b.size)));
  return assemble(plan.blocks, plan.counts, parts);
}

/** @internal The values `formatTensor` shows, read asynchronously (any backend). */
export async function shownValues(t: Tensor): Promise<ArrayLike<number>> {
  const plan = blocksOf(t, 'print');
  if (!plan) return t.data();
  const parts = await Promise.all(plan.blocks.map((b) => withCopy(t, b, (s) => runKernel(t.backend, 'read', s.data, t.dtype, b.size))));
  return assemble(plan.blocks, plan.counts, parts);
}
