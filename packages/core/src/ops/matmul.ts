// SPDX-License-Identifier: MIT
// Matrix product with PyTorch semantics: 1-D operands are promoted and squeezed back, batch
// dimensions broadcast. The backend sees rank-3 strided views (rank 4, two batch dims, where its
// capabilities.matmulBatchDims is 2), so transposed operands, broadcast batches and permuted
// attention heads reach the kernel without copies whenever the layout allows.
import { checkBufferLimit, type DataId, type StridedView } from '../backend.js';
import { isFloatDType } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes, broadcastStrides, sizeOf, viewStrides } from '../shape.js';
import { coalesceDims } from '../layout.js';
import type { Tensor } from '../tensor.js';
import { record } from '../autograd/record.js';
import { checkNumel } from '../validate.js';
import { commonBackend, fromData } from './operands.js';
import { reshape, unsqueeze } from './views.js';
import { runKernel } from '../kernel-dispatch.js';

/** `t`'s shape broadcast to `batch` (plus its matrix dims) and its strides over that shape. */
function broadcastLayout(t: Tensor, batch: readonly number[]): { full: number[]; strides: number[] } {
  const full = [...batch, t.shape[t.rank - 2], t.shape[t.rank - 1]];
  return { full, strides: broadcastStrides(t.shape, t.strides, full) };
}

/**
 * Rank-4 `[B1, B2, rows, cols]` views of both operands when the backend takes two batch dims
 * and their joint batch layout coalesces to exactly two (attention heads permuted out of
 * `[B, T, H, D]`: batch strides (T*H*D, D) never merge into one); null otherwise.
 */
function twoBatchViews(a: Tensor, b: Tensor, batch: readonly number[], op: string): [StridedView, StridedView] | null {
  if (a.backend.capabilities.matmulBatchDims !== 2 || batch.length < 2) return null;
  const la = broadcastLayout(a, batch), lb = broadcastLayout(b, batch);
  const r = batch.length;
  const joint = coalesceDims(batch, [la.strides.slice(0, r), lb.strides.slice(0, r)]);
  if (joint.shape.length !== 2) return null;
  const view = (t: Tensor, l: { full: number[]; strides: number[] }, k: number): StridedView => ({
    ...t.stridedView(op), shape: [...joint.shape, ...l.full.slice(r)], strides: [...joint.strides[k], ...l.strides.slice(r)],
  });
  return [view(a, la, 0), view(b, lb, 1)];
}

/** A rank-3 [B, rows, cols] view of `t` broadcast to `batch`, copying only if unavoidable. */
function batchedView(t: Tensor, batch: readonly number[], op: string): { view: StridedView; free: () => void } {
  const rows = t.shape[t.rank - 2];
  const cols = t.shape[t.rank - 1];
  const { full, strides } = broadcastLayout(t, batch);
  const target = [sizeOf(batch), rows, cols];
  const merged = viewStrides(full, strides, target);
  const base = t.stridedView(op);
  if (merged) return { view: { ...base, shape: target, strides: merged }, free: () => undefined };
  checkBufferLimit(t.backend, op, full, t.dtype);
  const data = runKernel(t.backend, 'copy', { ...base, shape: full, strides });
  return { view: { data, dtype: t.dtype, shape: target, strides: [rows * cols, cols, 1], offset: 0 }, free: () => runKernel(t.backend, 'free', data) };
}

/**
 * Matrix product (like `torch.matmul`): dot product for 1-D x 1-D, matrix-vector products,
 * and batched products whose batch dimensions broadcast.
 *
 * @example
 * ```ts
 * matmul(ones([2, 3]), ones([3, 4])).shape; // [2, 4]
 * matmul(ones([5, 2, 3]), ones([3, 4])).shape; // [5, 2, 4]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const backend = commonBackend('matmul', [a, b]);
  if (a.rank === 0 || b.rank === 0) {
    throw new HeedError('matmul', `both operands need at least 1 dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}; use mul() for scalars.`);
  }
  if (!isFloatDType(a.dtype) || !isFloatDType(b.dtype)) {
    throw new HeedError('matmul', `expects float32 operands, got ${a.dtype} ${fmtShape(a.shape)} and ${b.dtype} ${fmtShape(b.shape)}; cast with .float().`);
  }
  const k = a.shape[a.rank - 1];
  const kb = b.rank === 1 ? b.shape[0] : b.shape[b.rank - 2];
  if (kb !== k) {
    throw new HeedError('matmul', `inner dimensions do not match: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} ` +
      `(${k} vs ${kb}); the last dim of the first operand must equal the second-to-last of the second.`);
  }
  const batchA = a.rank > 2 ? a.shape.slice(0, -2) : [];
  const batchB = b.rank > 2 ? b.shape.slice(0, -2) : [];
  let batch: number[];
  try {
    batch = broadcastShapes('matmul', batchA, batchB);
  } catch {
    throw new HeedError('matmul', `batch dimensions of ${fmtShape(a.shape)} and ${fmtShape(b.shape)} cannot be broadcast ` +
      `(${fmtShape(batchA)} vs ${fmtShape(batchB)}); make them equal or 1.`);
  }
  const m = a.rank === 1 ? 1 : a.shape[a.rank - 2];
  const n = b.rank === 1 ? 1 : b.shape[b.rank - 1];
  checkNumel('matmul', [...batch, m, n]);
  checkBufferLimit(backend, 'matmul', [...batch, m, n], 'float32');
  const a2 = a.rank === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.rank === 1 ? unsqueeze(b, 1) : b;
  let data: DataId;
  const flat = (t: Tensor): boolean => { const l = broadcastLayout(t, batch); return viewStrides(l.full, l.strides, [sizeOf(batch), ...l.full.slice(-2)]) !== null; };
  const two = flat(a2) && flat(b2) ? null : twoBatchViews(a2, b2, batch, 'matmul');
  if (two !== null) {
    data = runKernel(backend, 'matmul', two[0], two[1]);
  } else {
    const va = batchedView(a2, batch, 'matmul');
    const vb = batchedView(b2, batch, 'matmul');
    data = runKernel(backend, 'matmul', va.view, vb.view);
    va.free();
    vb.free();
  }
  const out = record('matmul', [a2, b2], fromData(backend, data, [...batch, m, n], 'float32'), {});
  let result = out;
  if (a.rank === 1 || b.rank === 1) {
    const shape = [...batch, ...(a.rank === 1 ? [] : [m]), ...(b.rank === 1 ? [] : [n])];
    result = reshape(out, shape);
    out.dispose();
  }
  if (a2 !== a) a2.dispose();
  if (b2 !== b) b2.dispose();
  return result;
}
