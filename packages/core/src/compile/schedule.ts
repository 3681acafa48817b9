// SPDX-License-Identifier: MIT
// Turns two consecutive recordings of a step (A, then B) into a replayable Schedule. Comparing
// the two is what tells apart, for every buffer B reads from outside: an argument, a captured
// constant (the same buffer in A and B), or loop-carried state (a buffer A produced: a parameter
// or optimizer moment that the step replaces every time). Invariants:
// - A and B must agree call for call (backend, kernel, view layouts, where each operand came
//   from, host arguments); the only host values allowed to differ are those an exhaustive rule
//   re-derives per replay (SCALAR_RULES: the random stream's counter, Adam's bias corrections);
// - a random call replays by drawing from the global generator or the same private Generator
//   it drew from in A and B (advancing it like the eager draw), or with frozen arguments when
//   A and B drew the same numbers (a Generator made inside the step);
//   anything else that differs makes the step not compilable (reason given);
// - slots 0..inputs.length-1 are the replay's inputs, then one slot per recorded result;
// - which produced slots stay alive after a step (persistent state, donated to their holders)
//   is settled by `finalizeFrees`, once the caller has found the holders.
import type { AdamScalars, Backend, DataId } from '../backend.js';
import type { ElementwiseProgram } from '../lazy/program.js';
import type { DType } from '../dtype.js';
import type { FusedKernelName, KernelName } from '../kernel-dispatch.js';
import type { Storage } from '../storage.js';
import type { Tensor } from '../tensor.js';
import type { Generator } from '../random.js';
import { adamStepOf, biasCorrection } from './adam-steps.js';
import { innerData } from './buffers.js';
import { forEachView, isView, type BufferRef, type RecordedCall, type Recording } from './record.js';

/**
 * @internal Where a replay input comes from: a tensor argument (flattened index), a tensor the
 * step captured from outside (its Storage), or the holder of a persistent slot.
 *
 * @example
 * ```ts
 * const src: InputSource = { kind: 'arg', index: 0 };
 * ```
 */
export type InputSource =
  | { readonly kind: 'arg'; readonly index: number }
  | { readonly kind: 'captured'; readonly storage: Storage }
  | { readonly kind: 'carried'; readonly slot: number };

/**
 * @internal A view operand of a scheduled call: its layout and the slot holding its buffer.
 *
 * @example
 * ```ts
 * const v: ViewTemplate = { slot: 3, dtype: 'float32', shape: [2, 2], strides: [2, 1], offset: 0, arg: 0, element: -1 };
 * ```
 */
export interface ViewTemplate {
  readonly slot: number;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  /** Argument position, and element within an array argument (-1: the argument itself). */
  readonly arg: number;
  readonly element: number;
}

/**
 * @internal How a call's host arguments are re-derived on each replay.
 *
 * @example
 * ```ts
 * const rule: ScalarRule = { kind: 'random', from: 'global' };
 * ```
 */
export type ScalarRule =
  /** from: the global generator at replay time, a private Generator, or the recorded arguments. */
  | { readonly kind: 'random'; readonly from: 'global' | 'fixed' | Generator }
  | { readonly kind: 'adam'; readonly step: number | null };

/**
 * @internal One call of a {@link Schedule}.
 *
 * @example
 * ```ts
 * const s: ScheduledCall = schedule.calls[0];
 * ```
 */
export interface ScheduledCall {
  readonly backend: Backend;
  readonly kernel: KernelName | FusedKernelName;
  /** Host arguments as replayed: the recorded ones, with a fused program's dead outputs dropped (finalizeFrees). */
  args: readonly unknown[];
  readonly views: readonly ViewTemplate[];
  /** Slot of each result as replayed (the recorded ones less the dropped outputs). */
  outs: readonly number[];
  /** The arguments and result slots as recorded. */
  readonly recorded: { readonly args: readonly unknown[]; readonly outs: readonly number[] };
  readonly rule: ScalarRule | null;
  /** Produced slots whose last use is this call (filled by finalizeFrees). */
  freeAfter: number[];
  /** Reads nothing and makes a constant (a fill or upload no step keeps): run once, not per replay (finalizeFrees). */
  constant: boolean;
}

/**
 * @internal How to rebuild the step's return value from slots.
 *
 * @example
 * ```ts
 * const r: ResultTemplate = { kind: 'tensor', slot: 9, backend, dtype: 'float32', size: 1, shape: [], strides: [], offset: 0 };
 * ```
 */
export type ResultTemplate =
  | { readonly kind: 'tensor'; readonly slot: number; readonly backend: Backend; readonly dtype: DType; readonly size: number;
      readonly shape: readonly number[]; readonly strides: readonly number[]; readonly offset: number }
  | { readonly kind: 'array'; readonly items: readonly ResultTemplate[] }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, ResultTemplate])[] }
  | { readonly kind: 'value'; readonly value: unknown };

/**
 * @internal A replayable step (see the file comment).
 *
 * @example
 * ```ts
 * const s = buildSchedule(a, b, context);
 * if (typeof s === 'string') console.warn(s);
 * ```
 */
export interface Schedule {
  readonly inputs: readonly InputSource[];
  readonly calls: readonly ScheduledCall[];
  readonly slots: number;
  /** Produced slots alive when B ended (candidates for persistent state), with B's buffer. */
  readonly aliveAtEnd: ReadonlyMap<number, DataId>;
  readonly result: ResultTemplate;
  readonly resultSlots: ReadonlySet<number>;
  /** Produced slots that the next step reads (they must have holders). */
  readonly carried: ReadonlySet<number>;
  /** Lazy backends to flush before a replay. */
  readonly lazyBackends: readonly Backend[];
  /** The private generators (not the global stream) its random calls draw from; a failed replay rewinds them. */
  readonly generators: readonly Generator[];
  /** The buffers of the constant calls' slots, made on the first replay (null: not made yet). */
  constants: Map<number, DataId> | null;
}

/**
 * @internal What the analysis needs besides the recordings.
 *
 * @example
 * ```ts
 * const ctx: ScheduleContext = { argsA, argsB, generator: { seed: 0, start: 0, end: 64, global: defaultGenerator() } };
 * ```
 */
export interface ScheduleContext {
  /** Buffers of the flattened tensor arguments of A and B. */
  readonly argsA: readonly DataId[];
  readonly argsB: readonly DataId[];
  /** The global generator's seed, the counters B consumed from it, and the object (absent when B replaced it). */
  readonly generator: { readonly seed: number; readonly start: number; readonly end: number; readonly global?: Generator };
}

function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<number>, y = b as unknown as ArrayLike<number>;
    if (a.constructor !== b.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Host arguments with view operands blanked (they are compared as layouts and refs). */
function hostArgs(args: readonly unknown[]): unknown[] {
  return args.map((a) => (isView(a) ? null : Array.isArray(a) ? a.map((e) => (isView(e) ? null : e)) : a));
}

/**
 * @internal The host arguments of a call on replay `r` (1 = the first replay after B) under its
 * rule: the random stream's seed and counter (drawn from `generator` when the step used the
 * global stream, else from the step's own Generator), or Adam's bias corrections for step `adamStep`.
 *
 * @example
 * ```ts
 * const [kind, size, seed, offset] = ruleArgs(call, 1, defaultGenerator(), 0);
 * ```
 */
export function ruleArgs(call: ScheduledCall, r: number, generator: { seed: number; next(n: number): number }, adamStep: number): readonly unknown[] {
  const rule = call.rule;
  if (rule === null) return call.args;
  if (rule.kind === 'random') {
    if (rule.from === 'fixed') return call.args;
    const size = call.args[1] as number;
    const g = rule.from === 'global' ? generator : rule.from;
    return [call.args[0], size, g.seed, g.next(size)];
  }
  if (rule.step === null) return call.args;
  const s = call.args[4] as AdamScalars;
  return [...call.args.slice(0, 4), { ...s, c1: biasCorrection(s.beta1, adamStep), c2: biasCorrection(s.beta2, adamStep) }];
}

/** Per kernel with host arguments that legitimately change between steps: how to re-derive them. */
const SCALAR_RULES: { readonly [K in 'random' | 'adam']: (a: RecordedCall, b: RecordedCall, ctx: ScheduleContext) => ScalarRule | string } = {
  random: (a, b, ctx) => {
    const [kindA, sizeA, seedA, offA] = a.args as [string, number, number, number];
    const [kindB, sizeB, seedB, offB] = b.args as [string, number, number, number];
    if (kindA !== kindB || sizeA !== sizeB) return `random draws differ (${kindA} x${sizeA} vs ${kindB} x${sizeB})`;
    const g = ctx.generator;
    if (b.generator !== undefined && b.generator === a.generator && b.generator !== g.global) return { kind: 'random', from: b.generator };
    if (seedB === g.seed && offB >= g.start && offB + sizeB <= g.end) return { kind: 'random', from: 'global' };
    if (seedA === seedB && offA === offB) return { kind: 'random', from: 'fixed' };
    return 'a random draw takes different numbers on each call from a generator that is not the same Generator object in both traced ' +
      'calls; create the Generator once outside the compiled function (or use the global one, seeded with manualSeed)';
  },
  adam: (ca, cb) => {
    const a = ca.args, b = cb.args;
    const sa = a[4] as AdamScalars, sb = b[4] as AdamScalars;
    if (sa.lr !== sb.lr || sa.beta1 !== sb.beta1 || sa.beta2 !== sb.beta2 || sa.eps !== sb.eps) {
      return `adam's lr/betas/eps changed between calls (lr ${sa.lr} -> ${sb.lr}); a compiled step freezes them: pass a changing lr as an argument (it is part of the trace key) or keep it constant`;
    }
    const ta = adamStepOf(sa), tb = adamStepOf(sb);
    if (ta === 'saturated' && tb === 'saturated') return { kind: 'adam', step: null };
    if (typeof ta !== 'number' || typeof tb !== 'number' || tb !== ta + 1) return 'adam bias corrections do not follow consecutive steps';
    return { kind: 'adam', step: tb };
  },
};

function hasRule(kernel: string): kernel is keyof typeof SCALAR_RULES {
  return kernel in SCALAR_RULES;
}

function resultTemplate(value: unknown, live: Recording<unknown>['live'], base: readonly number[], isTensor: (v: unknown) => v is Tensor): ResultTemplate | string {
  if (isTensor(value)) {
    const inner = innerData(value.storage.data);
    const slot = inner === null ? undefined : live.get(inner);
    if (!slot) return `the function returns tensor #${value.id} ${JSON.stringify(value.shape)} that it did not compute (an argument or a captured tensor); return computed tensors only`;
    return { kind: 'tensor', slot: base[slot.call] + slot.out, backend: value.backend, dtype: value.dtype, size: value.storage.size, shape: value.shape, strides: value.strides, offset: value.offset };
  }
  if (Array.isArray(value)) {
    const items: ResultTemplate[] = [];
    for (const v of value) { const t = resultTemplate(v, live, base, isTensor); if (typeof t === 'string') return t; items.push(t); }
    return { kind: 'array', items };
  }
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const entries: [string, ResultTemplate][] = [];
    for (const [k, v] of Object.entries(value)) { const t = resultTemplate(v, live, base, isTensor); if (typeof t === 'string') return t; entries.push([k, t]); }
    return { kind: 'object', entries };
  }
  return { kind: 'value', value };
}

function collectResultSlots(t: ResultTemplate, out: Set<number>): void {
  if (t.kind === 'tensor') out.add(t.slot);
  else if (t.kind === 'array') t.items.forEach((i) => collectResultSlots(i, out));
  else if (t.kind === 'object') t.entries.forEach(([, i]) => collectResultSlots(i, out));
}

function describeCall(i: number, kernel: string): string {
  return `call ${i} (${kernel})`;
}

/**
 * @internal Builds the schedule from recordings `a` and `b` of two consecutive calls, or says
 * why the step cannot be replayed (a string).
 *
 * @example
 * ```ts
 * const s = buildSchedule(a, b, ctx, (v): v is Tensor => v instanceof Tensor);
 * ```
 */
export function buildSchedule(a: Recording<unknown>, b: Recording<unknown>, ctx: ScheduleContext, isTensor: (v: unknown) => v is Tensor): Schedule | string {
  if (a.calls.length !== b.calls.length) return `the two traced calls ran ${a.calls.length} and ${b.calls.length} kernels (host control flow differs between calls)`;
  const inputs: InputSource[] = [];
  const inputOf = new Map<DataId, number>();
  const base: number[] = [];
  let next = 0;
  // Inputs first: number them while checking the refs, then offset produced slots after them.
  const pendingViews: { call: number; refs: BufferRef[] }[] = [];
  const carriedCalls: { call: number; out: number }[] = [];
  const argIndexA = new Map(ctx.argsA.map((d, i) => [d, i] as const));
  const argIndexB = new Map(ctx.argsB.map((d, i) => [d, i] as const));
  for (let i = 0; i < b.calls.length; i++) {
    const ca = a.calls[i], cb = b.calls[i];
    const where = describeCall(i, cb.kernel);
    if (ca.backend !== cb.backend || ca.kernel !== cb.kernel || ca.outs.length !== cb.outs.length) return `${where} differs between the traced calls (${ca.kernel} vs ${cb.kernel})`;
    const layoutsA: unknown[] = [], layoutsB: unknown[] = [];
    forEachView(ca.args, (v) => layoutsA.push([v.dtype, v.shape, v.strides, v.offset]));
    forEachView(cb.args, (v) => layoutsB.push([v.dtype, v.shape, v.strides, v.offset]));
    if (!same(layoutsA, layoutsB)) return `${where} reads views of different layouts in the two traced calls`;
    if (!hasRule(cb.kernel) && !same(hostArgs(ca.args), hostArgs(cb.args))) {
      return `${where} gets different host values in the two traced calls (a number or array computed on the host inside the ` +
        'function, e.g. a step counter, a schedule or data made from JS arrays); a compiled step freezes them: pass them as tensor arguments';
    }
    for (let v = 0; v < cb.refs.length; v++) {
      const ra = ca.refs[v], rb = cb.refs[v];
      if (rb.kind === 'produced') {
        if (ra.kind !== 'produced' || ra.call !== rb.call || ra.out !== rb.out) return `${where} reads a buffer whose origin differs between the traced calls`;
        continue;
      }
      if (ra.kind !== 'external') return `${where} reads a buffer computed in one traced call but not in the other`;
      if (inputOf.has(rb.data)) continue;
      const fromA = a.live.get(rb.data);
      let source: InputSource | null = null;
      if (argIndexB.has(rb.data)) { // first: an argument may be what the previous call returned
        const index = argIndexB.get(rb.data)!;
        if (argIndexA.get(ra.data) !== index) return `${where} reads argument ${index} in one traced call but not the other`;
        source = { kind: 'arg', index };
      } else if (fromA) {
        source = { kind: 'carried', slot: -1 };
        carriedCalls.push(fromA);
      } else if (ra.data === rb.data) {
        const storage = b.readers.get(rb.data) ?? a.readers.get(rb.data);
        if (!storage) return `${where} reads a buffer that belongs to no tensor compile() can see`;
        source = { kind: 'captured', storage };
      } else {
        return `${where} reads a different outside tensor on each call (one created outside the function and captured, not passed ` +
          'as an argument); pass it as an argument of the compiled function';
      }
      inputOf.set(rb.data, inputs.length);
      inputs.push(source);
    }
    pendingViews.push({ call: i, refs: [...cb.refs] });
  }
  next = inputs.length;
  for (const c of b.calls) { base.push(next); next += c.outs.length; }
  // Carried inputs: the slot (in B's numbering) of the A result they read.
  let k = 0;
  const carried = new Set<number>();
  inputs.forEach((src, i) => {
    if (src.kind !== 'carried') return;
    const from = carriedCalls[k++];
    const slot = base[from.call] + from.out;
    inputs[i] = { kind: 'carried', slot };
    carried.add(slot);
  });
  const aliveAtEnd = new Map<number, DataId>();
  for (const [data, s] of b.live) aliveAtEnd.set(base[s.call] + s.out, data);
  for (const slot of carried) if (!aliveAtEnd.has(slot)) return 'state the step reads from the previous call is not kept by the second traced call';
  const calls: ScheduledCall[] = [];
  for (let i = 0; i < b.calls.length; i++) {
    const ca = a.calls[i], cb = b.calls[i];
    let rule: ScalarRule | null = null;
    if (hasRule(cb.kernel)) {
      const r = SCALAR_RULES[cb.kernel](ca, cb, ctx);
      if (typeof r === 'string') return `${describeCall(i, cb.kernel)}: ${r}`;
      rule = r;
    }
    const views: ViewTemplate[] = [];
    let v = 0;
    forEachView(cb.args, (view, arg, element) => {
      const ref = pendingViews[i].refs[v++];
      const slot = ref.kind === 'produced' ? base[ref.call] + ref.out : inputOf.get(ref.data)!;
      views.push({ slot, dtype: view.dtype, shape: view.shape, strides: view.strides, offset: view.offset, arg, element });
    });
    const outs = cb.outs.map((_, o) => base[i] + o);
    calls.push({ backend: cb.backend, kernel: cb.kernel, args: cb.args, views, outs, recorded: { args: cb.args, outs }, rule, freeAfter: [], constant: false });
  }
  const result = resultTemplate(b.result, b.live, base, isTensor);
  if (typeof result === 'string') return result;
  if (a.resultShape !== b.resultShape) return 'the two traced calls return different structures';
  const resultSlots = new Set<number>();
  collectResultSlots(result, resultSlots);
  const generators = new Set<Generator>();
  for (const c of calls) if (c.rule?.kind === 'random' && typeof c.rule.from === 'object') generators.add(c.rule.from);
  return { inputs, calls, slots: next, aliveAtEnd, result, resultSlots, carried, lazyBackends: [...b.lazyBackends], generators: [...generators], constants: null };
}

/** Kernels that read no buffer and make the same values every time (when their host arguments are frozen). */
const CONSTANT_KERNELS = new Set<string>(['fill', 'upload']);

/** Where each fused kernel's program is among its host arguments. */
const PROGRAM_ARG: Partial<Record<KernelName | FusedKernelName, number>> = { elementwise: 0, matmulElementwise: 2 };

/**
 * Dead-output elimination: a fused program's outputs that no later call reads and the step
 * does not keep (traced while the user's JavaScript still held them, e.g. an intermediate of a
 * formula) are dropped from the program the replay runs, so they are never written. The pruned
 * program is one object for the schedule's life (backends may keep prepared work per program).
 */
function pruneDeadOutputs(schedule: Schedule, kept: (slot: number) => boolean): void {
  const read = new Set<number>();
  for (const c of schedule.calls) for (const v of c.views) read.add(v.slot);
  for (const c of schedule.calls) {
    c.args = c.recorded.args;
    c.outs = c.recorded.outs;
    const at = PROGRAM_ARG[c.kernel];
    if (at === undefined) continue;
    const live = c.outs.map((o) => read.has(o) || kept(o));
    if (live.every(Boolean) || !live.some(Boolean)) continue; // nothing to drop, or keep the call whole
    const program = c.args[at] as ElementwiseProgram;
    const args = c.args.slice();
    args[at] = { ...program, outputs: program.outputs.filter((_, j) => live[j]) };
    c.args = args;
    c.outs = c.outs.filter((_, j) => live[j]);
  }
}

/**
 * @internal Fills each call's `freeAfter` and `constant`, after dropping fused programs' dead
 * outputs (see pruneDeadOutputs): a fill or upload whose result is
 * neither a result nor in `persistent` is a constant (made once, kept for the schedule's life);
 * every other produced slot that is neither is freed right after its last use (or its
 * producing call when never read). The caller frees already made constants first.
 *
 * @example
 * ```ts
 * finalizeFrees(schedule, new Set(holders.keys()));
 * ```
 */
export function finalizeFrees(schedule: Schedule, persistent: ReadonlySet<number>): void {
  pruneDeadOutputs(schedule, (slot) => persistent.has(slot) || schedule.resultSlots.has(slot));
  const lastUse = new Map<number, number>();
  schedule.calls.forEach((c, i) => {
    for (const o of c.outs) lastUse.set(o, i);
    for (const v of c.views) if (lastUse.has(v.slot)) lastUse.set(v.slot, i);
  });
  const kept = (slot: number): boolean => persistent.has(slot) || schedule.resultSlots.has(slot);
  const constants = new Set<number>();
  for (const c of schedule.calls) {
    c.freeAfter = [];
    c.constant = CONSTANT_KERNELS.has(c.kernel) && c.views.length === 0 && c.rule === null && !c.outs.some(kept);
    if (c.constant) for (const o of c.outs) constants.add(o);
  }
  for (const [slot, i] of lastUse) {
    if (kept(slot) || constants.has(slot)) continue;
    schedule.calls[i].freeAfter.push(slot);
  }
}

/**
 * @internal One line per schedule for `HEED_DEBUG=compile`: its calls per kernel, inputs by
 * kind, persistent (donated) slots and constants.
 *
 * @example
 * ```ts
 * console.log(describeSchedule(schedule, holders.size)); // '362 calls (binary 266, matmul 24, ...); inputs: 2 args, ...'
 * ```
 */
export function describeSchedule(schedule: Schedule, persistent: number): string {
  const kernels = new Map<string, number>();
  let constants = 0;
  for (const c of schedule.calls) {
    if (c.constant) { constants++; continue; }
    kernels.set(c.kernel, (kernels.get(c.kernel) ?? 0) + 1);
  }
  const inputs = { arg: 0, captured: 0, carried: 0 };
  for (const src of schedule.inputs) inputs[src.kind]++;
  const list = [...kernels].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  return `${schedule.calls.length - constants} calls per replay (${list}); ${constants} constants made once; inputs: ${inputs.arg} argument, ` +
    `${inputs.captured} captured, ${inputs.carried} carried buffers; ${persistent} donated per replay`;
}
