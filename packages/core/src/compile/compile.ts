// SPDX-License-Identifier: MIT
// compile(fn): a training step (forward, backward, optimizer update) traced once per input
// signature and then replayed as its recorded kernel schedule, with parameters and optimizer
// state updated in place (buffer donation). Per signature (tensor shapes/dtypes/layouts, the
// non-tensor arguments, grad mode) the lifecycle is: `warmup` eager calls (state such as Adam's
// moments is created lazily on the first step), two recorded calls A and B (eager, so their
// results are real; comparing them finds the loop-carried state), then replays. A signature that
// cannot be replayed (the reason is kept in `stats.notCompiled`) runs eagerly for good. Several
// signatures share one model's state: the eager calls of a new one replace the holders of the
// others, which follow the links its warm-up call leaves (`successor`, `refresh`).
// Invariants: a replay gives the values the eager step would; the LRU cache holds at most
// `maxTraces` signatures; anything captured that was replaced or disposed outside the function
// (e.g. loadStateDict, a user `assign`) makes that signature start over rather than replay stale.
import type { Backend, DataId } from '../backend.js';
import { getBackend } from '../registry.js';
import { isGradEnabled } from '../autograd/mode.js';
import { HeedError } from '../errors.js';
import { describeValue } from '../validate.js';
import { defaultGenerator } from '../random.js';
import type { Storage } from '../storage.js';
import { Tensor } from '../tensor.js';
import { flushLazy, innerData, lastBuffer, noteBuffer } from './buffers.js';
import { probe, record, recordingNow, type Recording } from './record.js';
import { ReplayDeclined, releaseConstants, replaySchedule } from './replay.js';
import { buildSchedule, describeSchedule, finalizeFrees, type Schedule } from './schedule.js';

/**
 * How many signatures {@link compile} keeps traced when `maxTraces` is not given.
 *
 * @example
 * ```ts
 * console.log(`trace cache ${options.maxTraces ?? DEFAULT_MAX_TRACES}`);
 * ```
 */
export const DEFAULT_MAX_TRACES = 8;

/**
 * Options of {@link compile}.
 *
 * @example
 * ```ts
 * const step = compile(trainStep, { maxTraces: 4, warmup: 1 });
 * ```
 */
export interface CompileOptions {
  /** Signatures (input shapes...) kept traced, least recently used evicted first (default {@link DEFAULT_MAX_TRACES}, 8). */
  readonly maxTraces?: number;
  /** Eager calls per signature before tracing (default 1: optimizers create their state then). */
  readonly warmup?: number;
  /** Traced calls per signature before giving up when two consecutive ones disagree (default 3). */
  readonly maxAttempts?: number;
  /** What to do when a signature cannot be compiled: warn once and run eagerly (default), or throw. */
  readonly onNotCompiled?: 'warn' | 'throw' | 'silent';
}

/**
 * Counters of a {@link CompiledFunction}.
 *
 * @example
 * ```ts
 * const { replays, traces, eagerCalls, cached, evictions } = step.stats;
 * ```
 */
export interface CompileStats {
  /** Schedules built (one per signature, again after an eviction or a reset). */
  traces: number;
  /** Calls answered by replaying a schedule. */
  replays: number;
  /** Calls run eagerly (warm-up, the two recorded calls, signatures that cannot compile). */
  eagerCalls: number;
  /** Signatures in the cache now. */
  cached: number;
  /** Signatures evicted by the LRU bound. */
  evictions: number;
  /** Why signatures could not be compiled, one line each. */
  notCompiled: string[];
}

/**
 * The function {@link compile} returns: call it like `fn`; it also reports what it did.
 *
 * @example
 * ```ts
 * const step = compile((x: Tensor, y: Tensor) => trainStep(x, y));
 * const loss = step(x, y);
 * step.stats.replays;
 * ```
 */
export interface CompiledFunction<A extends unknown[], R> {
  (...args: A): R;
  /** What the cache did so far. */
  readonly stats: Readonly<CompileStats>;
  /** Drops every trace (the next calls warm up and trace again). */
  reset(): void;
}

type Phase = 'warmup' | 'traceA' | 'traceB' | 'ready' | 'eager';

interface Entry {
  phase: Phase;
  warmups: number;
  attempts: number;
  /** The last warm-up call, recorded: links other signatures' state to this one's (see relink). */
  w: Recording<unknown> | null;
  a: Recording<unknown> | null;
  argsA: DataId[];
  schedule: Schedule | null;
  holders: Map<number, Storage> | null;
  /** A tensor that held each holder when it was bound: where that state lives if it moved. */
  holderTensors: Map<number, WeakRef<Tensor>> | null;
  replays: number;
}

const backendIds = new WeakMap<object, number>();
let nextBackendId = 0;
function backendId(b: object): number {
  let id = backendIds.get(b);
  if (id === undefined) backendIds.set(b, (id = nextBackendId++));
  return id;
}

/** Whether `HEED_DEBUG` (comma-separated) includes `compile`: each schedule is described when it is built. */
function debugCompile(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.HEED_DEBUG;
  return env !== undefined && env.split(',').includes('compile');
}

// A compiled function collected without reset(): free the constants its schedules made.
const schedulesOf = new FinalizationRegistry<Map<string, Entry>>((cache) => {
  for (const e of cache.values()) if (e.schedule !== null) releaseConstants(e.schedule);
});

/** The default backend, when one is set. */
function currentBackend(): Backend[] {
  try {
    return [getBackend()];
  } catch {
    return [];
  }
}

/** The computed buffers of `tensors` (a lazy argument still pending reads as its handle: never matched). */
function argData(tensors: readonly Tensor[]): DataId[] {
  return tensors.map((t) => innerData(t.storage.data) ?? t.storage.data);
}

/** The trace key of `value`, collecting its tensors in order. */
function keyOf(value: unknown, tensors: Tensor[], path: string): string {
  if (value instanceof Tensor) {
    value.assertLive('compile');
    tensors.push(value);
    return `T${value.dtype}[${value.shape}]/${value.strides}+${value.offset}#${value.storage.size}@${backendId(value.backend)}`;
  }
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v, i) => keyOf(v, tensors, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${keyOf(v, tensors, `${path}.${k}`)}`).join(',')}}`;
  }
  throw new HeedError('compile', `argument ${path} is ${describeValue(value)}; a compiled function takes tensors, numbers, strings, ` +
    'booleans and arrays/plain objects of them (they form the trace key). Capture other values (modules, optimizers) in the closure.');
}

/**
 * Compiles `fn`, a training step (forward, backward, optimizer update returning the loss
 * tensor(s)), into a function that replays its recorded kernel schedule.
 *
 * Per input signature (shapes, dtypes and layouts of the tensor arguments, the values of the
 * others, grad mode) the first `warmup` calls run eagerly, the next two are recorded (also
 * eagerly), and later calls replay the schedule without running `fn`'s JavaScript: no op code,
 * autograd tape or validation. Parameters, optimizer moments and kept gradients are updated in
 * place: each replay's new buffer becomes the holder's buffer and the old one is freed, so
 * steady-state replays hold a constant number of buffers. The global random stream, and each
 * `Generator` the step draws from (created outside `fn`), advance on every replay exactly as the
 * eager step would advance them (dropout masks differ per step, follow `manualSeed`, and a
 * Generator's `offset` can be saved and restored to resume); Adam's bias corrections follow its
 * step count.
 *
 * Rules: `fn` must be synchronous and must not read values to the host (`item()`, `data()`,
 * `dataSync()`: a HeedError says so); host values computed inside `fn` (numbers, JS arrays)
 * are frozen at trace time, so pass what changes per step (data, a changing lr) as arguments;
 * returned tensors are new on each call and carry no autograd graph. Signatures that cannot be
 * replayed run eagerly (see `stats.notCompiled`). The nn optimizers' host-side step counters
 * (`stateDict().state[i].step`) are not advanced by replays.
 *
 * @example
 * ```ts
 * const model = new Linear(4, 1);
 * const opt = new Adam(model, { lr: 1e-2 });
 * const step = compile((x: Tensor, y: Tensor) => {
 *   opt.zeroGrad();
 *   const loss = mseLoss(model.forward(x), y);
 *   loss.backward();
 *   opt.step();
 *   return loss.detach();
 * });
 * for (const [x, y] of batches) {
 *   const loss = step(x, y); // calls 1-3 eager (warm-up, two traces), then replays
 *   console.log(await loss.item());
 *   loss.dispose();
 * }
 * ```
 */
export function compile<A extends unknown[], R>(fn: (...args: A) => R, options: CompileOptions = {}): CompiledFunction<A, R> {
  if (typeof fn !== 'function') throw new HeedError('compile', `expected a function, got ${describeValue(fn)}.`);
  const maxTraces = options.maxTraces ?? DEFAULT_MAX_TRACES;
  const warmup = options.warmup ?? 1;
  const maxAttempts = options.maxAttempts ?? 3;
  const onNotCompiled = options.onNotCompiled ?? 'warn';
  if (!Number.isInteger(maxTraces) || maxTraces < 1) throw new HeedError('compile', `maxTraces must be a positive integer, got ${describeValue(maxTraces)}.`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new HeedError('compile', `warmup must be a non-negative integer, got ${describeValue(warmup)}.`);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new HeedError('compile', `maxAttempts must be a positive integer, got ${describeValue(maxAttempts)}.`);
  const cache = new Map<string, Entry>();
  const stats: CompileStats = { traces: 0, replays: 0, eagerCalls: 0, cached: 0, evictions: 0, notCompiled: [] };

  // What became of a state buffer that an eager call of another signature replaced: the Storage
  // that now holds its successor (so traces of several shapes share parameters and moments).
  const successor = new WeakMap<DataId, Storage>();

  const drop = (e: Entry): void => {
    if (e.schedule !== null) releaseConstants(e.schedule);
    e.w = e.a = null;
    e.schedule = null;
    e.holders = null;
    e.holderTensors = null;
  };
  const restart = (e: Entry): void => {
    drop(e);
    Object.assign(e, { phase: 'warmup', warmups: 0, attempts: 0, replays: 0 });
  };
  const giveUp = (e: Entry, key: string, reason: string): void => {
    drop(e);
    e.phase = 'eager';
    const line = `compile: ${fn.name || 'the function'} with arguments ${key} runs eagerly: ${reason}.`;
    stats.notCompiled.push(line);
    if (onNotCompiled === 'throw') throw new HeedError('compile', `${reason}.`);
    if (onNotCompiled === 'warn') console.warn(`[heed] ${line}`);
  };
  const eager = <T>(run: () => T): T => {
    stats.eagerCalls++;
    return run();
  };

  /** Finds the Storage holding each produced buffer B left alive (parameters, moments, kept grads); false if one is unseen. */
  const bindHolders = (e: Entry, b: Recording<unknown>): boolean => {
    const s = e.schedule!;
    const slotOf = new Map<DataId, number>();
    for (const [slot, data] of s.aliveAtEnd) if (!s.resultSlots.has(slot)) slotOf.set(data, slot);
    const holders = new Map<number, Storage>();
    const tensorsOf = new Map<number, WeakRef<Tensor>>();
    for (const t of [...b.births, ...b.readTensors]) {
      const st = t.storage;
      const inner = st.freed ? null : innerData(st.data);
      if (inner === null) continue;
      const slot = slotOf.get(inner);
      if (slot === undefined) continue;
      holders.set(slot, st);
      noteBuffer(st);
      if (!t.isDisposed) tensorsOf.set(slot, new WeakRef(t));
    }
    for (const slot of slotOf.values()) if (!holders.has(slot)) return false;
    for (const slot of s.carried) if (!holders.has(slot)) return false; // e.g. state the step also returns
    finalizeFrees(s, new Set(holders.keys()));
    e.holders = holders;
    e.holderTensors = tensorsOf;
    return true;
  };

  /** Links the state buffers the warm-up call W read to this entry's holders of their successors. */
  const relink = (e: Entry, b: Recording<unknown>): void => {
    const w = e.w, s = e.schedule!;
    e.w = null;
    if (w === null || w.calls.length !== b.calls.length || w.calls.some((c, i) => c.kernel !== b.calls[i].kernel)) return;
    b.calls.forEach((c, i) => c.refs.forEach((ref, v) => {
      const wref = w.calls[i].refs[v];
      if (ref.kind !== 'external' || wref?.kind !== 'external') return;
      const src = s.inputs[s.calls[i].views[v].slot];
      if (src?.kind !== 'carried') return;
      const holder = e.holders!.get(src.slot);
      if (holder !== undefined) successor.set(wref.data, holder);
    }));
  };

  /**
   * Moves holders to where their state lives now: the current Storage of the tensor that held
   * it (a parameter assigned outside the step, e.g. a loaded checkpoint), or the successor an
   * eager call of another signature left. False if some state was lost (the entry starts over).
   */
  const refresh = (e: Entry): boolean => {
    const s = e.schedule!, holders = e.holders!;
    let dropped = false;
    for (const [slot, h0] of holders) {
      let h = h0;
      const t = e.holderTensors?.get(slot)?.deref();
      if (t !== undefined && !t.isDisposed && t.storage !== h && !t.storage.freed && t.isContiguous) h = t.storage;
      for (let n = 0; h.freed && n < 64; n++) {
        const next = successor.get(lastBuffer(h));
        if (next === undefined) break;
        h = next;
      }
      if (!h.freed) { if (h !== h0) holders.set(slot, h); continue; }
      if (s.carried.has(slot)) return false;
      holders.delete(slot); // write-only state (e.g. a kept gradient) now held elsewhere
      dropped = true;
    }
    for (const src of s.inputs) if (src.kind === 'captured' && src.storage.freed) return false;
    if (dropped) { releaseConstants(s); finalizeFrees(s, new Set(holders.keys())); }
    return true;
  };

  const compiled = (...args: A): R => {
    if (recordingNow()) return eager(() => fn(...args)); // nested in another compiled function's recording
    const tensors: Tensor[] = [];
    const key = `${isGradEnabled() ? 'g' : 'n'}(${args.map((a, i) => keyOf(a, tensors, `${i}`)).join(',')})`;
    let e = cache.get(key);
    if (e !== undefined) {
      cache.delete(key);
      cache.set(key, e); // most recently used last
    } else {
      e = { phase: 'warmup', warmups: 0, attempts: 0, w: null, a: null, argsA: [], schedule: null, holders: null, holderTensors: null, replays: 0 };
      cache.set(key, e);
      if (cache.size > maxTraces) {
        const [oldKey, old] = cache.entries().next().value as [string, Entry];
        drop(old);
        cache.delete(oldKey);
        stats.evictions++;
      }
    }
    const entry = e;
    const run = (): R => fn(...args);
    const backends = (): Backend[] => [...new Set([...tensors.map((t) => t.backend), ...currentBackend()])];
    if (entry.phase === 'ready' && !refresh(entry)) restart(entry);
    switch (entry.phase) {
      case 'eager': return eager(run);
      case 'warmup': {
        if (warmup === 0) { entry.phase = 'traceA'; return compiled(...args); }
        if (++entry.warmups < warmup) return eager(() => probe(run));
        entry.phase = 'traceA';
        const rec = eager(() => record(run, backends()));
        entry.w = rec;
        return rec.result as R;
      }
      case 'traceA': {
        const rec = eager(() => record(run, backends()));
        entry.a = rec;
        entry.argsA = argData(tensors);
        entry.phase = 'traceB';
        return rec.result as R;
      }
      case 'traceB': {
        const g = defaultGenerator();
        const start = g.offset;
        const rec = eager(() => record(run, backends()));
        const kept = defaultGenerator() === g;
        const generator = { seed: g.seed, start, end: kept ? g.offset : start, ...(kept ? { global: g } : {}) };
        const argsB = argData(tensors);
        const s = buildSchedule(entry.a!, rec, { argsA: entry.argsA, argsB, generator }, (v): v is Tensor => v instanceof Tensor);
        if (typeof s === 'string') {
          if (++entry.attempts >= maxAttempts) giveUp(entry, key, s);
          else { entry.w = entry.a; entry.a = rec; entry.argsA = argsB; }
          return rec.result as R;
        }
        entry.a = null;
        entry.schedule = s;
        if (!bindHolders(entry, rec)) {
          giveUp(entry, key, 'the step leaves a buffer alive that no tensor compile() can see holds');
          return rec.result as R;
        }
        relink(entry, rec);
        entry.phase = 'ready';
        stats.traces++;
        if (debugCompile()) console.log(`[heed compile] ${fn.name || 'function'} ${key}: ${describeSchedule(s, entry.holders!.size)}`);
        return rec.result as R;
      }
      case 'ready': {
        try {
          flushLazy(backends());
          const out = replaySchedule(entry.schedule!, { args: argData(tensors), holders: entry.holders! }, ++entry.replays) as R;
          stats.replays++;
          return out;
        } catch (err) {
          if (!(err instanceof ReplayDeclined)) throw err;
          restart(entry);
          return eager(() => probe(run));
        }
      }
    }
  };
  const result = compiled as CompiledFunction<A, R>;
  Object.defineProperty(result, 'stats', { get: () => ({ ...stats, cached: cache.size, notCompiled: [...stats.notCompiled] }) });
  (result as { reset: () => void }).reset = () => {
    for (const e of cache.values()) drop(e);
    cache.clear();
  };
  schedulesOf.register(result, cache);
  return result;
}
