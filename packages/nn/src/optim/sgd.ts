// SPDX-License-Identifier: MIT
// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// step for step the algorithm of PyTorch's `torch.optim.SGD` (1.13).
// Invariant: the momentum buffer is created on a parameter's first step as a copy of the
// (decayed) gradient, and updated as `buf = momentum * buf + (1 - dampening) * g` afterwards.
import { HeedError, type Tensor } from '@heed/core';
import { checkRange, Optimizer, type BaseHyperParams, type CapturedStep, type OptimizerOptions, type ParamGroupSpec } from './optimizer.js';
import type { ParamSource } from './params.js';

/**
 * Hyperparameters of {@link SGD}.
 *
 * @example
 * ```ts
 * const h: SgdHyperParams = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, maximize: false };
 * ```
 */
export interface SgdHyperParams extends BaseHyperParams {
  /** Momentum factor (default 0: plain SGD). */
  momentum: number;
  /** Dampening of the momentum update (default 0). */
  dampening: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** Maximize the objective instead of minimizing it. */
  maximize: boolean;
}

/** SGD's per-parameter state. */
/**
 * Per-parameter state of SGD.
 *
 * @example
 * ```ts
 * const s = optimizer.stateDict().state[0] as SgdState;
 * ```
 */
export interface SgdState extends Record<string, Tensor | number> {
  momentumBuffer: Tensor;
}

/**
 * Options of the {@link SGD} constructor: the default hyperparameters (`lr` required) and the
 * optimizer options.
 *
 * @example
 * ```ts
 * const o: SgdOptions = { lr: 0.05, momentum: 0.9 };
 * ```
 */
export type SgdOptions = Partial<SgdHyperParams> & { lr: number } & OptimizerOptions;

/**
 * Stochastic gradient descent (optionally with momentum / Nesterov and weight decay), like
 * `torch.optim.SGD`:
 * `g = grad + weightDecay * p; buf = momentum * buf + (1 - dampening) * g;`
 * `p -= lr * (nesterov ? g + momentum * buf : buf)`.
 *
 * @example
 * ```ts
 * const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9, nesterov: true });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 * ```
 */
export class SGD extends Optimizer<SgdHyperParams, SgdState> {
  constructor(params: ParamSource | readonly ParamGroupSpec<SgdHyperParams>[], options: SgdOptions) {
    const { weightDecayFilter, ...hyper } = options;
    super('SGD', params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false, ...hyper }, { weightDecayFilter });
  }

  protected validate(h: SgdHyperParams): void {
    checkRange('SGD', 'lr', h.lr, 0);
    checkRange('SGD', 'momentum', h.momentum, 0);
    checkRange('SGD', 'dampening', h.dampening, 0, 1, true);
    checkRange('SGD', 'weightDecay', h.weightDecay, 0);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new HeedError('SGD', `Nesterov momentum needs momentum > 0 and dampening 0 (got momentum ${h.momentum}, dampening ${h.dampening}).`);
    }
  }

  protected update(p: Tensor, grad: Tensor, h: SgdHyperParams, state: SgdState | undefined, weightDecay: number, captured?: CapturedStep): { param: Tensor; state: SgdState | undefined } {
    const lr = captured ? captured.scalars.lr : h.lr;
    let g = h.maximize ? grad.neg() : grad;
    if (weightDecay !== 0) g = g.add(p.mul(weightDecay));
    if (h.momentum === 0) return { param: p.sub(g.mul(lr)), state: undefined };
    const buf = state ? state.momentumBuffer.mul(h.momentum).add(g.mul(1 - h.dampening)) : g.clone();
    const direction = h.nesterov ? g.add(buf.mul(h.momentum)) : buf;
    return { param: p.sub(direction.mul(lr)), state: { momentumBuffer: buf } };
  }

  protected override stepHostScalars(h: SgdHyperParams, _step: number): Record<string, number> {
    return { lr: h.lr };
  }
}
