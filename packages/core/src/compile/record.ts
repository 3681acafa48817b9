// SPDX-License-Identifier: MIT
// Records one call of a function for compile(): every kernel call that reaches a computing
// backend (through kernel-dispatch.ts's recorder seam), with each view operand resolved to the
// call and result slot that produced its buffer in this recording, or to the outside buffer it
// reads. Also notes which tensors were born and which tensors' views were read while recording,
// so the analysis can find the tensors that hold the buffers a step leaves alive.
// Invariants:
// - only calls whose backend computes are recorded (a LazyBackend's own calls are not; the
//   calls it makes to its inner backend are), so a replay runs the fused schedule;
// - a buffer id freed and handed out again is a new value (ids are versioned by production);
// - pending lazy work of the arguments' and the default backend is computed before recording
//   starts, so only the step's own work is recorded;
// - eager adam calls get their bias corrections from compile()'s step count (adam-steps.ts);
// - each 'random' call notes the Generator it drew from (random.ts's watchDraws tells it just
//   before the call), so a replay can draw from and advance that same Generator;
// - host reads (read/readSync) while recording throw a HeedError naming compile and the fix;
// - the hooks (recorder, Tensor.prototype.stridedView, memory.ts's watchBirths)
//   are installed only for the extent of one recording and always restored.
import type { Backend, DataId, StridedView } from '../backend.js';
import { HeedError } from '../errors.js';
import { onKernel, runKernel, setKernelRecorder, type FusedKernelName, type KernelName } from '../kernel-dispatch.js';
import { LazyBackend } from '../lazy/lazy-backend.js';
import type { Storage } from '../storage.js';
import { correctAdamArgs, noteAdamResult } from './adam-steps.js';
import { flushLazy, innerData } from './buffers.js';
import { Tensor } from '../tensor.js';
import { watchDraws, type Generator } from '../random.js';
import { watchBirths } from '../memory.js';

/**
 * @internal Where a recorded view operand's buffer came from: a result of an earlier recorded
 * call (`call`, `out`), or a buffer that existed before (`data`).
 *
 * @example
 * ```ts
 * const ref: BufferRef = { kind: 'produced', call: 3, out: 0 };
 * ```
 */
export type BufferRef =
  | { readonly kind: 'produced'; readonly call: number; readonly out: number }
  | { readonly kind: 'external'; readonly data: DataId };

/**
 * @internal One recorded kernel call. `args` are as the backend saw them; `refs` lists, in the
 * order {@link forEachView} visits them, where each view operand's buffer came from.
 *
 * @example
 * ```ts
 * const c: RecordedCall = { backend, kernel: 'matmul', args: [a, b], refs: [ra, rb], outs: [id] };
 * ```
 */
export interface RecordedCall {
  readonly backend: Backend;
  readonly kernel: KernelName | FusedKernelName;
  readonly args: readonly unknown[];
  readonly refs: readonly BufferRef[];
  readonly outs: readonly DataId[];
  /** For a 'random' call: the Generator it drew from (undefined when not drawn through random.ts). */
  readonly generator?: Generator;
}

/**
 * @internal What one recorded call of a function did.
 *
 * @example
 * ```ts
 * const rec = record(() => step(x)); rec.calls.length;
 * ```
 */
export interface Recording<T> {
  readonly calls: readonly RecordedCall[];
  /** Buffers produced while recording and not freed by the end, with their producing slot. */
  readonly live: ReadonlyMap<DataId, { readonly call: number; readonly out: number }>;
  /** Tensors created while recording. */
  readonly births: readonly Tensor[];
  /** The Storage of each outside buffer read (through a tensor's view). */
  readonly readers: ReadonlyMap<DataId, Storage>;
  /** Tensors whose views were read. */
  readonly readTensors: ReadonlySet<Tensor>;
  /** Lazy backends whose inner calls were recorded (flushed before a replay). */
  readonly lazyBackends: ReadonlySet<LazyBackend>;
  readonly result: T;
  /** The return value's structure with each tensor as its producing slot and view (to compare recordings). */
  readonly resultShape: string;
}

/** Kernels that move data to the host or only submit work: never part of a schedule. */
const HOST_READS = new Set<string>(['read', 'readSync']);
const NOT_RECORDED = new Set<string>(['free', 'flush', 'savedForBackward']);

/**
 * @internal Whether `v` is a {@link StridedView} (a kernel's view operand).
 *
 * @example
 * ```ts
 * isView({ data, dtype: 'float32', shape: [2], strides: [1], offset: 0 }); // true
 * ```
 */
export function isView(v: unknown): v is StridedView {
  return typeof v === 'object' && v !== null && 'data' in v && 'strides' in v && 'shape' in v && 'offset' in v && 'dtype' in v;
}

/**
 * @internal Calls `visit` for every view operand of a kernel's `args` in a fixed order (top-level
 * views, then views inside arrays such as concat's inputs), with its path `[arg, element]`.
 *
 * @example
 * ```ts
 * forEachView(args, (view, arg, element) => console.log(arg, element, view.shape));
 * ```
 */
export function forEachView(args: readonly unknown[], visit: (view: StridedView, arg: number, element: number) => void): void {
  args.forEach((a, i) => {
    if (isView(a)) visit(a, i, -1);
    else if (Array.isArray(a)) a.forEach((e, j) => { if (isView(e)) visit(e, i, j); });
  });
}

function hostReadError(kernel: string): HeedError {
  return new HeedError('compile', `the traced function read values to the host (${kernel}: item(), data(), array() or dataSync()) ` +
    'while compile() was recording it; a compiled step cannot stop for the host. Return the tensor from the function and read it ' +
    'after the call (e.g. `const loss = step(x); await loss.item()`), or run that code outside the compiled function.');
}

/**
 * @internal Runs `fn` while only checking that it makes no host reads (a compile warm-up call).
 *
 * @example
 * ```ts
 * const result = probe(() => step(x));
 * ```
 */
export function probe<T>(fn: () => T): T {
  const previous = setKernelRecorder((_b, kernel, args, result) => {
    if (HOST_READS.has(kernel)) throw hostReadError(kernel);
    if (kernel === 'adam') noteAdamResult(args, result);
  });
  const stopCorrecting = onKernel(correctAdam);
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    stopCorrecting();
    setKernelRecorder(previous);
  }
}

let depth = 0;

/** Eager adam calls of a compiled function continue compile()'s step count (see adam-steps.ts). */
const correctAdam = (_b: Backend, kernel: string, args: readonly unknown[]): void => {
  if (kernel === 'adam') correctAdamArgs(args as unknown[]);
};

/**
 * @internal Whether a compile() warm-up or recording is running now (a nested compiled function
 * then runs its function eagerly, so the outer recording sees its kernels).
 *
 * @example
 * ```ts
 * if (recordingNow()) return fn(...args);
 * ```
 */
export function recordingNow(): boolean {
  return depth > 0;
}

function copyArg(a: unknown): unknown {
  if (ArrayBuffer.isView(a) && !(a instanceof DataView)) return (a as unknown as { slice(): unknown }).slice();
  return a;
}

/**
 * @internal Runs `fn` once, eagerly, recording its kernel calls (see the file comment), after
 * computing the pending work of the lazy backends in `before` (the arguments' and the default).
 *
 * @example
 * ```ts
 * const rec = record(() => step(x), [x.backend]);
 * ```
 */
export function record<T>(fn: () => T, before: Iterable<Backend> = []): Recording<T> {
  flushLazy(before); // pending work from outside the step must not be computed (and recorded) inside it
  const calls: RecordedCall[] = [];
  const live = new Map<DataId, { call: number; out: number }>();
  const births: Tensor[] = [];
  const readers = new Map<DataId, Storage>();
  const readTensors = new Set<Tensor>();
  const reads: [DataId, Storage][] = [];
  const lazyBackends = new Set<LazyBackend>();
  const drawn: Generator[] = [];
  const recorder = (backend: Backend, kernel: KernelName | FusedKernelName, args: readonly unknown[], result: unknown): void => {
    if (HOST_READS.has(kernel)) throw hostReadError(kernel);
    if (backend instanceof LazyBackend) { lazyBackends.add(backend); return; } // its calls to the inner backend are the real ones
    if (kernel === 'free') { live.delete(args[0] as DataId); return; }
    if (kernel === 'adam') noteAdamResult(args, result);
    if (NOT_RECORDED.has(kernel)) return;
    const refs: BufferRef[] = [];
    forEachView(args, (view) => {
      const slot = live.get(view.data);
      refs.push(slot ? { kind: 'produced', call: slot.call, out: slot.out } : { kind: 'external', data: view.data });
    });
    const outs = (Array.isArray(result) ? result : [result]) as DataId[];
    const index = calls.length;
    outs.forEach((d, out) => live.set(d, { call: index, out }));
    const drew = kernel === 'random' ? drawn.shift() : undefined;
    const generator = drew !== undefined && drew.seed === args[2] ? drew : undefined;
    calls.push({ backend, kernel, args: args.map(copyArg), refs, outs, ...(generator ? { generator } : {}) });
  };
  const proto = Tensor.prototype as unknown as { stridedView(this: Tensor, op: string): StridedView };
  const stridedView = proto.stridedView;
  proto.stridedView = function (this: Tensor, op: string): StridedView {
    const v = stridedView.call(this, op);
    readTensors.add(this);
    reads.push([v.data, this.storage]);
    return v;
  };
  // a recording nested in another tells both
  const previousBirths = watchBirths((t) => { if (t instanceof Tensor) births.push(t); previousBirths?.(t); });
  const previous = setKernelRecorder(recorder);
  const previousWatcher = watchDraws((g) => { drawn.push(g); });
  const stopCorrecting = onKernel(correctAdam);
  depth++;
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new HeedError('compile', 'the function returned a Promise; compile() traces synchronous steps only. Move the awaits ' +
        '(reads, data loading) outside the compiled function and call it on the loaded tensors.');
    }
    for (const b of lazyBackends) runKernel(b, 'flush'); // pending lazy work is part of the step
    for (const [data, storage] of reads) {
      const inner = innerData(data);
      if (inner !== null && !live.has(inner)) readers.set(inner, storage);
    }
    const resultShape = JSON.stringify(result, (_k, v: unknown) => {
      if (!(v instanceof Tensor)) return v;
      const inner = innerData(v.storage.data);
      return { slot: inner === null ? null : live.get(inner) ?? null, shape: v.shape, strides: v.strides, offset: v.offset, dtype: v.dtype };
    });
    return { calls, live, births, readers, readTensors, lazyBackends, result, resultShape };
  } finally {
    depth--;
    stopCorrecting();
    watchDraws(previousWatcher);
    setKernelRecorder(previous);
    proto.stridedView = stridedView;
    watchBirths(previousBirths);
  }
}
