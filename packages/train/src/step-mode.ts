// SPDX-License-Identifier: MIT
// How a training script runs its steps: compiled (one `compile()`d, replayed function per
// batch shape, see `trainLoop({ compiled })`) or eager, the one startup line that says so, and
// the closing report of how the steps went (steps/s, the compiled step's replays).
// Invariants: a step is compiled only when it was asked for and no blocker applies; the first
// blocker that applies is the reason printed; the line always starts with `step: `.
import { DEFAULT_MAX_TRACES } from '@heed/core';
import type { TrainLoopResult } from './loop.js';

/**
 * Why a compiled step cannot run (`when` true) and the reason printed for the eager fallback.
 *
 * @example
 * ```ts
 * const b: StepModeBlocker = { when: worldSize > 1, reason: `${worldSize} ranks: the gradient all-reduce runs between backward and the update` };
 * ```
 */
export interface StepModeBlocker {
  when: boolean;
  reason: string;
}

/**
 * What {@link chooseStepMode} decided: `compiled`, and the startup line (`step: compiled (...)`
 * or `step: eager (...)`).
 *
 * @example
 * ```ts
 * const { compiled, line }: StepMode = chooseStepMode({ compile: true, blockers: [] });
 * ```
 */
export interface StepMode {
  compiled: boolean;
  line: string;
}

/**
 * Options of {@link chooseStepMode}.
 *
 * @example
 * ```ts
 * const o: StepModeOptions = { compile: opts.compile, blockers: [{ when: opts.ranks > 1, reason: 'data-parallel ranks' }], detail: 'one trace' };
 * ```
 */
export interface StepModeOptions {
  /** Whether compiled steps were asked for (the scripts' `--compile`, on by default; `--no-compile` turns it off). */
  compile: boolean;
  /** Why the step is eager when `compile` is false (default `'--no-compile'`; an opt-in script: e.g. `'the default here; --compile for compiled steps'`). */
  off?: string;
  /** Conditions under which the step stays eager; the first that applies is printed. */
  blockers: readonly StepModeBlocker[];
  /** What the compiled step does with the batches' shapes (printed in the line, e.g. `one trace, batches padded to 14/11 tokens`). */
  detail?: string;
  /** The trace cache size (`compile`'s `maxTraces`; default `DEFAULT_MAX_TRACES`). */
  maxTraces?: number;
}

/**
 * Decides whether the training steps run compiled, with the startup line that says which and
 * why: `step: compiled (<detail>; trace cache 8; --no-compile for eager steps)`,
 * `step: eager (--no-compile)` (or `off`'s reason) or `step: eager (<blocker's reason>)`.
 *
 * @example
 * ```ts
 * const mode = chooseStepMode({ compile: true, blockers: [{ when: false, reason: '2 ranks' }], detail: 'one trace' });
 * mode.compiled; // true
 * mode.line; // 'step: compiled (one trace; trace cache 8; --no-compile for eager steps)'
 * chooseStepMode({ compile: true, blockers: [{ when: true, reason: '2 ranks' }] }).line; // 'step: eager (2 ranks)'
 * ```
 */
export function chooseStepMode(o: StepModeOptions): StepMode {
  if (!o.compile) return { compiled: false, line: `step: eager (${o.off ?? '--no-compile'})` };
  const blocker = o.blockers.find((b) => b.when);
  if (blocker) return { compiled: false, line: `step: eager (${blocker.reason})` };
  const parts = [...(o.detail ? [o.detail] : []), `trace cache ${o.maxTraces ?? DEFAULT_MAX_TRACES}`, '--no-compile for eager steps'];
  return { compiled: true, line: `step: compiled (${parts.join('; ')})` };
}

/**
 * What {@link stepReport} says about a finished {@link trainLoop} run.
 *
 * @example
 * ```ts
 * const { stepsPerSecond, compiledLine }: StepReport = stepReport(result, endStep - startStep);
 * ```
 */
export interface StepReport {
  /** Steps per second of training step time (`steps / result.seconds`). */
  stepsPerSecond: number;
  /** With compiled steps: `compiled step: R of N steps replayed, T trace(s)` (and `; eager: <why>` for signatures that stayed eager). */
  compiledLine?: string;
}

/**
 * Options of {@link stepReport}.
 *
 * @example
 * ```ts
 * const o: StepReportOptions = { cacheCounts: true };
 * ```
 */
export interface StepReportOptions {
  /** Print the trace cache's counts: `T traces (C cached, E evicted)` instead of `T trace(s)`. */
  cacheCounts?: boolean;
}

/**
 * The closing report of a training run of `steps` steps: its steps per second and, when the
 * steps ran compiled, the line saying how many replayed.
 *
 * @example
 * ```ts
 * const report = stepReport(result, endStep - startStep);
 * console.log(`${report.stepsPerSecond.toFixed(2)} steps/s`);
 * if (report.compiledLine) console.log(report.compiledLine); // 'compiled step: 598 of 600 steps replayed, 1 trace(s)'
 * ```
 */
export function stepReport(result: Pick<TrainLoopResult, 'seconds' | 'compileStats'>, steps: number, o: StepReportOptions = {}): StepReport {
  const report: StepReport = { stepsPerSecond: steps / result.seconds };
  const c = result.compileStats;
  if (c) {
    const traces = o.cacheCounts ? `${c.traces} traces (${c.cached} cached, ${c.evictions} evicted)` : `${c.traces} trace(s)`;
    report.compiledLine = `compiled step: ${c.replays} of ${steps} steps replayed, ${traces}${c.notCompiled.length ? `; eager: ${c.notCompiled.join('; ')}` : ''}`;
  }
  return report;
}
