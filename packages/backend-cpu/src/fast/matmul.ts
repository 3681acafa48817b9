// SPDX-License-Identifier: MIT
// Fast batched matmul: sets up asm/gemm.ts jobs. Operands are read in place with their own
// strides (transposed and batch-broadcast views included; the WASM packing absorbs them), the
// output is a new contiguous HeapBuffer. Large products are split into blocks of C over
// (batch, row block, column block) and shared with the workers; small ones stay on the caller.
// Returns null whenever the fast path cannot run (non-float32, heap exhausted, bad shapes,
// worker failure), so the caller falls back to the reference kernel.
import type { DataId, StridedView } from '@heed/core';
import { HeapBuffer, heapSource, type HeapSource } from './buffer.js';
import { KIND, PARALLEL_MACS } from './ops.js';
import type { FastRuntime } from './runtime.js';

/**
 * Block sizes (rows, columns of C per job block) for a batched product on `threads` threads:
 * big blocks amortise packing; halve them until every thread has about four blocks (so a
 * thread slowed down by the machine does not hold up the others much).
 *
 * @example
 * ```ts
 * gemmBlocking(1, 1024, 1024, 2, 4, 8, 512); // { mb: 512, nb: 512 }
 * ```
 */
export function gemmBlocking(batch: number, m: number, n: number, threads: number, mr: number, nr: number, nbMax: number): { mb: number; nb: number } {
  const up = (x: number, q: number) => Math.ceil(x / q) * q;
  let mb = up(Math.min(m, 512), mr);
  let nb = up(Math.min(n, nbMax), nr);
  if (threads > 1) {
    const target = 4 * threads;
    while (batch * Math.ceil(m / mb) * Math.ceil(n / nb) < target) {
      if (mb >= nb && mb > 8 * mr) mb = up(mb / 2, mr);
      else if (nb > 4 * nr) nb = up(nb / 2, nr);
      else if (mb > mr) mb = up(mb / 2, mr);
      else break;
    }
  }
  return { mb, nb };
}

/**
 * `[B, M, K] @ [B, K, N]` on the fast path, or null to fall back.
 *
 * @example
 * ```ts
 * const id = fastMatmul(rt, a, b) ?? matmulKernel(a, b);
 * ```
 */
export function fastMatmul(rt: FastRuntime, a: StridedView, b: StridedView): DataId | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length !== 3 || b.shape.length !== 3) return null;
  const [batch, m, k] = a.shape;
  const n = b.shape[2];
  if (b.shape[0] !== batch || b.shape[1] !== k) return null;
  const size = batch * m * n;
  if (size === 0) return null;
  const out = HeapBuffer.alloc(rt.heap, size);
  if (out === null) return null;
  if (k === 0) {
    rt.kernels.zeroFill(out.ptr, size);
    return out;
  }
  let sa: HeapSource | null = null;
  let sb: HeapSource | null = null;
  try {
    sa = heapSource(rt.heap, a, 'matmul');
    sb = heapSource(rt.heap, b, 'matmul');
    if (sa === null || sb === null) throw new RangeError('heap full');
    const threads = batch * m * n * k >= PARALLEL_MACS ? rt.threads : 1;
    const k2 = rt.kernels;
    const { mb, nb } = gemmBlocking(batch, m, n, threads, k2.MR.value as number, k2.NR.value as number, k2.NB_MAX.value as number);
    const nbm = Math.ceil(m / mb);
    const nbn = Math.ceil(n / nb);
    rt.begin();
    const slots = [
      batch, m, n, k,
      sa.ptr + 4 * a.offset, a.strides[0], a.strides[1], a.strides[2],
      sb.ptr + 4 * b.offset, b.strides[0], b.strides[1], b.strides[2],
      out.ptr, mb, nb, nbm, nbn, rt.scratch, rt.scratchBytes,
    ];
    for (let i = 0; i < slots.length; i++) rt.setI(i, slots[i]);
    rt.run(KIND.GEMM, batch * nbm * nbn, threads > 1);
    return out;
  } catch {
    out.release();
    return null;
  } finally {
    sa?.release();
    sb?.release();
  }
}
