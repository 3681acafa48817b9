// SPDX-License-Identifier: MIT
// Index-driven ops: gather (torch.gather), indexSelect, scatterAdd and oneHot. Indices must be
// int32; out-of-range indices are rejected by the backend with the offending value (core does
// not read index values: they live on the device). oneHot scatters through the backend's
// scatterAdd primitive so that its classes get the same check.
import { checkBufferLimit, type StridedView } from '../backend.js';
import { HeedError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { record } from '../autograd/record.js';
import { checkAxis, checkNumel, describeValue } from '../validate.js';
import { commonBackend, fromData } from './operands.js';
import { binary } from './elementwise.js';
import { unsqueeze } from './views.js';
import { runKernel } from '../kernel-dispatch.js';

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'int32') {
    throw new HeedError(op, `index must be int32, got ${index.dtype} (shape ${fmtShape(index.shape)}); cast it with .int().`);
  }
}

/**
 * `out[i][j] = x[index[i][j]][j]` for axis 0 (and so on): picks values along `axis`.
 * `index` has the rank of `x`; other dims of `index` must not exceed those of `x`.
 *
 * @example
 * ```ts
 * gather(tensor([[1, 2], [3, 4]]), 1, tensor([[0, 0], [1, 0]], { dtype: 'int32' })); // [[1, 1], [4, 3]]
 * ```
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const backend = commonBackend('gather', [x, index]);
  checkIndex('gather', index);
  const a = checkAxis('gather', axis, x.rank);
  if (index.rank !== x.rank || index.shape.some((d, i) => i !== a && d > x.shape[i])) {
    throw new HeedError('gather', `index ${fmtShape(index.shape)} must have the rank of x ${fmtShape(x.shape)} and no larger size outside axis ${axis}.`);
  }
  checkBufferLimit(backend, 'gather', index.shape, x.dtype);
  const data = runKernel(backend, 'gather', x.stridedView('gather'), a, index.stridedView('gather'));
  return record('gather', [x, index], fromData(backend, data, index.shape, x.dtype), { axis: a });
}

/**
 * Selects entries of `x` along `axis` by a 1-D int32 `index` (like torch.index_select).
 *
 * @example
 * ```ts
 * indexSelect(embeddings, 0, tokenIds); // rows of an embedding table
 * ```
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  const backend = commonBackend('indexSelect', [x, index]);
  checkIndex('indexSelect', index);
  if (index.rank !== 1) throw new HeedError('indexSelect', `index must be 1-D, got ${fmtShape(index.shape)}; flatten it first.`);
  const a = checkAxis('indexSelect', axis, x.rank);
  const shape = [...x.shape];
  shape[a] = index.shape[0];
  checkBufferLimit(backend, 'indexSelect', shape, x.dtype);
  const data = runKernel(backend, 'indexSelect', x.stridedView('indexSelect'), a, index.stridedView('indexSelect'));
  return record('indexSelect', [x, index], fromData(backend, data, shape, x.dtype), { axis: a });
}

/**
 * Returns `x` plus `src` scattered along `axis` at `index` (like torch.scatter_add, not in place).
 * `index` and `src` have the same shape.
 *
 * @example
 * ```ts
 * scatterAdd(zeros([3]), 0, tensor([0, 0, 2], { dtype: 'int32' }), tensor([1, 2, 3])); // [3, 0, 3]
 * ```
 */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const backend = commonBackend('scatterAdd', [x, index, src]);
  checkIndex('scatterAdd', index);
  const a = checkAxis('scatterAdd', axis, x.rank);
  if (src.dtype !== x.dtype) throw new HeedError('scatterAdd', `src dtype ${src.dtype} must equal x dtype ${x.dtype}.`);
  if (index.rank !== x.rank || index.shape.some((d, i) => d !== src.shape[i] || (i !== a && d > x.shape[i]))) {
    throw new HeedError('scatterAdd', `index ${fmtShape(index.shape)} and src ${fmtShape(src.shape)} must have equal shapes, ` +
      `with the rank of x ${fmtShape(x.shape)} and no larger size outside axis ${axis}.`);
  }
  const scattered = fromData(backend, runKernel(backend, 'scatterAdd', x.shape, a, index.stridedView('scatterAdd'), src.stridedView('scatterAdd')), x.shape, x.dtype);
  const withSrc = record('scatterAdd', [src, index], scattered, { axis: a });
  const out = binary('add', x, withSrc);
  withSrc.dispose();
  return out;
}

/**
 * One-hot encoding of int32 class indices: shape `[...index.shape, numClasses]`, float32.
 * `numClasses` must be positive, or -1 (the default) to use the largest class + 1 (this
 * reads the index values, so it needs a backend with synchronous reads). Classes outside
 * `0..numClasses-1` are rejected by the backend like gather's indices (a GPU kernel cannot
 * raise: there such classes give rows of zeros).
 *
 * @example
 * ```ts
 * oneHot(tensor([0, 2], { dtype: 'int32' }), 3); // [[1, 0, 0], [0, 0, 1]]
 * ```
 */
export function oneHot(index: Tensor, numClasses = -1): Tensor {
  const backend = commonBackend('oneHot', [index]);
  checkIndex('oneHot', index);
  if (!Number.isInteger(numClasses) || (numClasses <= 0 && numClasses !== -1)) {
    throw new HeedError('oneHot', `numClasses must be a positive integer, or -1 to infer it from the largest class; got ${describeValue(numClasses)}.`);
  }
  const classes = numClasses === -1 ? inferClasses(index) : numClasses;
  const shape = [...index.shape, classes];
  checkNumel('oneHot', shape);
  checkBufferLimit(backend, 'oneHot', shape, 'float32');
  const col = unsqueeze(index, -1);
  const one = runKernel(backend, 'fill', 1, 1, 'float32');
  const ones: StridedView = { data: one, dtype: 'float32', shape: col.shape, strides: col.shape.map(() => 0), offset: 0 };
  try {
    return fromData(backend, runKernel(backend, 'scatterAdd', shape, index.rank, col.stridedView('oneHot'), ones), shape, 'float32');
  } catch (e) {
    if (!(e instanceof HeedError)) throw e;
    const found = e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
    throw new HeedError('oneHot', `every class must lie in 0..${classes - 1} for numClasses ${classes}, but one does not ` +
      `(index shape ${fmtShape(index.shape)}; positions below end with a 0 for the class axis): ${found}`);
  } finally {
    runKernel(backend, 'free', one);
    col.dispose();
  }
}

/** numClasses = -1: the largest class + 1, read synchronously from the index values. */
function inferClasses(index: Tensor): number {
  if (index.size === 0) {
    throw new HeedError('oneHot', `cannot infer numClasses from an empty index tensor (shape ${fmtShape(index.shape)}); pass numClasses explicitly.`);
  }
  if (!index.backend.capabilities.syncRead) {
    throw new HeedError('oneHot', `numClasses -1 infers the class count by reading the index values, which the '${index.backend.name}' ` +
      'backend cannot do synchronously; pass numClasses explicitly, e.g. (await index.max().item()) + 1.');
  }
  let top = 0;
  for (const v of index.dataSync()) top = Math.max(top, v);
  return top + 1;
}
