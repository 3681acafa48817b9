// SPDX-License-Identifier: MIT
// More learning-rate schedules with PyTorch's names, arguments and step semantics: LinearLR,
// OneCycleLR (cos/linear annealing, three phases, momentum cycling), SequentialLR (chains
// schedules at milestones) and ReduceLROnPlateau (metric-driven).
// Invariants: LinearLR and OneCycleLR are closed forms of the step counter (like the schedules
// in schedules.ts, so resuming is exact); SequentialLR restarts each schedule at its milestone,
// as PyTorch's `scheduler.step(0)` does; ReduceLROnPlateau changes an lr only after `patience`
// bad steps and by more than `eps`. A rejected call leaves every counter and lr unchanged.
import { HeedError } from '@heed/core';
import { LRScheduler, type HasLrGroups, type SchedulerStateDict } from './schedules.js';

function positiveInt(op: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new HeedError(op, `${key} must be a positive integer, got ${String(v)}.`);
  return v;
}

function inRange(op: string, key: string, v: unknown, lo: number, hi: number, loOpen: boolean): number {
  if (typeof v !== 'number' || !(loOpen ? v > lo : v >= lo) || !(v <= hi)) {
    throw new HeedError(op, `${key} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${String(v)}.`);
  }
  return v;
}

function positive(op: string, key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new HeedError(op, `${key} must be a finite number > 0, got ${String(v)}.`);
  return v;
}

/** One value per param group: a number for all groups, or a list of `n`. */
function perGroup(op: string, key: string, v: number | readonly number[], n: number, check: (x: unknown) => number): number[] {
  const list = typeof v === 'number' ? new Array<number>(n).fill(v) : Array.isArray(v) ? [...v] : null;
  if (list === null || list.length !== n) throw new HeedError(op, `${key} must be a number or a list of ${n} numbers (one per param group), got ${String(v)}.`);
  return list.map(check);
}

/**
 * Options of {@link LinearLR}.
 *
 * @example
 * ```ts
 * const o: LinearLROptions = { startFactor: 0.1, totalIters: 500 };
 * ```
 */
export interface LinearLROptions {
  /** Factor at step 0, in (0, 1] (default 1/3). */
  startFactor?: number;
  /** Factor from `totalIters` on, in [0, 1] (default 1). */
  endFactor?: number;
  /** Steps to go from start to end (default 5). */
  totalIters?: number;
  /** Resume from this step (default -1: fresh). */
  lastEpoch?: number;
}

/**
 * Scales each group's base lr by a factor that moves linearly from `startFactor` to
 * `endFactor` over `totalIters` steps, then stays (like `torch.optim.lr_scheduler.LinearLR`):
 * `lr = base * (start + (end - start) * min(step, totalIters) / totalIters)`. The usual warmup.
 *
 * @example
 * ```ts
 * const warmup = new LinearLR(optimizer, { startFactor: 0.01, totalIters: 100 });
 * ```
 */
export class LinearLR extends LRScheduler {
  constructor(optimizer: HasLrGroups, options: LinearLROptions = {}) {
    const op = 'LinearLR';
    const start = inRange(op, 'startFactor', options.startFactor ?? 1 / 3, 0, 1, true);
    const end = inRange(op, 'endFactor', options.endFactor ?? 1, 0, 1, false);
    const total = positiveInt(op, 'totalIters', options.totalIters ?? 5);
    super(optimizer, (epoch, base) => base * (start + ((end - start) * Math.min(total, epoch)) / total), options.lastEpoch);
  }
}

/**
 * What {@link OneCycleLR} needs from an optimizer: lrs, and for momentum cycling either Adam's
 * `betas` (the first is cycled) or SGD's `momentum`.
 *
 * @example
 * ```ts
 * const target: HasMomentumGroups = new Adam(model, { lr: 1e-3 });
 * ```
 */
export interface HasMomentumGroups extends HasLrGroups {
  readonly paramGroups: ReadonlyArray<{ lr: number; initialLr?: number; betas?: readonly [number, number]; momentum?: number }>;
}

/**
 * Options of {@link OneCycleLR}: `maxLr` and either `totalSteps` or `epochs` with `stepsPerEpoch`.
 *
 * @example
 * ```ts
 * const o: OneCycleOptions = { maxLr: 0.01, totalSteps: 1000, pctStart: 0.25 };
 * ```
 */
export interface OneCycleOptions {
  /** Peak lr, for all groups or one per group. */
  maxLr: number | readonly number[];
  /** Length of the cycle in steps (or give `epochs` and `stepsPerEpoch`). */
  totalSteps?: number;
  /** With `stepsPerEpoch`: `totalSteps = epochs * stepsPerEpoch`. */
  epochs?: number;
  /** With `epochs`. */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr (default 0.3). */
  pctStart?: number;
  /** `'cos'` (default) or `'linear'` annealing. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum (Adam's beta1 or SGD's momentum) inversely to the lr (default true). */
  cycleMomentum?: boolean;
  /** Momentum at the lr peak (default 0.85). */
  baseMomentum?: number | readonly number[];
  /** Momentum at the start and end (default 0.95). */
  maxMomentum?: number | readonly number[];
  /** The start lr is `maxLr / divFactor` (default 25). */
  divFactor?: number;
  /** The final lr is `maxLr / divFactor / finalDivFactor` (default 1e4). */
  finalDivFactor?: number;
  /** Three phases: up, back down to the start lr, then down to the final lr (default false). */
  threePhase?: boolean;
  /** Resume from this step (default -1: fresh). */
  lastEpoch?: number;
}

interface Phase { end: number; lr: ['initial' | 'max' | 'min', 'initial' | 'max' | 'min']; mom: ['max' | 'base', 'max' | 'base'] }

/**
 * The 1cycle policy (like `torch.optim.lr_scheduler.OneCycleLR`): the lr rises from
 * `maxLr / divFactor` to `maxLr` over `pctStart` of the cycle, then anneals to
 * `maxLr / divFactor / finalDivFactor` (with `threePhase`, it first returns to the start lr).
 * The momentum (Adam's beta1 or SGD's momentum) moves the opposite way between `maxMomentum`
 * and `baseMomentum`. Call `step()` after each batch; stepping past `totalSteps` is an error.
 * Like PyTorch, the optimizer's own lr is replaced (its `initialLr` becomes `maxLr / divFactor`).
 *
 * @example
 * ```ts
 * const opt = new SGD(model, { lr: 0.1, momentum: 0.9 });
 * const s = new OneCycleLR(opt, { maxLr: 0.5, epochs: 10, stepsPerEpoch: batches.length });
 * ```
 */
export class OneCycleLR extends LRScheduler {
  /** The cycle length in steps. */
  readonly totalSteps: number;

  constructor(optimizer: HasMomentumGroups, options: OneCycleOptions) {
    const op = 'OneCycleLR';
    const groups = optimizer.paramGroups;
    const n = groups.length;
    let total: number;
    if (options.totalSteps !== undefined) total = positiveInt(op, 'totalSteps', options.totalSteps);
    else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) {
      total = positiveInt(op, 'epochs', options.epochs) * positiveInt(op, 'stepsPerEpoch', options.stepsPerEpoch);
    } else throw new HeedError(op, 'give totalSteps, or epochs and stepsPerEpoch.');
    const pct = inRange(op, 'pctStart', options.pctStart ?? 0.3, 0, 1, false);
    const strategy = options.annealStrategy ?? 'cos';
    if (strategy !== 'cos' && strategy !== 'linear') throw new HeedError(op, `annealStrategy must be 'cos' or 'linear', got ${String(strategy)}.`);
    const div = positive(op, 'divFactor', options.divFactor ?? 25);
    const finalDiv = positive(op, 'finalDivFactor', options.finalDivFactor ?? 1e4);
    const maxLrs = perGroup(op, 'maxLr', options.maxLr, n, (v) => positive(op, 'maxLr', v));
    const cycle = options.cycleMomentum ?? true;
    const useBetas = groups.length > 0 && groups[0].betas !== undefined;
    if (cycle && !useBetas && (groups.length === 0 || groups[0].momentum === undefined)) {
      throw new HeedError(op, 'cycleMomentum needs an optimizer with momentum (SGD) or betas (Adam); pass cycleMomentum: false.');
    }
    const baseMom = perGroup(op, 'baseMomentum', options.baseMomentum ?? 0.85, n, (v) => inRange(op, 'baseMomentum', v, 0, 1, false));
    const maxMom = perGroup(op, 'maxMomentum', options.maxMomentum ?? 0.95, n, (v) => inRange(op, 'maxMomentum', v, 0, 1, false));
    const lastEpoch = options.lastEpoch ?? -1;
    const phases: Phase[] = options.threePhase
      ? [
        { end: pct * total - 1, lr: ['initial', 'max'], mom: ['max', 'base'] },
        { end: 2 * pct * total - 2, lr: ['max', 'initial'], mom: ['base', 'max'] },
        { end: total - 1, lr: ['initial', 'min'], mom: ['max', 'max'] },
      ]
      : [
        { end: pct * total - 1, lr: ['initial', 'max'], mom: ['max', 'base'] },
        { end: total - 1, lr: ['max', 'min'], mom: ['base', 'max'] },
      ];
    const lrOf = (g: number): Record<'initial' | 'max' | 'min', number> => ({ initial: maxLrs[g] / div, max: maxLrs[g], min: maxLrs[g] / div / finalDiv });
    const anneal = strategy === 'cos'
      ? (a: number, b: number, p: number): number => b + ((a - b) / 2) * (Math.cos(Math.PI * p) + 1)
      : (a: number, b: number, p: number): number => (b - a) * p + a;
    const setMomentum = (g: number, m: number): void => {
      const group = groups[g] as { betas?: readonly [number, number]; momentum?: number };
      if (useBetas) group.betas = [m, (group.betas as readonly [number, number])[1]];
      else group.momentum = m;
    };
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / div;
        if (cycle) setMomentum(i, maxMom[i]);
      });
    }
    super(optimizer, (step, _base, g) => {
      let start = 0;
      const lrs = lrOf(g);
      const moms = { max: maxMom[g], base: baseMom[g] };
      for (let i = 0; i < phases.length; i++) {
        const ph = phases[i];
        if (step <= ph.end || i === phases.length - 1) {
          const p = (step - start) / (ph.end - start);
          if (cycle) setMomentum(g, anneal(moms[ph.mom[0]], moms[ph.mom[1]], p));
          return anneal(lrs[ph.lr[0]], lrs[ph.lr[1]], p);
        }
        start = ph.end;
      }
      return lrs.min; // unreachable: the last phase always answers
    }, lastEpoch);
    this.totalSteps = total;
  }

  /**
   * Advances one step; a step past `totalSteps` throws (nothing changes).
   *
   * @example
   * ```ts
   * optimizer.step();
   * scheduler.step();
   * ```
   */
  override step(): void {
    if (this.totalSteps !== undefined && this.lastEpoch + 1 > this.totalSteps) {
      throw new HeedError('OneCycleLR', `tried to step ${this.lastEpoch + 1} times; the cycle has totalSteps = ${this.totalSteps}. ` +
        'Give a larger totalSteps (or epochs * stepsPerEpoch).');
    }
    super.step();
  }
}

/**
 * The state of a {@link SequentialLR}: its own counter and each chained schedule's state.
 *
 * @example
 * ```ts
 * const sd: SequentialLRStateDict = chained.stateDict(); // { lastEpoch, baseLrs, lastLrs, schedulers: [...] }
 * ```
 */
export interface SequentialLRStateDict extends SchedulerStateDict {
  schedulers: SchedulerStateDict[];
}

/**
 * Runs `schedulers` one after another, switching at `milestones` (like
 * `torch.optim.lr_scheduler.SequentialLR`): schedule `i` runs from milestone `i - 1` and
 * restarts at its own step 0 there. All must drive `optimizer`. Typical: warmup then decay.
 *
 * @example
 * ```ts
 * const warmup = new LinearLR(opt, { startFactor: 0.01, totalIters: 100 });
 * const decay = new CosineAnnealingLR(opt, { totalSteps: 900 });
 * const s = new SequentialLR(opt, [warmup, decay], [100]);
 * ```
 */
export class SequentialLR {
  /** The step counter; 0 right after construction. */
  lastEpoch = 0;
  private readonly schedulers: LRScheduler[];
  private readonly milestones: number[];
  private lastLrs: number[];

  constructor(readonly optimizer: HasLrGroups, schedulers: readonly LRScheduler[], milestones: readonly number[]) {
    const op = 'SequentialLR';
    if (!Array.isArray(schedulers) || schedulers.length === 0 || !schedulers.every((s) => s instanceof LRScheduler)) {
      throw new HeedError(op, 'schedulers must be a non-empty list of LRScheduler instances (ReduceLROnPlateau cannot be chained).');
    }
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) throw new HeedError(op, `scheduler ${i} drives a different optimizer than the one given.`);
    });
    if (!Array.isArray(milestones) || milestones.length !== schedulers.length - 1) {
      throw new HeedError(op, `expected ${schedulers.length - 1} milestones (one fewer than schedulers), got ${Array.isArray(milestones) ? milestones.length : String(milestones)}.`);
    }
    milestones.forEach((m, i) => {
      if (!Number.isInteger(m) || m <= 0 || (i > 0 && m <= milestones[i - 1])) {
        throw new HeedError(op, `milestones must be increasing positive integers, got [${milestones.join(', ')}].`);
      }
    });
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    // Like PyTorch: back to the initial lrs, then only the first schedule takes its step 0.
    optimizer.paramGroups.forEach((g) => { g.lr = g.initialLr ?? g.lr; });
    for (const s of this.schedulers) s.lastEpoch -= 1;
    this.schedulers[0].step();
    this.lastLrs = this.schedulers[0].getLastLr();
  }

  /**
   * Advances one step: the schedule whose range holds the new step steps (or restarts at its
   * milestone).
   *
   * @example
   * ```ts
   * optimizer.step();
   * scheduler.step();
   * ```
   */
  step(): void {
    const epoch = this.lastEpoch + 1;
    let idx = 0;
    while (idx < this.milestones.length && this.milestones[idx] <= epoch) idx++;
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === epoch) s.lastEpoch = -1; // PyTorch's scheduler.step(0)
    s.step();
    this.lastEpoch = epoch;
    this.lastLrs = s.getLastLr();
  }

  /**
   * The lrs set by the last step, one per param group.
   *
   * @example
   * ```ts
   * scheduler.getLastLr(); // [0.001]
   * ```
   */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /**
   * The state (JSON-serializable), including every chained schedule's.
   *
   * @example
   * ```ts
   * const saved = JSON.stringify(scheduler.stateDict());
   * ```
   */
  stateDict(): SequentialLRStateDict {
    return {
      lastEpoch: this.lastEpoch, baseLrs: this.optimizer.paramGroups.map((g) => g.initialLr ?? g.lr), lastLrs: [...this.lastLrs],
      schedulers: this.schedulers.map((s) => s.stateDict()),
    };
  }

  /**
   * Restores a state saved by {@link SequentialLR.stateDict} (the optimizer's lrs come from its
   * own state dict).
   *
   * @example
   * ```ts
   * scheduler.loadStateDict(JSON.parse(saved));
   * ```
   */
  loadStateDict(dict: SequentialLRStateDict): void {
    const op = 'SequentialLR.loadStateDict';
    if (!Number.isInteger(dict?.lastEpoch) || dict.lastEpoch < 0 || !Array.isArray(dict.schedulers) || dict.schedulers.length !== this.schedulers.length ||
      !Array.isArray(dict.lastLrs)) {
      throw new HeedError(op, `expected { lastEpoch: integer >= 0, lastLrs, schedulers: ${this.schedulers.length} scheduler states }.`);
    }
    const previous = this.schedulers.map((s) => s.stateDict());
    try {
      this.schedulers.forEach((s, i) => s.loadStateDict(dict.schedulers[i]));
    } catch (err) {
      this.schedulers.forEach((s, i) => s.loadStateDict(previous[i])); // all or nothing
      throw err;
    }
    this.lastEpoch = dict.lastEpoch;
    this.lastLrs = [...dict.lastLrs];
  }
}
