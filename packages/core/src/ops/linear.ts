// SPDX-License-Identifier: MIT
// `linear` (torch.nn.functional.linear): `x @ weight^T + bias`. Where the backend has the fused
// `linear` kernel (the bias added in the GEMM's epilogue, e.g. the native CPU path), the forward
// is one dispatch; otherwise, or when the kernel declines, matmul + add. The gradients are
// core's either way (dx = dy W, dW = dy^T x, db = sum of dy), so they never depend on which
// path ran the forward.
import { HeedError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { customGrad } from '../autograd/api.js';
import { noGrad } from '../autograd/mode.js';
import { hasFusedKernel, runFusedKernel } from '../kernel-dispatch.js';
import { tidy } from '../scope.js';
import { commonBackend, fromData } from './operands.js';
import { binary } from './elementwise.js';
import { matmul } from './matmul.js';
import { sum } from './reduce.js';
import { reshape, transpose } from './views.js';

/** The composite: matmul with the transposed weight, then the broadcast bias add. */
function linearFromPrimitives(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  return tidy(() => {
    const y = matmul(x, transpose(weight, 0, 1));
    return bias ? binary('add', y, bias) : y;
  });
}

/** Whether the fused kernel may run: float32, x [..., K], weight [N, K], bias exactly [N]. */
function fusable(x: Tensor, weight: Tensor, bias: Tensor | null): boolean {
  if (!hasFusedKernel(x.backend, 'linear') || x.rank < 1) return false;
  const k = x.shape[x.rank - 1];
  const n = weight.shape[0];
  const f32 = (t: Tensor) => t.dtype === 'float32';
  return f32(x) && f32(weight) && weight.shape[1] === k && (bias === null || (f32(bias) && bias.rank === 1 && bias.shape[0] === n));
}

/** The forward without autograd: the fused kernel on x flattened to [M, K], or the composite. */
function linearForward(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const n = weight.shape[0];
  const outShape = [...x.shape.slice(0, -1), n];
  const x2 = reshape(x, [-1, x.shape[x.rank - 1]]);
  try {
    const data = runFusedKernel(x.backend, 'linear', x2.stridedView('linear'), weight.stridedView('linear'), bias?.stridedView('linear') ?? null);
    if (data !== null) return fromData(x.backend, data, outShape, 'float32');
  } finally {
    x2.dispose();
  }
  return noGrad(() => linearFromPrimitives(x, weight, bias));
}

const linearFused = customGrad((...ts: Tensor[]) => ({
  value: linearForward(ts[0], ts[1], ts[2] ?? null),
  backward: (dy: Tensor, saved: Tensor[]) => {
    const [x, weight, bias] = saved;
    const k = x.shape[x.rank - 1];
    const n = weight.shape[0];
    return [
      x.requiresGrad ? matmul(dy, weight) : null,
      weight.requiresGrad ? tidy(() => matmul(transpose(reshape(dy, [-1, n]), 0, 1), reshape(x, [-1, k]))) : null,
      ...(bias ? [bias.requiresGrad ? tidy(() => sum(reshape(dy, [-1, n]), { axis: 0 })) : null] : []),
    ];
  },
}));

/**
 * `x @ weight^T + bias` (like `torch.nn.functional.linear`); weight is `[out, in]`. One fused
 * kernel where the backend has one (the bias is the GEMM's epilogue), else matmul + add.
 *
 * @example
 * ```ts
 * linear(ones([8, 4]), ones([3, 4]), zeros([3])).shape; // [8, 3]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  commonBackend('linear', bias ? [x, weight, bias] : [x, weight]);
  if (weight.rank !== 2) throw new HeedError('linear', `weight must be 2-D [out, in], got ${fmtShape(weight.shape)}.`);
  const b = bias ?? null;
  if (fusable(x, weight, b)) return b ? linearFused(x, weight, b) : linearFused(x, weight);
  return linearFromPrimitives(x, weight, b);
}
