// SPDX-License-Identifier: MIT
// Moving tensors between backends: a copy through host memory. Gradients flow back across the
// move (recorded as a custom op that moves the gradient the other way).
import { checkBufferLimit } from '../backend.js';
import { HeedError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { findBackend, initBackend } from '../registry.js';
import { record } from '../autograd/record.js';
import { checkBackendName } from '../validate.js';
import { commonBackend, fromData } from './operands.js';
import { runKernel } from '../kernel-dispatch.js';

function connect(x: Tensor, out: Tensor): Tensor {
  const source = x.backend.name;
  return record('custom', [x], out, {
    backward: (dy) => {
      if (dy.backend.name !== source && !dy.backend.capabilities.syncRead) {
        throw new HeedError('backward', `the gradient must move from '${dy.backend.name}' back to '${source}', but '${dy.backend.name}' ` +
          'cannot read synchronously, and backward() is synchronous. Compute the loss on the backend that holds the parameters, ' +
          'or move the parameters instead of the activations.');
      }
      return [toBackend(dy, source)];
    },
  });
}

/**
 * Copies `x` to the backend named `name` (synchronous: the source must support sync reads,
 * e.g. CPU; otherwise use {@link toBackendAsync}).
 *
 * @example
 * ```ts
 * const onGpu = toBackend(cpuTensor, 'webgpu');
 * ```
 */
export function toBackend(x: Tensor, name: string): Tensor {
  commonBackend('to', [x]);
  const target = findBackend(checkBackendName('to', name));
  if (target === x.backend) return connect(x, fromData(target, runKernel(target, 'copy', x.stridedView('to')), x.shape, x.dtype));
  if (!x.backend.capabilities.syncRead) {
    throw new HeedError('to', `the '${x.backend.name}' backend cannot read synchronously; use 'await x.toAsync("${name}")'.`);
  }
  checkBufferLimit(target, 'to', x.shape, x.dtype);
  const values = x.dataSync();
  return connect(x, fromData(target, runKernel(target, 'upload', values, x.dtype), x.shape, x.dtype));
}

/**
 * Copies `x` to the backend named `name`, awaiting the read-back.
 *
 * @example
 * ```ts
 * const onCpu = await toBackendAsync(gpuTensor, 'cpu');
 * ```
 */
export async function toBackendAsync(x: Tensor, name: string): Promise<Tensor> {
  commonBackend('toAsync', [x]);
  const target = await initBackend(checkBackendName('toAsync', name));
  checkBufferLimit(target, 'toAsync', x.shape, x.dtype);
  const values = await x.data();
  return connect(x, fromData(target, runKernel(target, 'upload', values, x.dtype), x.shape, x.dtype));
}
