// SPDX-License-Identifier: MIT
// Runs a Schedule: resolves the inputs (arguments, captured tensors, the holders of persistent
// state), calls the recorded kernels through the dispatch seam with fresh views over the slots,
// frees every intermediate right after its last use, then donates each persistent result to its
// holder (the holder's Storage takes the new buffer, the old one is freed) and wraps the step's
// return value in new tensors. No op code, autograd or validation runs. Invariants:
// - nothing observable changes before the last kernel returned: holders are swapped at the end,
//   so a failed or declined kernel leaves parameters and state as they were (ReplayDeclined),
//   the random streams (global and private Generators) rewound;
// - every buffer a replay allocates is either freed, donated (its predecessor freed) or owned by
//   a returned tensor, so steady-state replays hold a constant number of buffers.
import { FUSED_KERNEL_NAMES, type Backend, type DataId, type StridedView } from '../backend.js';
import { runFusedKernel, runKernel, type FusedKernelName, type KernelName } from '../kernel-dispatch.js';
import { defaultGenerator } from '../random.js';
import { Storage } from '../storage.js';
import { Tensor } from '../tensor.js';
import { HeedError } from '../errors.js';
import { nextAdamStep, noteAdamStep } from './adam-steps.js';
import { donate, flushLazy, innerData, wrapData } from './buffers.js';
import { ruleArgs, type ResultTemplate, type Schedule, type ScheduledCall } from './schedule.js';

const FUSED = new Set<string>(FUSED_KERNEL_NAMES);

/**
 * @internal Thrown when a fused kernel declined on replay what it accepted while tracing (a full
 * scratch heap, ...): nothing was changed, the caller runs the step eagerly and retraces.
 *
 * @example
 * ```ts
 * try { replay(...); } catch (e) { if (e instanceof ReplayDeclined) runEagerly(); }
 * ```
 */
export class ReplayDeclined extends Error {
  constructor(readonly kernel: string) {
    super(`compile: ${kernel} declined on replay`);
  }
}

/**
 * @internal The buffers and tensors a replay reads besides its arguments.
 *
 * @example
 * ```ts
 * const bound: ReplayBindings = { args: [x.storage.data], holders: new Map([[7, paramStorage]]) };
 * ```
 */
export interface ReplayBindings {
  /** Computed buffers of the flattened tensor arguments. */
  readonly args: readonly DataId[];
  /** The Storage that holds each persistent slot (parameters, optimizer state, kept gradients). */
  readonly holders: ReadonlyMap<number, Storage>;
}

/** Adam's step for an adam call on this replay: one after its param buffer's, else B's step + r. */
function adamStepFor(call: ScheduledCall, vals: readonly DataId[], r: number): number {
  const rule = call.rule;
  if (rule === null || rule.kind !== 'adam' || rule.step === null) return 0;
  return nextAdamStep(vals[call.views[0].slot]) ?? rule.step + r;
}

function callArgs(call: ScheduledCall, host: readonly unknown[], vals: readonly DataId[]): unknown[] {
  const args = host.slice();
  let copied: Set<number> | null = null;
  for (const v of call.views) {
    const view: StridedView = { data: vals[v.slot], dtype: v.dtype, shape: v.shape, strides: v.strides, offset: v.offset };
    if (v.element < 0) { args[v.arg] = view; continue; }
    if (copied === null) copied = new Set();
    if (!copied.has(v.arg)) { args[v.arg] = (args[v.arg] as unknown[]).slice(); copied.add(v.arg); }
    (args[v.arg] as unknown[])[v.element] = view;
  }
  return args;
}

function invoke(backend: Backend, kernel: KernelName | FusedKernelName, args: unknown[]): unknown {
  if (FUSED.has(kernel)) {
    const out = (runFusedKernel as (b: Backend, k: string, ...a: unknown[]) => unknown)(backend, kernel, ...args);
    if (out === null) throw new ReplayDeclined(kernel);
    return out;
  }
  return (runKernel as (b: Backend, k: string, ...a: unknown[]) => unknown)(backend, kernel, ...args);
}

function buildResult(t: ResultTemplate, vals: readonly DataId[], storages: Map<number, Storage>): unknown {
  switch (t.kind) {
    case 'tensor': {
      let s = storages.get(t.slot);
      if (s === undefined) storages.set(t.slot, (s = new Storage(t.backend, wrapData(t.backend, vals[t.slot], t.dtype, t.size), t.size, t.dtype)));
      else s.retain();
      return new Tensor(s, t.shape, t.strides, t.offset, null);
    }
    case 'array': return t.items.map((i) => buildResult(i, vals, storages));
    case 'object': return Object.fromEntries(t.entries.map(([k, i]) => [k, buildResult(i, vals, storages)]));
    case 'value': return t.value;
  }
}

/**
 * @internal Frees the constants a schedule made (when it is dropped, evicted or re-finalized).
 *
 * @example
 * ```ts
 * releaseConstants(schedule);
 * ```
 */
export function releaseConstants(schedule: Schedule): void {
  const made = schedule.constants;
  schedule.constants = null;
  if (made === null) return;
  for (const c of schedule.calls) if (c.constant) for (const o of c.outs) { const d = made.get(o); if (d !== undefined) runKernel(c.backend, 'free', d); }
}

/**
 * @internal Runs `schedule` as replay number `r` (1 = the first after the traces) and returns the
 * step's value (see the file comment).
 *
 * @example
 * ```ts
 * const loss = replaySchedule(schedule, bindings, 1) as Tensor;
 * ```
 */
export function replaySchedule(schedule: Schedule, bound: ReplayBindings, r: number): unknown {
  const vals: DataId[] = new Array(schedule.slots);
  flushLazy(schedule.lazyBackends);
  schedule.inputs.forEach((src, i) => {
    const d = src.kind === 'arg' ? bound.args[src.index] : innerData(src.kind === 'captured' ? src.storage.data : bound.holders.get(src.slot)!.data);
    if (d === null) throw new HeedError('compile', 'a buffer the compiled step reads was not computed (a disposed tensor?); call reset() on the compiled function.');
    vals[i] = d;
  });
  const calls = schedule.calls;
  if (schedule.constants === null) {
    const made = new Map<number, DataId>();
    for (const c of calls) {
      if (!c.constant) continue;
      const out = invoke(c.backend, c.kernel, c.args.slice());
      (Array.isArray(out) ? (out as DataId[]) : [out as DataId]).forEach((d, o) => made.set(c.outs[o], d));
    }
    schedule.constants = made;
  }
  for (const [slot, d] of schedule.constants) vals[slot] = d;
  const generator = defaultGenerator();
  const { seed, offset } = generator;
  const privateStreams = schedule.generators.map((g) => [g, g.seed, g.offset] as const);
  let done = 0;
  try {
    for (; done < calls.length; done++) {
      const call = calls[done];
      if (call.constant) continue;
      const t = adamStepFor(call, vals, r);
      const host = call.rule === null ? call.args : ruleArgs(call, r, generator, t);
      const out = invoke(call.backend, call.kernel, callArgs(call, host, vals));
      if (t !== 0) noteAdamStep((out as DataId[])[0], t);
      if (call.outs.length === 1 && !Array.isArray(out)) vals[call.outs[0]] = out as DataId;
      else (out as DataId[]).forEach((d, o) => { vals[call.outs[o]] = d; });
      for (const slot of call.freeAfter) runKernel(call.backend, 'free', vals[slot]);
    }
  } catch (e) {
    // Undo: free what this replay still holds, rewind the random stream; holders are untouched.
    const freed = new Set<number>();
    for (let i = 0; i < done; i++) for (const s of calls[i].freeAfter) freed.add(s);
    for (let i = 0; i < done; i++) if (!calls[i].constant) for (const s of calls[i].outs) if (!freed.has(s)) runKernel(calls[i].backend, 'free', vals[s]);
    generator.seed = seed;
    generator.offset = offset;
    for (const [g, s, o] of privateStreams) { g.seed = s; g.offset = o; }
    throw e;
  }
  for (const [slot, holder] of bound.holders) donate(holder, vals[slot]);
  return buildResult(schedule.result, vals, new Map());
}
