// SPDX-License-Identifier: MIT
// Composite ops with optional fused kernels: softmax, logSoftmax, gelu, silu, layerNorm,
// dropout. Each computes with the backend's fused kernel when present and willing (a kernel
// may decline by returning null), else with primitives (under noGrad), and records ONE node
// whose gradient rule lives in core, so gradients never depend on which path ran forward.
import type { DataId, StridedView } from '../backend.js';
import { hasFusedKernel, runFusedKernel, type FusedKernelName } from '../kernel-dispatch.js';
import { HeedError, fmtShape } from '../errors.js';
import { sizeOf } from '../shape.js';
import { checkAxis, checkBoolean, checkNumber, checkShape, describeValue } from '../validate.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { record } from '../autograd/record.js';
import { commonBackend, fromData } from './operands.js';
import { binary, unary } from './elementwise.js';
import { max, mean, sum, variance } from './reduce.js';
import { contiguous, reshape, transpose } from './views.js';
import { Generator, rand } from '../random.js';
import { tidy } from '../scope.js';

function disposeAll(...ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

/**
 * Runs the fused kernel `name` on a contiguous copy of `x` if the backend has it; when it is
 * missing or declines (returns null), runs `fallback` from primitives instead.
 */
function runFused(x: Tensor, name: FusedKernelName, call: (v: StridedView) => DataId | null, fallback: () => Tensor): Tensor {
  if (hasFusedKernel(x.backend, name)) {
    const c = noGrad(() => contiguous(x));
    let data: DataId | null;
    try {
      data = call(c.stridedView(name));
    } finally {
      c.dispose();
    }
    if (data !== null) return fromData(x.backend, data, x.shape, x.dtype);
  }
  return noGrad(() => tidy(fallback));
}

/** Applies a last-axis op along `axis` by moving that axis last and back. */
function alongAxis(x: Tensor, axis: number, op: string, lastAxisOp: (t: Tensor) => Tensor): Tensor {
  commonBackend(op, [x]);
  if (x.dtype !== 'float32') throw new HeedError(op, `expects a float32 tensor, got ${x.dtype} ${fmtShape(x.shape)}.`);
  const a = checkAxis(op, axis, x.rank);
  if (x.rank === 0) {
    const r = reshape(x, [1]);
    const y = lastAxisOp(r);
    const out = reshape(y, []);
    disposeAll(r, y);
    return out;
  }
  if (a === x.rank - 1) return lastAxisOp(x);
  const t = transpose(x, a, -1);
  const y = lastAxisOp(t);
  const out = transpose(y, a, -1);
  disposeAll(t, y);
  return out;
}

/**
 * Softmax along `axis` (default last): `exp(x) / sum(exp(x))`, computed stably.
 *
 * @example
 * ```ts
 * softmax(tensor([1, 2, 3])); // [0.090, 0.245, 0.665]
 * ```
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return alongAxis(x, axis, 'softmax', (t) => {
    const out = runFused(t, 'softmax', (v) => runFusedKernel(t.backend, 'softmax', v), () => {
      const m = max(t, { axis: -1, keepdim: true });
      const e = unary('exp', binary('sub', t, m));
      const s = sum(e, { axis: -1, keepdim: true });
      const y = binary('div', e, s);
      disposeAll(m, e, s);
      return y;
    });
    return record('softmax', [t], out, {});
  });
}

/**
 * Log-softmax along `axis` (default last): `x - logsumexp(x)`, computed stably.
 *
 * @example
 * ```ts
 * logSoftmax(tensor([0, 0])); // [-0.693, -0.693]
 * ```
 */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return alongAxis(x, axis, 'logSoftmax', (t) => {
    const out = runFused(t, 'logSoftmax', (v) => runFusedKernel(t.backend, 'logSoftmax', v), () => {
      const m = max(t, { axis: -1, keepdim: true });
      const shifted = binary('sub', t, m);
      const e = unary('exp', shifted);
      const s = sum(e, { axis: -1, keepdim: true });
      const l = unary('log', s);
      const y = binary('sub', shifted, l);
      disposeAll(m, shifted, e, s, l);
      return y;
    });
    return record('logSoftmax', [t], out, {});
  });
}

/**
 * GELU activation: exact `x * Φ(x)` (default) or the tanh approximation.
 *
 * @example
 * ```ts
 * gelu(tensor([1])); // [0.8413]
 * gelu(tensor([1]), 'tanh'); // [0.8412]
 * ```
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  commonBackend('gelu', [x]);
  if (x.dtype !== 'float32') throw new HeedError('gelu', `expects a float32 tensor, got ${x.dtype}.`);
  if (approximate !== 'none' && approximate !== 'tanh') throw new HeedError('gelu', `approximate must be 'none' or 'tanh', got '${String(approximate)}'.`);
  const out = runFused(x, 'gelu', (v) => runFusedKernel(x.backend, 'gelu', v, approximate), () => geluFallback(x, approximate));
  return record('gelu', [x], out, { approximate });
}

function geluFallback(x: Tensor, approximate: 'none' | 'tanh'): Tensor {
  let inner: Tensor;
  if (approximate === 'tanh') {
    const x3 = binary('mul', binary('mul', x, x), x);
    const arg = binary('mul', binary('add', x, binary('mul', x3, 0.044715)), Math.sqrt(2 / Math.PI));
    inner = unary('tanh', arg);
  } else {
    inner = unary('erf', binary('mul', x, Math.SQRT1_2));
  }
  return binary('mul', binary('mul', x, 0.5), binary('add', inner, 1));
}

/**
 * SiLU (swish) activation, `x * sigmoid(x)`.
 *
 * @example
 * ```ts
 * silu(tensor([0])); // [0]
 * ```
 */
export function silu(x: Tensor): Tensor {
  const s = unary('sigmoid', x);
  const out = binary('mul', x, s);
  s.dispose();
  return out;
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims, with optional affine
 * `weight`/`bias` of that shape (like `torch.nn.functional.layer_norm`).
 *
 * @example
 * ```ts
 * layerNorm(x, [x.shape.at(-1)!], gamma, beta, 1e-5);
 * ```
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const backend = commonBackend('layerNorm', [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])]);
  checkShape('layerNorm', normalizedShape, 'normalizedShape');
  checkNumber('layerNorm', 'eps', eps, { min: 0 });
  const k = normalizedShape.length;
  if (k === 0 || k > x.rank || normalizedShape.some((d, i) => d !== x.shape[x.rank - k + i])) {
    throw new HeedError('layerNorm', `normalizedShape ${fmtShape(normalizedShape)} must match the trailing dims of x ${fmtShape(x.shape)}.`);
  }
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && (p.rank !== k || p.shape.some((d, i) => d !== normalizedShape[i]))) {
      throw new HeedError('layerNorm', `${name} ${fmtShape(p.shape)} must have shape ${fmtShape(normalizedShape)}.`);
    }
  }
  const n = sizeOf(normalizedShape);
  const x2 = reshape(x, [...x.shape.slice(0, x.rank - k), n]);
  const w2 = weight ? reshape(weight, [n]) : null;
  const b2 = bias ? reshape(bias, [n]) : null;
  let data: DataId | null = null;
  if (hasFusedKernel(backend, 'layerNorm')) {
    // Fused kernels take contiguous inputs (weight and bias too: they may be strided views).
    const [cx, cw, cb] = noGrad(() => [contiguous(x2), w2 ? contiguous(w2) : null, b2 ? contiguous(b2) : null]);
    try {
      data = runFusedKernel(backend, 'layerNorm', cx.stridedView('layerNorm'), cw?.stridedView('layerNorm') ?? null, cb?.stridedView('layerNorm') ?? null, eps);
    } finally {
      for (const t of [cx, cw, cb]) t?.dispose();
    }
  }
  let y: Tensor;
  if (data !== null) {
    y = fromData(backend, data, x2.shape, 'float32');
  } else {
    y = noGrad(() => tidy(() => {
      const mu = mean(x2, { axis: -1, keepdim: true });
      const v = variance(x2, { axis: -1, keepdim: true, correction: 0 });
      const rstd = unary('rsqrt', binary('add', v, eps));
      let out = binary('mul', binary('sub', x2, mu), rstd);
      if (w2) out = binary('mul', out, w2);
      if (b2) out = binary('add', out, b2);
      return out;
    }));
  }
  const inputs = [x2, ...(w2 ? [w2] : []), ...(b2 ? [b2] : [])];
  record('layerNorm', inputs, y, { eps, hasWeight: !!w2, hasBias: !!b2 });
  const out = reshape(y, x.shape);
  disposeAll(y, ...inputs);
  return out;
}

/**
 * Randomly zeroes elements with probability `p` and scales the rest by `1/(1-p)` when
 * `training`; the identity otherwise.
 *
 * @example
 * ```ts
 * dropout(x, 0.1, true, new Generator(0));
 * ```
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator?: Generator): Tensor {
  commonBackend('dropout', [x]);
  if (!(p >= 0 && p <= 1)) throw new HeedError('dropout', `p must be in [0, 1], got ${describeValue(p)}.`);
  checkBoolean('dropout', 'training', training);
  if (generator !== undefined && !(generator instanceof Generator)) {
    throw new HeedError('dropout', `generator must be a Generator (new Generator(seed)), got ${describeValue(generator)}.`);
  }
  if (!training || p === 0) return binary('mul', x, 1);
  if (p === 1) return binary('mul', x, 0);
  const mask = noGrad(() => {
    const u = rand(x.shape, { backend: x.backend.name, generator });
    const keepMask = binary('ge', u, p);
    const scaled = binary('mul', keepMask, 1 / (1 - p));
    disposeAll(u, keepMask);
    return scaled;
  });
  const out = binary('mul', x, mask);
  mask.dispose();
  return out;
}
