// SPDX-License-Identifier: MIT
// Learning-rate schedules: StepLR, CosineAnnealingLR (with optional linear warmup), NoamLR and
// LambdaLR. Each is a closed-form function of the epoch/step counter, so its state is just
// `lastEpoch` (plus the base lrs) and resuming from a state dict is exact.
// Invariants: like PyTorch, constructing a scheduler performs step 0 (sets each group's lr to
// its value at epoch 0) and records `initialLr` on groups; `step()` advances by one.
import { HeedError } from '@heed/core';

/**
 * What a scheduler needs from an optimizer: its param groups' learning rates.
 *
 * @example
 * ```ts
 * const target: HasLrGroups = optimizer; // any Optimizer qualifies
 * ```
 */
export interface HasLrGroups {
  readonly paramGroups: ReadonlyArray<{ lr: number; initialLr?: number }>;
}

/**
 * The serializable state of a scheduler.
 *
 * @example
 * ```ts
 * const sd: SchedulerStateDict = scheduler.stateDict(); // { lastEpoch: 12, baseLrs: [0.1], lastLrs: [0.05] }
 * ```
 */
export interface SchedulerStateDict {
  lastEpoch: number;
  baseLrs: number[];
  lastLrs: number[];
}

/** The lr of group `group` at `epoch`, given its base lr. */
/**
 * A learning rate as a function of the schedule step, the base rate and the group index.
 *
 * @example
 * ```ts
 * const f: LrFunction = (step, base) => base * 0.95 ** step;
 * ```
 */
export type LrFunction = (epoch: number, baseLr: number, group: number) => number;

/**
 * Base class of the schedules: sets `lr = f(epoch, baseLr)` on every param group.
 *
 * @example
 * ```ts
 * const scheduler = new StepLR(optimizer, { stepSize: 10, gamma: 0.5 });
 * for (let epoch = 0; epoch < 30; epoch++) { train(); scheduler.step(); }
 * ```
 */
export class LRScheduler {
  /** The epoch (or step) counter; 0 right after construction. */
  lastEpoch: number;
  /** Each group's lr at epoch 0 of the schedule (its `initialLr`). */
  baseLrs: number[];
  private lastLrs: number[] = [];

  constructor(readonly optimizer: HasLrGroups, private readonly lrAt: LrFunction, lastEpoch = -1) {
    const op = this.constructor.name;
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) throw new HeedError(op, `lastEpoch must be an integer >= -1, got ${lastEpoch}.`);
    const groups = optimizer.paramGroups;
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else if (groups.some((g) => g.initialLr === undefined)) {
      throw new HeedError(op, 'resuming with lastEpoch >= 0 needs initialLr on every param group (set when a scheduler first attached).');
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
    this.step();
  }

  /**
   * Advances the schedule by one epoch/step and updates the optimizer's lrs.
   *
   * @example
   * ```ts
   * optimizer.step();
   * scheduler.step();
   * ```
   */
  step(): void {
    this.lastEpoch += 1;
    this.apply();
  }

  private apply(): void {
    this.lastLrs = this.baseLrs.map((base, i) => this.lrAt(this.lastEpoch, base, i));
    this.optimizer.paramGroups.forEach((g, i) => { g.lr = this.lastLrs[i]; });
  }

  /**
   * The lrs set by the last `step()`, one per param group.
   *
   * @example
   * ```ts
   * scheduler.getLastLr(); // [0.05]
   * ```
   */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /**
   * The scheduler's state (plain numbers; JSON-serializable).
   *
   * @example
   * ```ts
   * const saved = JSON.stringify(scheduler.stateDict());
   * ```
   */
  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLrs: [...this.lastLrs] };
  }

  /**
   * Restores a state saved by {@link LRScheduler.stateDict}. Like PyTorch, the optimizer's lrs
   * are not touched (they are restored by the optimizer's own state dict).
   *
   * @example
   * ```ts
   * scheduler.loadStateDict(JSON.parse(saved));
   * ```
   */
  loadStateDict(dict: SchedulerStateDict): void {
    const op = `${this.constructor.name}.loadStateDict`;
    const n = this.optimizer.paramGroups.length;
    const numbers = (v: unknown): v is number[] => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    if (!Number.isInteger(dict?.lastEpoch) || dict.lastEpoch < 0 || !numbers(dict.baseLrs) || !numbers(dict.lastLrs)) {
      throw new HeedError(op, `expected { lastEpoch: integer >= 0, baseLrs and lastLrs: ${n} finite numbers }.`);
    }
    this.lastEpoch = dict.lastEpoch;
    this.baseLrs = [...dict.baseLrs];
    this.lastLrs = [...dict.lastLrs];
  }
}

function positiveInt(op: string, key: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw new HeedError(op, `${key} must be a positive integer, got ${v}.`);
  return v;
}

/**
 * Multiplies the lr by `gamma` every `stepSize` epochs: `lr = base * gamma^floor(epoch / stepSize)`
 * (like `torch.optim.lr_scheduler.StepLR`).
 *
 * @example
 * ```ts
 * const s = new StepLR(optimizer, { stepSize: 30, gamma: 0.1 });
 * ```
 */
export class StepLR extends LRScheduler {
  constructor(optimizer: HasLrGroups, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    const stepSize = positiveInt('StepLR', 'stepSize', options.stepSize);
    const gamma = options.gamma ?? 0.1;
    super(optimizer, (epoch, base) => base * gamma ** Math.floor(epoch / stepSize), options.lastEpoch);
  }
}

/**
 * Options of {@link CosineAnnealingLR}.
 *
 * @example
 * ```ts
 * const o: CosineAnnealingOptions = { totalSteps: 10000, warmupSteps: 500, minLr: 1e-5 };
 * ```
 */
export interface CosineAnnealingOptions {
  /** Step at which the cosine reaches `minLr` (PyTorch's `T_max`, counting warmup). */
  totalSteps: number;
  /** Linear warmup length (default 0). */
  warmupSteps?: number;
  /** The floor of the schedule (PyTorch's `eta_min`, default 0). */
  minLr?: number;
  /** Warmup starts at `base * warmupStartFactor` (default 0). */
  warmupStartFactor?: number;
  /** Resume from this epoch (default -1: fresh). */
  lastEpoch?: number;
}

/**
 * Linear warmup then cosine annealing to `minLr`:
 * during warmup `lr = base * (f + (1 - f) * step / warmupSteps)`; then with
 * `progress = (step - warmupSteps) / (totalSteps - warmupSteps)` clamped to 1,
 * `lr = minLr + (base - minLr) * (1 + cos(pi * progress)) / 2`. Without warmup this is
 * PyTorch's `CosineAnnealingLR` up to `T_max` (after which Heed holds `minLr` instead of
 * rising again).
 *
 * @example
 * ```ts
 * const s = new CosineAnnealingLR(optimizer, { totalSteps: 10000, warmupSteps: 500, minLr: 1e-5 });
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  constructor(optimizer: HasLrGroups, options: CosineAnnealingOptions) {
    const op = 'CosineAnnealingLR';
    const total = positiveInt(op, 'totalSteps', options.totalSteps);
    const warmup = options.warmupSteps ?? 0;
    if (!Number.isInteger(warmup) || warmup < 0 || warmup >= total) {
      throw new HeedError(op, `warmupSteps must be an integer in [0, totalSteps), got ${warmup} (totalSteps ${total}).`);
    }
    const minLr = options.minLr ?? 0;
    const start = options.warmupStartFactor ?? 0;
    super(optimizer, (epoch, base) => {
      if (epoch < warmup) return base * (start + ((1 - start) * epoch) / warmup);
      const progress = Math.min(1, (epoch - warmup) / (total - warmup));
      return minLr + ((base - minLr) * (1 + Math.cos(Math.PI * progress))) / 2;
    }, options.lastEpoch);
  }
}

/**
 * The Transformer schedule of "Attention Is All You Need" (the "Noam" schedule):
 * `lr = base * dModel^-0.5 * min(s^-0.5, s * warmupSteps^-1.5)` with `s = max(step, 1)`.
 * Use base lr 1 (or a small factor) on the optimizer.
 *
 * @example
 * ```ts
 * const opt = new Adam(model, { lr: 1, betas: [0.9, 0.98], eps: 1e-9 });
 * const s = new NoamLR(opt, { dModel: 512, warmupSteps: 4000 });
 * ```
 */
export class NoamLR extends LRScheduler {
  constructor(optimizer: HasLrGroups, options: { dModel: number; warmupSteps: number; lastEpoch?: number }) {
    const dModel = positiveInt('NoamLR', 'dModel', options.dModel);
    const warmup = positiveInt('NoamLR', 'warmupSteps', options.warmupSteps);
    super(optimizer, (epoch, base) => {
      const s = Math.max(epoch, 1);
      return base * dModel ** -0.5 * Math.min(s ** -0.5, s * warmup ** -1.5);
    }, options.lastEpoch);
  }
}

/**
 * `lr = base * lambda(epoch)`, with one function for all groups or one per group (like
 * `torch.optim.lr_scheduler.LambdaLR`). The functions are not part of the state dict.
 *
 * @example
 * ```ts
 * const s = new LambdaLR(optimizer, (epoch) => 0.95 ** epoch);
 * ```
 */
export class LambdaLR extends LRScheduler {
  constructor(optimizer: HasLrGroups, lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[], lastEpoch?: number) {
    const fns = typeof lrLambda === 'function' ? optimizer.paramGroups.map(() => lrLambda) : [...lrLambda];
    if (fns.length !== optimizer.paramGroups.length) {
      throw new HeedError('LambdaLR', `expected ${optimizer.paramGroups.length} lambdas (one per param group), got ${fns.length}.`);
    }
    super(optimizer, (epoch, base, group) => base * fns[group](epoch), lastEpoch);
  }
}
