// SPDX-License-Identifier: MIT
// Joining and splitting: concat, stack, split, chunk. concat is a primitive; stack is concat
// of unsqueezed views; split/chunk return narrow views (no copies).
import { checkBufferLimit } from '../backend.js';
import { promoteTypes } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { checkAxis, checkInt, checkNumel, describeValue } from '../validate.js';
import type { Tensor } from '../tensor.js';
import { record } from '../autograd/record.js';
import { commonBackend, fromData } from './operands.js';
import { cast } from './elementwise.js';
import { narrow, unsqueeze } from './views.js';
import { runKernel } from '../kernel-dispatch.js';

function checkTensorList(op: string, tensors: unknown): void {
  if (!Array.isArray(tensors) || tensors.length === 0) {
    throw new HeedError(op, `expects a non-empty array of tensors, got ${describeValue(tensors)}.`);
  }
}

/**
 * Joins tensors along an existing axis. Shapes must match except along `axis`; dtypes are
 * promoted.
 *
 * @example
 * ```ts
 * concat([zeros([2, 3]), ones([1, 3])], 0).shape; // [3, 3]
 * ```
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  checkTensorList('concat', tensors);
  const backend = commonBackend('concat', tensors);
  const first = tensors[0];
  const a = checkAxis('concat', axis, first.rank);
  if (first.rank === 0) throw new HeedError('concat', 'cannot concatenate scalars (rank 0); use stack() instead.');
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new HeedError('concat', `shapes ${tensors.map((x) => fmtShape(x.shape)).join(', ')} differ outside axis ${axis}; ` +
        'all dimensions but the concatenation axis must match.');
    }
  }
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  const shape = [...first.shape];
  shape[a] = tensors.reduce((n, t) => n + t.shape[a], 0);
  checkNumel('concat', shape);
  checkBufferLimit(backend, 'concat', shape, dtype);
  const inputs = tensors.map((t) => (t.dtype === dtype ? t : cast(t, dtype)));
  const data = runKernel(backend, 'concat', inputs.map((t) => t.stridedView('concat')), a);
  const out = record('concat', inputs, fromData(backend, data, shape, dtype), { axis: a, sizes: inputs.map((t) => t.shape[a]) });
  inputs.forEach((t, i) => { if (t !== tensors[i]) t.dispose(); });
  return out;
}

/**
 * Stacks same-shape tensors along a new axis.
 *
 * @example
 * ```ts
 * stack([zeros([3]), ones([3])], 0).shape; // [2, 3]
 * ```
 */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  checkTensorList('stack', tensors);
  commonBackend('stack', tensors);
  const first = tensors[0];
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => d !== first.shape[i])) {
      throw new HeedError('stack', `all tensors must have the same shape, got ${tensors.map((x) => fmtShape(x.shape)).join(', ')}.`);
    }
  }
  const a = checkAxis('stack', axis, first.rank + 1);
  const expanded = tensors.map((t) => unsqueeze(t, a));
  const out = concat(expanded, a);
  for (const t of expanded) t.dispose();
  return out;
}

/**
 * Splits into pieces along `axis`: of size `sizes` when it is a number (the last may be
 * smaller), or of the listed sizes. The pieces are views.
 *
 * @example
 * ```ts
 * split(arange(5), 2).map((t) => t.shape); // [[2], [2], [1]]
 * split(arange(5), [1, 4]).length; // 2
 * ```
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  commonBackend('split', [x]);
  const a = checkAxis('split', axis, x.rank);
  const dim = x.shape[a];
  let list: number[];
  if (typeof sizes !== 'number' && !Array.isArray(sizes)) {
    throw new HeedError('split', `sizes must be a positive integer or an array of non-negative integers, got ${describeValue(sizes)}.`);
  }
  if (typeof sizes === 'number') {
    if (!Number.isInteger(sizes) || sizes <= 0) throw new HeedError('split', `split size must be a positive integer, got ${sizes}.`);
    list = [];
    for (let s = 0; s < dim; s += sizes) list.push(Math.min(sizes, dim - s));
    if (dim === 0) list.push(0);
  } else {
    list = [...sizes];
    const total = list.reduce((p, q) => p + q, 0);
    if (total !== dim || list.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new HeedError('split', `sizes [${list.join(', ')}] must be non-negative integers summing to ${dim}, the size of axis ${axis} of ${fmtShape(x.shape)}.`);
    }
  }
  let start = 0;
  return list.map((len) => {
    const piece = narrow(x, a, start, len);
    start += len;
    return piece;
  });
}

/**
 * Splits into `chunks` nearly equal views along `axis` (like torch.chunk).
 *
 * @example
 * ```ts
 * chunk(zeros([6, 2]), 3).length; // 3
 * ```
 */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  commonBackend('chunk', [x]);
  checkInt('chunk', 'chunks', chunks, { min: 1 });
  const a = checkAxis('chunk', axis, x.rank);
  return split(x, Math.max(1, Math.ceil(x.shape[a] / chunks)), a);
}
