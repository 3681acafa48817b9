// SPDX-License-Identifier: MIT
// ReduceLROnPlateau: lowers the learning rates when a monitored metric stops improving (like
// `torch.optim.lr_scheduler.ReduceLROnPlateau`, same arguments and step semantics).
// Invariants: an lr changes only when more than `patience` steps in a row were not better than
// the best (by `threshold`), outside a cooldown, and only by more than `eps`; lrs never go
// below `minLr`. A rejected `step` (not a number) changes no counter.
import { HeedError } from '@heed/core';
import type { HasLrGroups, SchedulerStateDict } from './schedules.js';

/**
 * Options of {@link ReduceLROnPlateau} (PyTorch's names in camelCase and defaults).
 *
 * @example
 * ```ts
 * const o: ReduceLROnPlateauOptions = { mode: 'max', factor: 0.5, patience: 3 };
 * ```
 */
export interface ReduceLROnPlateauOptions {
  /** `'min'` (default: lower metric is better, e.g. a loss) or `'max'` (e.g. accuracy). */
  mode?: 'min' | 'max';
  /** Multiply the lr by this on a plateau, in [0, 1) (default 0.1). */
  factor?: number;
  /** Bad steps tolerated before reducing (default 10). */
  patience?: number;
  /** How much better counts as better (default 1e-4). */
  threshold?: number;
  /** `'rel'` (default: relative to the best) or `'abs'`. */
  thresholdMode?: 'rel' | 'abs';
  /** Steps to wait after a reduction before counting bad steps again (default 0). */
  cooldown?: number;
  /** Lower bound of the lr, for all groups or one per group (default 0). */
  minLr?: number | readonly number[];
  /** Reductions smaller than this are skipped (default 1e-8). */
  eps?: number;
}

/**
 * The state of a {@link ReduceLROnPlateau} (JSON-serializable; `best` is `±Infinity` before
 * the first step, which JSON writes as null and {@link ReduceLROnPlateau.loadStateDict} reads back).
 *
 * @example
 * ```ts
 * const sd: PlateauStateDict = scheduler.stateDict(); // { lastEpoch: 7, best: 0.31, numBadEpochs: 2, ... }
 * ```
 */
export interface PlateauStateDict extends SchedulerStateDict {
  best: number | null;
  numBadEpochs: number;
  cooldownCounter: number;
}

const MODES = { min: true, max: true } as const;
const THRESHOLD_MODES = { rel: true, abs: true } as const;

function nonNegativeInt(op: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new HeedError(op, `${key} must be an integer >= 0, got ${String(v)}.`);
  return v;
}

function nonNegative(op: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new HeedError(op, `${key} must be a finite number >= 0, got ${String(v)}.`);
  return v;
}

/**
 * Reduces each group's lr by `factor` when the metric passed to `step(metric)` has not
 * improved for more than `patience` steps (like `torch.optim.lr_scheduler.ReduceLROnPlateau`).
 * It does not set any lr at construction; pass a plain number (e.g. `await loss.item()`).
 *
 * @example
 * ```ts
 * const s = new ReduceLROnPlateau(optimizer, { factor: 0.5, patience: 2 });
 * for (let epoch = 0; epoch < 50; epoch++) { train(); s.step(await validationLoss()); }
 * ```
 */
export class ReduceLROnPlateau {
  /** Steps taken. */
  lastEpoch = 0;
  /** The best metric so far (`Infinity` for 'min', `-Infinity` for 'max' before the first step). */
  best: number;
  /** Consecutive steps without improvement. */
  numBadEpochs = 0;
  /** Steps left in the current cooldown. */
  cooldownCounter = 0;
  private readonly mode: 'min' | 'max';
  private readonly factor: number;
  private readonly patience: number;
  private readonly threshold: number;
  private readonly thresholdMode: 'rel' | 'abs';
  private readonly cooldown: number;
  private readonly minLrs: number[];
  private readonly eps: number;
  private lastLrs: number[];

  constructor(readonly optimizer: HasLrGroups, options: ReduceLROnPlateauOptions = {}) {
    const op = 'ReduceLROnPlateau';
    const mode = options.mode ?? 'min';
    if (!Object.prototype.hasOwnProperty.call(MODES, mode)) throw new HeedError(op, `mode must be 'min' or 'max', got ${String(mode)}.`);
    const thresholdMode = options.thresholdMode ?? 'rel';
    if (!Object.prototype.hasOwnProperty.call(THRESHOLD_MODES, thresholdMode)) {
      throw new HeedError(op, `thresholdMode must be 'rel' or 'abs', got ${String(thresholdMode)}.`);
    }
    const factor = options.factor ?? 0.1;
    if (typeof factor !== 'number' || !(factor >= 0 && factor < 1)) throw new HeedError(op, `factor must be in [0, 1), got ${String(factor)}.`);
    const n = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    const minLrs = typeof minLr === 'number' ? new Array<number>(n).fill(minLr) : Array.isArray(minLr) ? [...minLr] : null;
    if (minLrs === null || minLrs.length !== n) throw new HeedError(op, `minLr must be a number or a list of ${n} numbers (one per param group), got ${String(minLr)}.`);
    minLrs.forEach((v) => nonNegative(op, 'minLr', v));
    this.mode = mode;
    this.thresholdMode = thresholdMode;
    this.factor = factor;
    this.patience = nonNegativeInt(op, 'patience', options.patience ?? 10);
    this.threshold = nonNegative(op, 'threshold', options.threshold ?? 1e-4);
    this.cooldown = nonNegativeInt(op, 'cooldown', options.cooldown ?? 0);
    this.eps = nonNegative(op, 'eps', options.eps ?? 1e-8);
    this.minLrs = minLrs;
    this.best = mode === 'min' ? Infinity : -Infinity;
    this.lastLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  private isBetter(a: number): boolean {
    const { best, threshold } = this;
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < best * (1 - threshold) : a < best - threshold;
    return this.thresholdMode === 'rel' ? a > best * (threshold + 1) : a > best + threshold;
  }

  /**
   * Records one value of the metric and reduces the lrs if it has plateaued. NaN counts as
   * not better (as in PyTorch).
   *
   * @example
   * ```ts
   * scheduler.step(await valLoss.item());
   * ```
   */
  step(metric: number): void {
    if (typeof metric !== 'number') {
      throw new HeedError('ReduceLROnPlateau.step', `metric must be a number, got ${typeof metric}; read a tensor with await t.item() first.`);
    }
    this.lastEpoch += 1;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((g, i) => {
        const next = Math.max(g.lr * this.factor, this.minLrs[i]);
        if (g.lr - next > this.eps) g.lr = next;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLrs = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /**
   * The lrs after the last step, one per param group.
   *
   * @example
   * ```ts
   * scheduler.getLastLr(); // [0.01]
   * ```
   */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /**
   * The scheduler's state (plain numbers).
   *
   * @example
   * ```ts
   * const saved = JSON.stringify(scheduler.stateDict());
   * ```
   */
  stateDict(): PlateauStateDict {
    return {
      lastEpoch: this.lastEpoch, baseLrs: this.optimizer.paramGroups.map((g) => g.initialLr ?? g.lr), lastLrs: [...this.lastLrs],
      best: Number.isFinite(this.best) ? this.best : null, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter,
    };
  }

  /**
   * Restores a state saved by {@link ReduceLROnPlateau.stateDict}.
   *
   * @example
   * ```ts
   * scheduler.loadStateDict(JSON.parse(saved));
   * ```
   */
  loadStateDict(dict: PlateauStateDict): void {
    const op = 'ReduceLROnPlateau.loadStateDict';
    const ok = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;
    if (!ok(dict?.lastEpoch) || !ok(dict.numBadEpochs) || !ok(dict.cooldownCounter) || !(dict.best === null || typeof dict.best === 'number') ||
      !Array.isArray(dict.lastLrs)) {
      throw new HeedError(op, 'expected { lastEpoch, numBadEpochs, cooldownCounter: integers >= 0, best: number or null, lastLrs }.');
    }
    this.lastEpoch = dict.lastEpoch;
    this.numBadEpochs = dict.numBadEpochs;
    this.cooldownCounter = dict.cooldownCounter;
    this.best = dict.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.lastLrs = [...dict.lastLrs];
  }
}
