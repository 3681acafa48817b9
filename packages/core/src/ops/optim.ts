// SPDX-License-Identifier: MIT
// Optimizer update ops: `adamStep` computes one Adam step (new parameter and moments) with the
// backend's fused kernel when it has one and does not decline it (one pass over memory), else
// with primitives. It is
// an update, not a differentiable op: it records nothing and refuses inputs that would need a
// gradient while gradients are being recorded.
import type { AdamScalars, DataId } from '../backend.js';
import { HeedError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled, noGrad } from '../autograd/mode.js';
import { commonBackend, fromData } from './operands.js';
import { binary, unary } from './elementwise.js';
import { contiguous } from './views.js';
import { tidy } from '../scope.js';
import { checkNumber, checkOptions, type OptionKeys } from '../validate.js';
import { hasFusedKernel, runFusedKernel } from '../kernel-dispatch.js';

const ADAM_KEYS: OptionKeys<AdamStepOptions> = { lr: true, beta1: true, beta2: true, eps: true, step: true };

/**
 * Hyper-parameters of {@link adamStep}.
 *
 * @example
 * ```ts
 * const opts: AdamStepOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 };
 * ```
 */
export interface AdamStepOptions {
  /** Learning rate. */
  readonly lr: number;
  /** Decay of the first moment, in [0, 1). */
  readonly beta1: number;
  /** Decay of the second moment, in [0, 1). */
  readonly beta2: number;
  /** Added to the denominator. */
  readonly eps: number;
  /** The 1-based number of this step (for the bias corrections). */
  readonly step: number;
}

/**
 * The results of {@link adamStep}: new tensors, the inputs are left unchanged.
 *
 * @example
 * ```ts
 * const { param, expAvg, expAvgSq }: AdamStepResult = adamStep(p, g, m, v, opts);
 * ```
 */
export interface AdamStepResult {
  readonly param: Tensor;
  readonly expAvg: Tensor;
  readonly expAvgSq: Tensor;
}

/**
 * One Adam step exactly as `torch.optim.Adam` computes it (without weight decay, amsgrad or
 * maximize, which callers apply around it): `m' = beta1 m + (1 - beta1) g`,
 * `v' = beta2 v + (1 - beta2) g^2`, `param' = param - lr / (1 - beta1^t) * m' /
 * (sqrt(v') / sqrt(1 - beta2^t) + eps)`. Uses the backend's fused `adam` kernel when present
 * (and primitives when it is missing or declines).
 * All four tensors must be float32 with the same shape on one backend.
 *
 * @example
 * ```ts
 * const p = tensor([1, 2]), g = tensor([0.1, -0.2]), m = zeros([2]), v = zeros([2]);
 * const r = adamStep(p, g, m, v, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
 * await r.param.data(); // [0.9, 2.1]
 * ```
 */
export function adamStep(param: Tensor, grad: Tensor, expAvg: Tensor, expAvgSq: Tensor, options: AdamStepOptions): AdamStepResult {
  const backend = commonBackend('adamStep', [param, grad, expAvg, expAvgSq]);
  const named = [['param', param], ['grad', grad], ['expAvg', expAvg], ['expAvgSq', expAvgSq]] as const;
  for (const [name, t] of named) {
    if (t.dtype !== 'float32') throw new HeedError('adamStep', `${name} must be float32, got ${t.dtype} ${fmtShape(t.shape)}; cast with .float().`);
    if (t.shape.length !== param.shape.length || t.shape.some((d, i) => d !== param.shape[i])) {
      throw new HeedError('adamStep', `${name} has shape ${fmtShape(t.shape)} but param has ${fmtShape(param.shape)}; all four must match.`);
    }
    if (isGradEnabled() && t.requiresGrad) {
      throw new HeedError('adamStep', `${name} requires grad; an optimizer update is not differentiable: call it inside noGrad().`);
    }
  }
  const o = checkOptions('adamStep', options, ADAM_KEYS);
  const lr = checkNumber('adamStep', 'lr', o.lr);
  const eps = checkNumber('adamStep', 'eps', o.eps, { min: 0 });
  const { beta1, beta2, step } = o as AdamStepOptions;
  if (!(step >= 1) || !Number.isInteger(step)) throw new HeedError('adamStep', `step must be a positive integer, got ${step}.`);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
    throw new HeedError('adamStep', `betas must lie in [0, 1), got ${beta1} and ${beta2}.`);
  }
  const scalars: AdamScalars = { lr, beta1, beta2, eps, c1: 1 / (1 - beta1 ** step), c2: 1 / (1 - beta2 ** step) };
  if (hasFusedKernel(backend, 'adam')) {
    const views = noGrad(() => named.map(([, t]) => contiguous(t)));
    let fused: [DataId, DataId, DataId] | null;
    try {
      const [vp, vg, vm, vv] = views.map((t) => t.stridedView('adamStep'));
      fused = runFusedKernel(backend, 'adam', vp, vg, vm, vv, scalars);
    } finally {
      for (const t of views) t.dispose();
    }
    if (fused !== null) {
      const [p, m, v] = fused;
      return {
        param: fromData(backend, p, param.shape, 'float32'),
        expAvg: fromData(backend, m, param.shape, 'float32'),
        expAvgSq: fromData(backend, v, param.shape, 'float32'),
      };
    }
  }
  return noGrad(() => {
    const m = tidy(() => binary('add', binary('mul', expAvg, beta1), binary('mul', grad, 1 - beta1)));
    const v = tidy(() => binary('add', binary('mul', expAvgSq, beta2), binary('mul', unary('square', grad), 1 - beta2)));
    const p = tidy(() => {
      const denom = binary('add', binary('div', unary('sqrt', v), Math.sqrt(1 - beta2 ** step)), eps);
      return binary('sub', param, binary('mul', binary('div', m, denom), lr * scalars.c1));
    });
    return { param: p, expAvg: m, expAvgSq: v };
  });
}
