// SPDX-License-Identifier: MIT
// Adam (with L2 weight decay folded into the gradient) and AdamW (decoupled weight decay),
// both with AMSGrad, step for step the algorithms of PyTorch 1.13's `torch.optim.Adam/AdamW`.
// Invariants: the step count is per parameter and starts at 1 on its first update; bias
// corrections are computed in float64 from it; moments are float32 tensors owned by the
// optimizer (state keys `step`, `expAvg`, `expAvgSq`, and `maxExpAvgSq` with AMSGrad).
// Without AMSGrad the moments and parameter are updated by core's `adamStep`, which uses the
// backend's fused one-pass kernel when it has one (the CPU fast path does). A capturable step
// (`step(scalars)`, for compile) takes lr/bias corrections as 0-d tensors and runs primitives
// in adamStep's reference order (`p - m / (sqrt(v) / bc2Sqrt + eps) * stepSize`), AMSGrad too.
import { adamStep, zerosLike, type Tensor } from '@heed/core';
import { checkRange, Optimizer, type BaseHyperParams, type CapturedStep, type OptimizerOptions, type ParamGroupSpec } from './optimizer.js';
import type { ParamSource } from './params.js';

/**
 * Hyperparameters of {@link Adam} and {@link AdamW}.
 *
 * @example
 * ```ts
 * const h: AdamHyperParams = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
 * ```
 */
export interface AdamHyperParams extends BaseHyperParams {
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps: number;
  /** Use the running maximum of the second moment (AMSGrad). */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it. */
  maximize: boolean;
}

/** Adam's per-parameter state. */
/**
 * Per-parameter state of Adam/AdamW.
 *
 * @example
 * ```ts
 * const s = optimizer.stateDict().state[0] as AdamState;
 * ```
 */
export interface AdamState extends Record<string, Tensor | number> {
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
}

/**
 * Options of the {@link Adam}/{@link AdamW} constructors: default hyperparameters plus the
 * optimizer options.
 *
 * @example
 * ```ts
 * const o: AdamOptions = { lr: 3e-4, betas: [0.9, 0.98], eps: 1e-9 };
 * ```
 */
export type AdamOptions = Partial<AdamHyperParams> & OptimizerOptions;

function validateAdam(name: string, h: AdamHyperParams): void {
  checkRange(name, 'lr', h.lr, 0);
  checkRange(name, 'eps', h.eps, 0);
  checkRange(name, 'weightDecay', h.weightDecay, 0);
  const betas: unknown = h.betas;
  if (!Array.isArray(betas) || betas.length !== 2) checkRange(name, 'betas', betas, 0, 1);
  checkRange(name, 'betas[0]', h.betas[0], 0, 1);
  checkRange(name, 'betas[1]', h.betas[1], 0, 1);
}

/** The shared Adam moment update; `decoupled` selects AdamW's weight decay. */
function adamUpdate(p: Tensor, grad: Tensor, h: AdamHyperParams, state: AdamState | undefined, weightDecay: number, decoupled: boolean, captured?: CapturedStep): { param: Tensor; state: AdamState } {
  const [beta1, beta2] = h.betas;
  const step = captured?.step ?? (state?.step ?? 0) + 1;
  let g = h.maximize ? grad.neg() : grad;
  let param = p;
  if (weightDecay !== 0) {
    if (decoupled) param = captured ? p.mul(captured.scalars.decay) : p.mul(1 - h.lr * weightDecay);
    else g = g.add(p.mul(weightDecay));
  }
  const m0 = state?.expAvg ?? zerosLike(p);
  const v0 = state?.expAvgSq ?? zerosLike(p);
  if (captured) return capturedAdam(param, g, m0, v0, h, state, step, captured);
  if (!h.amsgrad) {
    const r = adamStep(param, g, m0, v0, { lr: h.lr, beta1, beta2, eps: h.eps, step });
    return { param: r.param, state: { step, expAvg: r.expAvg, expAvgSq: r.expAvgSq } };
  }
  const expAvg = m0.mul(beta1).add(g.mul(1 - beta1));
  const expAvgSq = v0.mul(beta2).add(g.mul(g).mul(1 - beta2));
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** step);
  const stepSize = h.lr / biasCorrection1;
  // AMSGrad: the denominator uses the running maximum of the second moment.
  const second = previousMaximum(state, p).maximum(expAvgSq);
  const next: AdamState = { step, expAvg, expAvgSq, maxExpAvgSq: second };
  const denom = second.sqrt().div(biasCorrection2Sqrt).add(h.eps);
  return { param: param.sub(expAvg.div(denom).mul(stepSize)), state: next };
}

/**
 * AMSGrad's running maximum before this step: zeros on the first step, as in PyTorch, so the
 * state's `maxExpAvgSq` is always a tensor of its own (never the same tensor as `expAvgSq`,
 * which would make a compiled step's first trace see one buffer where later steps see two).
 */
function previousMaximum(state: AdamState | undefined, p: Tensor): Tensor {
  const previous = state?.maxExpAvgSq;
  return previous === undefined || typeof previous === 'number' ? zerosLike(p) : previous;
}

/** A capturable Adam/AMSGrad update: every per-step number comes from `captured.scalars`. */
function capturedAdam(param: Tensor, g: Tensor, m0: Tensor, v0: Tensor, h: AdamHyperParams, state: AdamState | undefined, step: number, captured: CapturedStep): { param: Tensor; state: AdamState } {
  const [beta1, beta2] = h.betas;
  const expAvg = m0.mul(beta1).add(g.mul(1 - beta1));
  const expAvgSq = v0.mul(beta2).add(g.square().mul(1 - beta2));
  const second = !h.amsgrad ? expAvgSq : previousMaximum(state, param).maximum(expAvgSq);
  const denom = second.sqrt().div(captured.scalars.bc2Sqrt).add(h.eps);
  const next: AdamState = h.amsgrad ? { step, expAvg, expAvgSq, maxExpAvgSq: second } : { step, expAvg, expAvgSq };
  return { param: param.sub(expAvg.div(denom).mul(captured.scalars.stepSize)), state: next };
}

/** Adam's per-step host numbers at step t: `stepSize = lr / (1 - beta1^t)`, `bc2Sqrt`, AdamW's `decay`. */
function adamHostScalars(h: AdamHyperParams, t: number, decoupled: boolean): Record<string, number> {
  const out: Record<string, number> = { stepSize: h.lr / (1 - h.betas[0] ** t), bc2Sqrt: Math.sqrt(1 - h.betas[1] ** t) };
  if (decoupled) out.decay = 1 - h.lr * h.weightDecay;
  return out;
}

const ADAM_DEFAULTS = { lr: 1e-3, betas: [0.9, 0.999] as const, eps: 1e-8, amsgrad: false, maximize: false };

/**
 * Adam, like `torch.optim.Adam`: weight decay is an L2 term added to the gradient
 * (`g += weightDecay * p`); prefer {@link AdamW} for decoupled decay.
 *
 * @example
 * ```ts
 * const opt = new Adam(model, { lr: 1e-3, betas: [0.9, 0.98], eps: 1e-9 });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class Adam extends Optimizer<AdamHyperParams, AdamState> {
  constructor(params: ParamSource | readonly ParamGroupSpec<AdamHyperParams>[], options: AdamOptions = {}) {
    const { weightDecayFilter, ...hyper } = options;
    super('Adam', params, { ...ADAM_DEFAULTS, weightDecay: 0, ...hyper }, { weightDecayFilter });
  }

  protected validate(h: AdamHyperParams): void {
    validateAdam('Adam', h);
  }

  protected update(p: Tensor, grad: Tensor, h: AdamHyperParams, state: AdamState | undefined, weightDecay: number, captured?: CapturedStep): { param: Tensor; state: AdamState } {
    return adamUpdate(p, grad, h, state, weightDecay, false, captured);
  }

  protected override stepHostScalars(h: AdamHyperParams, t: number): Record<string, number> {
    return adamHostScalars(h, t, false);
  }
}

/**
 * AdamW, like `torch.optim.AdamW`: decoupled weight decay `p *= 1 - lr * weightDecay` before the
 * Adam update (default weightDecay 0.01). Combine with `weightDecayFilter` (e.g.
 * `decayMatricesOnly`) to exempt biases and norm gains.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model, { lr: 3e-4, weightDecay: 0.1, weightDecayFilter: decayMatricesOnly });
 * ```
 */
export class AdamW extends Optimizer<AdamHyperParams, AdamState> {
  constructor(params: ParamSource | readonly ParamGroupSpec<AdamHyperParams>[], options: AdamOptions = {}) {
    const { weightDecayFilter, ...hyper } = options;
    super('AdamW', params, { ...ADAM_DEFAULTS, weightDecay: 1e-2, ...hyper }, { weightDecayFilter });
  }

  protected validate(h: AdamHyperParams): void {
    validateAdam('AdamW', h);
  }

  protected update(p: Tensor, grad: Tensor, h: AdamHyperParams, state: AdamState | undefined, weightDecay: number, captured?: CapturedStep): { param: Tensor; state: AdamState } {
    return adamUpdate(p, grad, h, state, weightDecay, true, captured);
  }

  protected override stepHostScalars(h: AdamHyperParams, t: number): Record<string, number> {
    return adamHostScalars(h, t, true);
  }
}
