// SPDX-License-Identifier: MIT
// Shared plumbing for ops: checking inputs (alive, one backend), wrapping a kernel's new
// buffer into a Tensor, making zero-copy views, and turning numbers into scalar tensors.
import type { Backend, DataId } from '../backend.js';
import type { DType } from '../dtype.js';
import { HeedError, fmtShape } from '../errors.js';
import { contiguousStrides, sizeOf, type Shape } from '../shape.js';
import { Storage } from '../storage.js';
import { Tensor } from '../tensor.js';
import { getBackend } from '../registry.js';
import { describeValue } from '../validate.js';
import { runKernel } from '../kernel-dispatch.js';

/**
 * A tensor, or a plain number that ops treat as a scalar tensor.
 *
 * @example
 * ```ts
 * const a: TensorLike = 2;
 * x.mul(a);
 * ```
 */
export type TensorLike = Tensor | number;

/** Wraps a new contiguous buffer from a kernel as a tensor (no grad node). */
export function fromData(backend: Backend, data: DataId, shape: Shape, dtype: DType): Tensor {
  return new Tensor(new Storage(backend, data, sizeOf(shape), dtype), shape, contiguousStrides(shape), 0, null);
}

/** A new view sharing `x`'s storage (no grad node; the caller records one). */
export function makeView(x: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  return new Tensor(x.storage.retain(), shape, strides, offset, null);
}

/** Checks that all tensors are alive and on one backend; returns it. */
export function commonBackend(op: string, tensors: readonly Tensor[]): Backend {
  let backend: Backend | null = null;
  for (const t of tensors) {
    if (!(t instanceof Tensor)) {
      throw new HeedError(op, `expected a Tensor but got ${describe(t)}.`);
    }
    t.assertLive(op);
    if (backend === null) backend = t.backend;
    else if (t.backend !== backend) {
      throw new HeedError(op, `inputs live on different backends ('${backend.name}' and '${t.backend.name}'), ` +
        `shapes ${tensors.map((x) => fmtShape(x.shape)).join(', ')}. Move them to one backend with .to('${backend.name}').`);
    }
  }
  return backend ?? getBackend();
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'an array (wrap it with tensor(...))' : describeValue(v);
}

/** The dtype a JS number takes next to a tensor of `other` (PyTorch's "weak" scalar rule). */
export function scalarDType(value: number, other: DType): DType {
  if (!Number.isInteger(value) || !Number.isFinite(value)) return 'float32';
  return other === 'bool' ? 'int32' : other;
}

/** A 0-d tensor holding `value` on `backend`. */
export function scalarTensor(backend: Backend, value: number, dtype: DType): Tensor {
  return fromData(backend, runKernel(backend, 'fill', 1, value, dtype), [], dtype);
}

/**
 * Converts operands that may be numbers into tensors on one backend (that of the tensor
 * operands; `home` when all are numbers, e.g. the backend of `where`'s condition; else the
 * current one). Returns the tensors and which of them were created here (the caller disposes those).
 */
export function toTensors(op: string, operands: readonly TensorLike[], home?: Backend): { tensors: Tensor[]; temps: Tensor[] } {
  const real = operands.filter((o): o is Tensor => o instanceof Tensor);
  for (const o of operands) {
    if (!(o instanceof Tensor) && typeof o !== 'number') throw new HeedError(op, `expected a Tensor or number but got ${describe(o)}.`);
  }
  const backend = real.length === 0 && home ? home : commonBackend(op, real);
  const anchor = real.length > 0 ? real[0].dtype : 'float32';
  const temps: Tensor[] = [];
  const tensors = operands.map((o) => {
    if (o instanceof Tensor) return o;
    const t = scalarTensor(backend, o, scalarDType(o, anchor));
    temps.push(t);
    return t;
  });
  return { tensors, temps };
}
