// SPDX-License-Identifier: MIT
// profile(fn): what a function costs in kernels, seen at core's one dispatch seam
// (kernel-dispatch.ts): per kernel the number of calls, host milliseconds and bytes read, plus
// the total dispatch count. Under lazy execution the LazyBackend's own (recording) calls are
// not counted; the calls it makes to the backend that really computes are, so the figures say
// what ran. Invariant: pending lazy work (of the current backend and of every lazy backend fn
// used) is flushed before the profile ends, so it is included.
import type { Backend, StridedView } from './backend.js';
import { DTYPE_INFO } from './dtype.js';
import { onKernelTimed, type FusedKernelName, type KernelName } from './kernel-dispatch.js';
import { LazyBackend } from './lazy/lazy-backend.js';
import { flush } from './registry.js';

/** Kernel calls that move or release data rather than compute; not counted as dispatches. */
const TRANSFERS = new Set<string>(['upload', 'read', 'readSync', 'free', 'flush', 'savedForBackward']);

/**
 * One row of a {@link Profile}: a kernel of one backend.
 *
 * @example
 * ```ts
 * const row: KernelProfile = { backend: 'cpu', kernel: 'matmul', calls: 18, ms: 6.1, bytesRead: 4_718_592 };
 * ```
 */
export interface KernelProfile {
  /** The backend that ran it. */
  readonly backend: string;
  /** The kernel (a primitive, or a fused kernel such as `elementwise` or `softmax`). */
  readonly kernel: KernelName | FusedKernelName;
  /** How many times it ran. */
  readonly calls: number;
  /** Host time spent in it, milliseconds (on WebGPU: encoding and submission, not GPU time). */
  readonly ms: number;
  /** Bytes of the views it read (elements x bytes per element of every view argument). */
  readonly bytesRead: number;
}

/**
 * What {@link profile} measured.
 *
 * @example
 * ```ts
 * const { dispatches, kernels } = await profile(() => step());
 * ```
 */
export interface Profile<T> {
  /** `fn`'s result. */
  readonly result: T;
  /** Compute kernel calls (everything but upload/read/free/flush). */
  readonly dispatches: number;
  /** Wall time of `fn` plus the final flush, milliseconds. */
  readonly ms: number;
  /** Per-kernel rows, most time first. */
  readonly kernels: readonly KernelProfile[];
}

function viewBytes(args: readonly unknown[]): number {
  let bytes = 0;
  const add = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(add); return; }
    if (typeof v !== 'object' || v === null || !('strides' in v) || !('shape' in v) || !('dtype' in v)) return;
    const view = v as StridedView;
    let n = DTYPE_INFO[view.dtype]?.bytesPerElement ?? 4;
    for (const d of view.shape) n *= d;
    bytes += n;
  };
  args.forEach(add);
  return bytes;
}

/**
 * Runs `fn` (sync or async), flushes pending work, and reports the kernels it dispatched: the
 * count, and per kernel its calls, host time and bytes read.
 *
 * @example
 * ```ts
 * const p = await profile(() => tidy(() => relu(x.mul(a).add(b))));
 * console.log(p.dispatches, p.kernels.map((k) => `${k.kernel} x${k.calls} ${k.ms.toFixed(2)} ms`));
 * p.result.dispose();
 * ```
 */
export async function profile<T>(fn: () => T | Promise<T>): Promise<Profile<T>> {
  const rows = new Map<string, { backend: string; kernel: KernelName | FusedKernelName; calls: number; ms: number; bytesRead: number }>();
  let dispatches = 0;
  const lazyBackends = new Set<LazyBackend>();
  const stop = onKernelTimed((backend: Backend, kernel, args, ms) => {
    if (backend instanceof LazyBackend) { lazyBackends.add(backend); return; } // its inner calls are the real ones
    if (!TRANSFERS.has(kernel)) dispatches++;
    const key = `${backend.name}\u0000${kernel}`;
    const row = rows.get(key) ?? { backend: backend.name, kernel, calls: 0, ms: 0, bytesRead: 0 };
    row.calls++;
    row.ms += ms;
    row.bytesRead += viewBytes(args);
    rows.set(key, row);
  });
  const t0 = performance.now();
  try {
    const result = await fn();
    await flush();
    for (const b of lazyBackends) b.flush();
    return { result, dispatches, ms: performance.now() - t0, kernels: [...rows.values()].sort((a, b) => b.ms - a.ms) };
  } finally {
    stop();
  }
}
