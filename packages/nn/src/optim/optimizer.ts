// SPDX-License-Identifier: MIT
// The Optimizer base class: param groups with per-group hyperparameters, per-parameter
// weight-decay masks, `step()`, `zeroGrad()`, and a PyTorch-shaped state dict (state per
// parameter index + param groups). Subclasses implement one pure per-parameter update.
// Invariants: updates run under noGrad inside one tidy per parameter and land via
// `param.assign`; state tensors are owned by the optimizer (kept out of every scope) and the
// previous ones are disposed when replaced, so a step leaks nothing; `loadStateDict` copies.
// Capturable steps (for `compile`): `stepScalars()`, called outside the compiled function before
// every step, advances the host step counters and returns the per-step host numbers (lr, bias
// corrections) as 0-d tensors; `step(scalars)` inside reads only those tensors, so a replay uses
// the current lr and the host counters match the steps taken, replayed or not.
import { HeedError, fmtShape, keep, noGrad, scalar, tidy, zerosLike, type Tensor } from '@heed/core';
import { isParamSource, namedParams, type NamedParam, type ParamSource } from './params.js';

/**
 * Hyperparameters every optimizer has. Subclasses extend this with their own.
 *
 * @example
 * ```ts
 * const h: BaseHyperParams = { lr: 0.1, weightDecay: 0 };
 * ```
 */
export interface BaseHyperParams {
  /** Learning rate (schedulers change it). */
  lr: number;
  /** Weight decay factor (L2 penalty for SGD/Adam, decoupled for AdamW). */
  weightDecay: number;
}

/**
 * A PyTorch-style param group spec: parameters plus hyperparameters overriding the defaults.
 *
 * @example
 * ```ts
 * new SGD([{ params: [w] }, { params: [b], lr: 0.01, weightDecay: 0 }], { lr: 0.1 });
 * ```
 */
export type ParamGroupSpec<H extends BaseHyperParams> = Partial<H> & { params: ParamSource };

/**
 * A resolved param group: its parameters (with names and weight-decay flags) and hyperparameters.
 *
 * @example
 * ```ts
 * optimizer.paramGroups[0].lr = 0.01; // what schedulers do
 * ```
 */
export type ParamGroup<H extends BaseHyperParams> = H & {
  /** The group's parameters. */
  readonly params: readonly Tensor[];
  /** Their names (`namedParameters()` names, or global indices as strings). */
  readonly names: readonly string[];
  /** Whether weight decay applies to each parameter (see `weightDecayFilter`). */
  readonly decay: readonly boolean[];
  /** The lr when the first scheduler attached (set by schedulers). */
  initialLr?: number;
};

/**
 * A value in an optimizer's per-parameter state: a tensor (moments, buffers) or a number (step).
 *
 * @example
 * ```ts
 * const s: Record<string, OptimStateValue> = { step: 3, expAvg: m };
 * ```
 */
export type OptimStateValue = Tensor | number;

/**
 * A hyperparameter value as stored in a state dict.
 *
 * @example
 * ```ts
 * const betas: HyperValue = [0.9, 0.999];
 * ```
 */
export type HyperValue = number | boolean | readonly number[];

/**
 * The serializable state of an optimizer, shaped like PyTorch's `optimizer.state_dict()`:
 * `state[i]` holds parameter i's state (parameters numbered across groups in order), and each
 * param group lists its hyperparameters and the indices (and names) of its parameters.
 * Tensors in a dict returned by `stateDict()` belong to the optimizer: read, don't dispose.
 *
 * @example
 * ```ts
 * const sd: OptimizerStateDict = optimizer.stateDict();
 * sd.paramGroups[0].lr; // 0.001
 * ```
 */
export interface OptimizerStateDict {
  state: Record<number, Record<string, OptimStateValue>>;
  paramGroups: Array<{ params: number[]; names: string[] } & Record<string, HyperValue | string[]>>;
}

/**
 * One param group's per-step host numbers as 0-d float32 tensors (which keys depends on the
 * optimizer: `lr` for SGD; `stepSize`, `bc2Sqrt` and AdamW's `decay` for Adam/AdamW).
 *
 * @example
 * ```ts
 * const s: GroupStepScalars = optimizer.stepScalars()[0];
 * ```
 */
export type GroupStepScalars = Readonly<Record<string, Tensor>>;

/**
 * What {@link Optimizer.stepScalars} returns: one {@link GroupStepScalars} per param group. Pass
 * it as an argument of a compiled step and on to `optimizer.step(scalars)`; dispose it after.
 *
 * @example
 * ```ts
 * const step = compile((x: Tensor, s: StepScalars) => { loss(x).backward(); opt.step(s); opt.zeroGrad(); });
 * const s = opt.stepScalars();
 * step(x, s);
 * disposeStepScalars(s);
 * ```
 */
export type StepScalars = readonly GroupStepScalars[];

/**
 * Disposes the tensors of a {@link StepScalars}.
 *
 * @example
 * ```ts
 * disposeStepScalars(opt.stepScalars());
 * ```
 */
export function disposeStepScalars(scalars: StepScalars): void {
  for (const group of scalars) for (const t of Object.values(group)) t.dispose();
}

/**
 * Options shared by optimizer constructors (besides hyperparameters).
 *
 * @example
 * ```ts
 * new AdamW(model, { lr: 1e-3, weightDecay: 0.1, weightDecayFilter: (name) => !name.endsWith('bias') });
 * ```
 */
export interface OptimizerOptions {
  /** Returns whether weight decay applies to a parameter (default: all parameters). */
  weightDecayFilter?: (name: string, param: Tensor) => boolean;
}

/**
 * Base class of optimizers. Subclasses implement {@link Optimizer.update}, a pure function of
 * one parameter, its gradient, group hyperparameters and previous state.
 *
 * @example
 * ```ts
 * const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9 });
 * for (const batch of data) {
 *   opt.zeroGrad();
 *   lossFn(batch).backward();
 *   opt.step();
 * }
 * ```
 */
export abstract class Optimizer<H extends BaseHyperParams, S extends Record<string, OptimStateValue>> {
  /** The param groups; change `lr` (etc.) here between steps. */
  readonly paramGroups: ParamGroup<H>[];
  /** Default hyperparameters for groups that do not set them. */
  readonly defaults: Readonly<H>;
  private readonly state = new Map<Tensor, S>();
  /** Per group: the step `stepScalars()` announced and `step(scalars)` has not taken yet. */
  private pendingSteps: number[] | null = null;

  protected constructor(name: string, params: ParamSource | readonly ParamGroupSpec<H>[], defaults: H, options: OptimizerOptions = {}) {
    this.defaults = { ...defaults };
    const specs = toGroupSpecs<H>(name, params);
    const seen = new Set<Tensor>();
    let index = 0;
    this.paramGroups = specs.map((spec, g) => {
      const named: NamedParam[] = namedParams(name, spec.params, index);
      if (named.length === 0) throw new HeedError(name, `param group ${g} has no parameters.`);
      for (const p of named) {
        if (seen.has(p.tensor)) throw new HeedError(name, `parameter '${p.name}' appears more than once; each tensor may be in one group only.`);
        seen.add(p.tensor);
      }
      index += named.length;
      const { params: _ignored, ...overrides } = spec;
      void _ignored;
      const hyper = { ...defaults, ...(overrides as unknown as Partial<H>) } as H;
      this.validate(hyper);
      const filter = options.weightDecayFilter;
      return {
        ...hyper,
        params: named.map((p) => p.tensor),
        names: named.map((p) => p.name),
        decay: named.map((p) => (filter ? filter(p.name, p.tensor) : true)),
      };
    });
  }

  /** Checks a group's hyperparameters; throws a HeedError naming the bad value. */
  protected abstract validate(hyper: H): void;

  /**
   * One parameter's update: returns the new parameter value and the new state. Runs under
   * noGrad inside a tidy; `weightDecay` is the group's value, or 0 where the mask exempts it.
   * Returning `undefined` state means the parameter keeps no state (e.g. SGD without momentum).
   */
  protected abstract update(param: Tensor, grad: Tensor, hyper: H, state: S | undefined, weightDecay: number, captured?: CapturedStep): { param: Tensor; state: S | undefined };

  /**
   * The host numbers of a group's update at step `step` (1-based) that a capturable step reads as
   * tensors (see {@link Optimizer.stepScalars}); computed in float64, stored as float32.
   */
  protected stepHostScalars(_hyper: H, _step: number): Record<string, number> {
    throw new HeedError(`${this.constructor.name}.stepScalars`, 'this optimizer has no capturable step; implement stepHostScalars and read the scalars in update, or call step() without scalars.');
  }

  /**
   * Every parameter, in order (across groups).
   *
   * @example
   * ```ts
   * clipGradNorm(optimizer.parameters(), 1.0);
   * ```
   */
  parameters(): Tensor[] {
    return this.paramGroups.flatMap((g) => [...g.params]);
  }

  /**
   * Applies one update to every parameter that has a gradient.
   *
   * @example
   * ```ts
   * loss.backward();
   * optimizer.step();
   * ```
   */
  step(scalars?: StepScalars): void {
    const pending = this.pendingSteps;
    if (scalars !== undefined) {
      if (pending === null || scalars.length !== this.paramGroups.length) {
        throw new HeedError(`${this.constructor.name}.step`, `got step scalars for ${scalars.length} groups but ${pending === null ? 'stepScalars() was not called before this step' : `the optimizer has ${this.paramGroups.length}`}; call optimizer.stepScalars() (outside the compiled function) before every step.`);
      }
      this.pendingSteps = null;
    }
    noGrad(() => {
      for (const [g, group] of this.paramGroups.entries()) {
        const captured = scalars === undefined || pending === null ? undefined : { scalars: scalars[g], step: pending[g] };
        group.params.forEach((p, i) => {
          const grad = p.grad;
          if (grad === null) return;
          const previous = this.state.get(p);
          const next = tidy(() => {
            const r = this.update(p, grad, group, previous, group.decay[i] ? group.weightDecay : 0, captured);
            p.assign(r.param);
            return r.state;
          });
          if (next) this.replaceState(p, next);
        });
      }
    });
  }

  /**
   * Starts a capturable step (PyTorch's `capturable=True`): advances every parameter's host step
   * counter (`stateDict().state[i].step`) and returns this step's host numbers (lr from the param
   * groups, Adam's bias corrections) as 0-d tensors on the parameters' backend. Call it outside a
   * compiled function before every step and pass the result to `step(scalars)` inside it (as an
   * argument), so replays use the current (scheduled) lr and the counters stay right. The
   * parameters of a group must be at the same step (they are when every step updates them all).
   *
   * @example
   * ```ts
   * const train = compile((x: Tensor, s: StepScalars) => { lossOf(x).backward(); opt.step(s); opt.zeroGrad(); });
   * const s = opt.stepScalars();
   * train(x, s);
   * disposeStepScalars(s);
   * scheduler.step();
   * ```
   */
  stepScalars(): StepScalars {
    const op = `${this.constructor.name}.stepScalars`;
    const steps = this.paramGroups.map((group, g) => {
      const counts = new Set(group.params.map((p) => { const s = this.state.get(p)?.step; return typeof s === 'number' ? s : 0; }));
      if (counts.size > 1) {
        throw new HeedError(op, `the parameters of param group ${g} are at different steps (${[...counts].join(', ')}); a capturable step updates a whole group: use step() without scalars.`);
      }
      return [...counts][0] + 1;
    });
    const out = this.paramGroups.map((group, g) => {
      const backend = group.params[0].backend;
      for (const p of group.params) {
        const s = this.state.get(p);
        if (s && typeof s.step === 'number') (s as Record<string, OptimStateValue>).step = steps[g];
      }
      const host = this.stepHostScalars(group, steps[g]);
      return Object.fromEntries(Object.entries(host).map(([k, v]) => [k, keep(scalar(v, { backend: backend.name, dtype: 'float32' }))]));
    });
    this.pendingSteps = steps;
    return out;
  }

  /**
   * Clears gradients: disposes and unsets them (default), or fills them with zeros.
   *
   * @example
   * ```ts
   * optimizer.zeroGrad();
   * ```
   */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      const g = p.grad;
      if (!g) continue;
      if (setToNone) {
        g.dispose();
        p.grad = null;
      } else {
        tidy(() => { g.assign(zerosLike(g)); });
      }
    }
  }

  /** Installs `next` as the state of `p`: keeps its tensors, disposes replaced ones. */
  private replaceState(p: Tensor, next: S): void {
    const fresh = new Set<Tensor>();
    for (const v of Object.values(next)) if (typeof v !== 'number') fresh.add(keep(v));
    const old = this.state.get(p);
    if (old) for (const v of Object.values(old)) if (typeof v !== 'number' && !fresh.has(v)) v.dispose();
    this.state.set(p, next);
  }

  /**
   * The optimizer's state, PyTorch-shaped (see {@link OptimizerStateDict}). The tensors are the
   * optimizer's own: read or save them, don't dispose them.
   *
   * @example
   * ```ts
   * const sd = optimizer.stateDict();
   * ```
   */
  stateDict(): OptimizerStateDict {
    const state: OptimizerStateDict['state'] = {};
    let index = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const { params, names, decay: _decay, initialLr, ...hyper } = g;
      void _decay;
      const ids = params.map((p) => {
        const s = this.state.get(p);
        if (s) state[index] = { ...s };
        return index++;
      });
      const entry: OptimizerStateDict['paramGroups'][number] = { ...(hyper as Record<string, HyperValue>), params: ids, names: [...names] };
      if (initialLr !== undefined) entry.initialLr = initialLr;
      return entry;
    });
    return { state, paramGroups };
  }

  /**
   * Restores state saved by {@link Optimizer.stateDict} (same parameter layout). Tensors are
   * copied, so the caller keeps ownership of `dict`.
   *
   * @example
   * ```ts
   * fresh.loadStateDict(old.stateDict());
   * ```
   */
  loadStateDict(dict: OptimizerStateDict): void {
    const op = `${this.constructor.name}.loadStateDict`;
    const groups = dict?.paramGroups;
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length) {
      throw new HeedError(op, `the dict has ${Array.isArray(groups) ? groups.length : 'no'} param groups but the optimizer has ${this.paramGroups.length}.`);
    }
    const params = this.parameters();
    const hypers = groups.map((sg, g) => {
      const mine = this.paramGroups[g];
      if (!Array.isArray(sg.params) || sg.params.length !== mine.params.length) {
        throw new HeedError(op, `param group ${g} has ${Array.isArray(sg.params) ? sg.params.length : 'no'} parameters in the dict but ${mine.params.length} here.`);
      }
      const { params: _p, names: _n, initialLr, ...hyper } = sg;
      void _p; void _n;
      for (const key of Object.keys(hyper)) {
        if (!(key in this.defaults)) throw new HeedError(op, `param group ${g} has an unknown hyperparameter '${key}'.`);
      }
      const merged = { ...this.defaults, ...(hyper as unknown as Partial<H>) } as H;
      this.validate(merged);
      return { merged, initialLr: initialLr as number | undefined };
    });
    const incoming = new Map<Tensor, Record<string, OptimStateValue>>();
    for (const [key, s] of Object.entries(dict.state ?? {})) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= params.length) throw new HeedError(op, `state for parameter index '${key}' is out of range (0..${params.length - 1}).`);
      for (const [name, v] of Object.entries(s)) {
        if (typeof v === 'number') continue;
        if (v.shape.length !== params[i].rank || v.shape.some((d, k) => d !== params[i].shape[k])) {
          throw new HeedError(op, `state '${name}' of parameter ${i} has shape ${fmtShape(v.shape)} but the parameter is ${fmtShape(params[i].shape)}.`);
        }
      }
      incoming.set(params[i], s);
    }
    // Validated: now mutate.
    hypers.forEach(({ merged, initialLr }, g) => {
      Object.assign(this.paramGroups[g], merged);
      if (initialLr !== undefined) this.paramGroups[g].initialLr = initialLr;
    });
    for (const old of this.state.values()) for (const v of Object.values(old)) if (typeof v !== 'number') v.dispose();
    this.state.clear();
    for (const [p, s] of incoming) {
      const copy = noGrad(() => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'number' ? v : keep(v.clone())])));
      this.state.set(p, copy as S);
    }
  }

  /**
   * Frees the optimizer's state tensors (the parameters are not touched).
   *
   * @example
   * ```ts
   * optimizer.dispose();
   * ```
   */
  dispose(): void {
    for (const s of this.state.values()) for (const v of Object.values(s)) if (typeof v !== 'number') v.dispose();
    this.state.clear();
  }
}

/**
 * What a capturable step hands an optimizer's `update` (for subclasses that implement one):
 * the group's step scalars and the step number (1-based) the new state records.
 *
 * @example
 * ```ts
 * const c: CapturedStep = { scalars: { lr: scalar(0.1) }, step: 1 };
 * ```
 */
export interface CapturedStep {
  /** This step's scalars of the parameter's group (0-d tensors; see `stepScalars()`). */
  readonly scalars: GroupStepScalars;
  /** The step number (1-based) the updated state records. */
  readonly step: number;
}

function toGroupSpecs<H extends BaseHyperParams>(name: string, params: ParamSource | readonly ParamGroupSpec<H>[]): ParamGroupSpec<H>[] {
  if (Array.isArray(params) && params.length > 0 && params.every((p) => typeof p === 'object' && p !== null && !Array.isArray(p) && 'params' in p && !isTensorLike(p))) {
    return params as ParamGroupSpec<H>[];
  }
  if (!isParamSource(params)) throw new HeedError(name, 'expected parameters (tensors, [name, tensor] pairs, a module) or a list of param groups.');
  return [{ params } as ParamGroupSpec<H>];
}

function isTensorLike(p: object): boolean {
  return typeof (p as { assertLive?: unknown }).assertLive === 'function';
}

/** @internal Throws unless `value` is a finite number >= `min` (and < `max` when given). */
export function checkRange(op: string, key: string, value: unknown, min: number, max = Infinity, maxInclusive = false): void {
  const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && (maxInclusive ? value <= max : value < max);
  if (!ok) {
    const upper = max === Infinity ? '' : maxInclusive ? `, <= ${max}` : `, < ${max}`;
    throw new HeedError(op, `invalid ${key} ${String(value)}: it must be a number >= ${min}${upper}.`);
  }
}
