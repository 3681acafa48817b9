// SPDX-License-Identifier: MIT
// Adam's step count as compile() keeps it: per parameter buffer (the buffer an `adam` kernel
// read as its param), the step t whose bias corrections produced it. Replays continue from it,
// and the eager calls of a compiled function (warm-up, recordings) have their bias corrections
// set from it, because a replay does not advance the optimizer's host-side step counter (nn's
// `state.step`): without this an eager call after replays would use a stale step.
// Invariant: `c1 = 1/(1-beta1^t)`, `c2 = 1/(1-beta2^t)` exactly as core's adamStep computes them.
import type { AdamScalars, DataId, StridedView } from '../backend.js';

const stepOf = new WeakMap<DataId, number>();

/**
 * @internal Adam's bias correction `1 / (1 - beta^t)`, as adamStep computes it.
 *
 * @example
 * ```ts
 * biasCorrection(0.9, 1); // 10
 * ```
 */
export const biasCorrection = (beta: number, t: number): number => 1 / (1 - beta ** t);

/**
 * @internal The step t whose bias corrections are `s`'s; 'saturated' when both are 1 (any late
 * step), undefined when no step gives them exactly.
 *
 * @example
 * ```ts
 * adamStepOf({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, c1: 10, c2: 1000.0000000000009 }); // 1
 * ```
 */
export function adamStepOf(s: AdamScalars): number | 'saturated' | undefined {
  if (s.c1 === 1 && s.c2 === 1) return 'saturated';
  const estimate = s.c2 !== 1 ? Math.log(1 - 1 / s.c2) / Math.log(s.beta2) : Math.log(1 - 1 / s.c1) / Math.log(s.beta1);
  if (!Number.isFinite(estimate)) return undefined;
  const t0 = Math.round(estimate);
  for (let t = Math.max(1, t0 - 3); t <= t0 + 3; t++) {
    if (biasCorrection(s.beta1, t) === s.c1 && biasCorrection(s.beta2, t) === s.c2) return t;
  }
  return undefined;
}

/**
 * @internal The step after the one that produced `param` (the buffer an adam call reads), or
 * undefined when compile() has not seen it produced.
 *
 * @example
 * ```ts
 * const t = nextAdamStep(paramBuffer) ?? recordedStep + r;
 * ```
 */
export function nextAdamStep(param: DataId): number | undefined {
  const t = stepOf.get(param);
  return t === undefined ? undefined : t + 1;
}

/**
 * @internal Notes that `param` (a new parameter buffer) came from Adam step `t`.
 *
 * @example
 * ```ts
 * noteAdamStep(newParam, 12);
 * ```
 */
export function noteAdamStep(param: DataId, t: number): void {
  stepOf.set(param, t);
}

/**
 * @internal Before an eager `adam` call of a compiled function: replaces the bias corrections
 * in `args` (mutable kernel arguments) by those of the step after the one that produced the
 * param buffer, when compile() knows it and it differs (the host counter fell behind replays).
 *
 * @example
 * ```ts
 * onKernel((_b, kernel, args) => { if (kernel === 'adam') correctAdamArgs(args as unknown[]); });
 * ```
 */
export function correctAdamArgs(args: unknown[]): void {
  const t = nextAdamStep((args[0] as StridedView).data);
  const s = args[4] as AdamScalars;
  if (t === undefined || adamStepOf(s) === t) return;
  args[4] = { ...s, c1: biasCorrection(s.beta1, t), c2: biasCorrection(s.beta2, t) };
}

/**
 * @internal After an eager `adam` call: notes the step of its new param buffer.
 *
 * @example
 * ```ts
 * noteAdamResult(args, result);
 * ```
 */
export function noteAdamResult(args: readonly unknown[], result: unknown): void {
  const t = adamStepOf(args[4] as AdamScalars);
  if (typeof t === 'number' && Array.isArray(result)) noteAdamStep(result[0] as DataId, t);
}
