// SPDX-License-Identifier: MIT
// Gradient clipping: `clipGradNorm` (rescale all gradients so their joint p-norm is at most
// maxNorm, like torch.nn.utils.clip_grad_norm_) and `clipGradValue` (clamp each element).
// Invariants: gradients are replaced in place with `grad.assign(...)` under noGrad; parameters
// without a gradient are skipped; no temporaries survive; no data is read back to the host
// (the total norm is returned as a tensor), except for the optional non-finite check.
import { HeedError, noGrad, scalar, stack, tidy, type Tensor } from '@heed/core';
import { paramTensors, type ParamSource } from './params.js';

/**
 * Options of {@link clipGradNorm}.
 *
 * @example
 * ```ts
 * clipGradNorm(model, 1.0, 2, { errorIfNonfinite: true });
 * ```
 */
export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or infinite (needs a backend with synchronous reads). */
  errorIfNonfinite?: boolean;
}

function gradsOf(op: string, params: ParamSource | Tensor): Tensor[] {
  return paramTensors(op, params).flatMap((p) => (p.grad ? [p.grad] : []));
}

/** The p-norm of one tensor as a 0-d tensor. */
function norm(g: Tensor, p: number | 'inf'): Tensor {
  if (p === 'inf') return g.abs().max();
  if (p === 2) return g.square().sum().sqrt();
  if (p === 1) return g.abs().sum();
  return g.abs().pow(p).sum().pow(1 / p);
}

/**
 * Rescales the gradients of `params` in place so that their total p-norm (the norm of the
 * vector of per-parameter norms) is at most `maxNorm`, exactly like
 * `torch.nn.utils.clip_grad_norm_`: `coef = min(1, maxNorm / (total + 1e-6))`. Returns the total
 * norm before clipping as a 0-d tensor (the caller disposes it). `normType` is any p > 0, or
 * `'inf'` for the max-abs norm.
 *
 * @example
 * ```ts
 * loss.backward();
 * const total = clipGradNorm(model, 1.0);
 * optimizer.step();
 * total.dispose();
 * ```
 */
export function clipGradNorm(params: ParamSource | Tensor, maxNorm: number, normType: number | 'inf' = 2, options: ClipGradNormOptions = {}): Tensor {
  const op = 'clipGradNorm';
  const p = normType;
  if (p !== 'inf' && !(typeof p === 'number' && p > 0 && Number.isFinite(p))) {
    throw new HeedError(op, `normType must be a positive number or 'inf', got ${String(p)}.`);
  }
  if (!(typeof maxNorm === 'number' && maxNorm >= 0)) throw new HeedError(op, `maxNorm must be a number >= 0, got ${String(maxNorm)}.`);
  const grads = gradsOf(op, params);
  if (grads.length === 0) return scalar(0);
  return noGrad(() => {
    const total = tidy(() => {
      const norms = grads.map((g) => norm(g, p));
      return norms.length === 1 ? norms[0] : norm(stack(norms), p);
    });
    if (options.errorIfNonfinite) {
      const backend = total.backend;
      if (!backend.capabilities.syncRead) {
        total.dispose();
        throw new HeedError(op, `errorIfNonfinite needs a synchronous read, which the '${backend.name}' backend lacks; check the returned norm with 'await norm.data()' instead.`);
      }
      const value = total.dataSync()[0];
      if (!Number.isFinite(value)) {
        total.dispose();
        throw new HeedError(op, `the total norm of order ${String(p)} of the gradients is ${value}, so they cannot be clipped. ` +
          'Set errorIfNonfinite: false to scale them anyway.');
      }
    }
    tidy(() => {
      const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp(undefined, 1);
      for (const g of grads) g.assign(g.mul(coef));
    });
    return total;
  });
}

/**
 * Clamps every gradient element of `params` into `[-clipValue, clipValue]`, in place (like
 * `torch.nn.utils.clip_grad_value_`).
 *
 * @example
 * ```ts
 * loss.backward();
 * clipGradValue(model, 0.5);
 * ```
 */
export function clipGradValue(params: ParamSource | Tensor, clipValue: number): void {
  const op = 'clipGradValue';
  if (!(typeof clipValue === 'number' && clipValue >= 0)) throw new HeedError(op, `clipValue must be a number >= 0, got ${String(clipValue)}.`);
  const grads = gradsOf(op, params);
  noGrad(() => tidy(() => {
    for (const g of grads) g.assign(g.clamp(-clipValue, clipValue));
  }));
}
