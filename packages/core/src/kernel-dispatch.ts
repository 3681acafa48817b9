// SPDX-License-Identifier: MIT
// The one seam between core and backends: every kernel call from core goes through runKernel
// (primitives, readSync) or runFusedKernel (optional fused kernels), where observers can watch
// (and one recorder, compile()'s tracer, sees each call's result).
import type { Backend, FusedKernels, Primitives } from './backend.js';

/**
 * The kernels every caller may expect: the primitives, plus `readSync` (callers check
 * `capabilities.syncRead` first), `flush` and `savedForBackward` (callers check that they exist).
 *
 * @example
 * ```ts
 * type Upload = Kernels['upload']; // (values, dtype) => DataId
 * ```
 */
export type Kernels = Primitives & Required<Pick<Backend, 'readSync' | 'flush' | 'savedForBackward'>>;

/**
 * Names of the kernels `runKernel` dispatches.
 *
 * @example
 * ```ts
 * const k: KernelName = 'matmul';
 * ```
 */
export type KernelName = keyof Kernels;

/**
 * Names of the optional fused kernels `runFusedKernel` dispatches.
 *
 * @example
 * ```ts
 * const k: FusedKernelName = 'softmax';
 * ```
 */
export type FusedKernelName = keyof FusedKernels;

/**
 * @internal Sees every kernel call core makes, just before it reaches the backend.
 *
 * @example
 * ```ts
 * const stop = onKernel((backend, kernel) => console.log(backend.name, kernel));
 * ```
 */
export type KernelObserver = (backend: Backend, kernel: KernelName | FusedKernelName, args: readonly unknown[]) => void;

let observers: readonly KernelObserver[] = [];
let timers: readonly KernelTimer[] = [];
let recorder: KernelRecorder | null = null;

/**
 * @internal Sees every kernel call after it returned, with its result (what `compile()` traces
 * with). At most one is installed at a time.
 *
 * @example
 * ```ts
 * const previous = setKernelRecorder((backend, kernel, args, result) => calls.push({ kernel, result }));
 * ```
 */
export type KernelRecorder = (backend: Backend, kernel: KernelName | FusedKernelName, args: readonly unknown[], result: unknown) => void;

/**
 * @internal Installs `fn` (or none, with null) as the kernel recorder; returns the previous one.
 *
 * @example
 * ```ts
 * const previous = setKernelRecorder(record);
 * try { fn(); } finally { setKernelRecorder(previous); }
 * ```
 */
export function setKernelRecorder(fn: KernelRecorder | null): KernelRecorder | null {
  const previous = recorder;
  recorder = fn;
  return previous;
}

/**
 * @internal Sees every kernel call after it returned, with its host time in milliseconds
 * (what `profile()` builds on).
 *
 * @example
 * ```ts
 * const stop = onKernelTimed((backend, kernel, _args, ms) => console.log(kernel, ms));
 * ```
 */
export type KernelTimer = (backend: Backend, kernel: KernelName | FusedKernelName, args: readonly unknown[], ms: number) => void;

/**
 * @internal Installs `fn` to time every kernel call; returns a function that removes it.
 *
 * @example
 * ```ts
 * const stop = onKernelTimed((_b, kernel, _a, ms) => total += ms);
 * ```
 */
export function onKernelTimed(fn: KernelTimer): () => void {
  timers = [...timers, fn];
  return () => {
    timers = timers.filter((t) => t !== fn);
  };
}

function timed<R>(backend: Backend, kernel: KernelName | FusedKernelName, args: readonly unknown[], run: () => R): R {
  const t0 = performance.now();
  try {
    return run();
  } finally {
    const ms = performance.now() - t0;
    for (const t of timers) t(backend, kernel, args, ms);
  }
}

/**
 * @internal Installs `fn` to see every kernel call (lazy recording and profiling hook here);
 * returns a function that removes it again.
 *
 * @example
 * ```ts
 * const seen: string[] = [];
 * const stop = onKernel((_backend, kernel) => seen.push(kernel));
 * add(x, y);
 * stop(); // seen: ['binary']
 * ```
 */
export function onKernel(fn: KernelObserver): () => void {
  observers = [...observers, fn];
  return () => {
    observers = observers.filter((o) => o !== fn);
  };
}

function notify(backend: Backend, kernel: KernelName | FusedKernelName, args: readonly unknown[]): void {
  for (const o of observers) o(backend, kernel, args);
}

/**
 * Calls the kernel `kernel` of `backend` with `args`: the only way core reaches a backend.
 * `readSync` and `flush` are optional on a backend; check for them before calling.
 *
 * @example
 * ```ts
 * const data = runKernel(backend, 'fill', 4, 0, 'float32');
 * ```
 */
export function runKernel<K extends KernelName>(backend: Backend, kernel: K, ...args: Parameters<Kernels[K]>): ReturnType<Kernels[K]> {
  if (observers.length !== 0) notify(backend, kernel, args);
  const fn = backend[kernel] as (...a: Parameters<Kernels[K]>) => ReturnType<Kernels[K]>;
  const result = timers.length === 0 ? fn.apply(backend, args) : timed(backend, kernel, args, () => fn.apply(backend, args));
  if (recorder !== null) recorder(backend, kernel, args, result);
  return result;
}

/**
 * Calls the optional fused kernel `kernel` of `backend`, or returns null when the backend lacks
 * it (without calling anything) or declines the call; core then runs its fallback.
 *
 * @example
 * ```ts
 * const data = runFusedKernel(backend, 'softmax', view) ?? softmaxFromPrimitives(view);
 * ```
 */
export function runFusedKernel<K extends FusedKernelName>(backend: Backend, kernel: K, ...args: Parameters<FusedKernels[K]>): ReturnType<FusedKernels[K]> | null {
  const fn = backend[kernel] as ((...a: Parameters<FusedKernels[K]>) => ReturnType<FusedKernels[K]>) | undefined;
  if (fn === undefined) return null;
  if (observers.length !== 0) notify(backend, kernel, args);
  const result = timers.length === 0 ? fn.apply(backend, args) : timed(backend, kernel, args, () => fn.apply(backend, args));
  if (recorder !== null && result !== null) recorder(backend, kernel, args, result);
  return result;
}

/**
 * Whether `backend` has the optional fused kernel `kernel` (it may still decline a call).
 *
 * @example
 * ```ts
 * if (hasFusedKernel(backend, 'attention')) { ... }
 * ```
 */
export function hasFusedKernel(backend: Backend, kernel: FusedKernelName): boolean {
  return backend[kernel] !== undefined;
}
