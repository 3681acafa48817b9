// SPDX-License-Identifier: MIT
// The buffer behind a Storage, as compile() sees it: the computing backend's DataId. Under lazy
// execution a Storage's data is the LazyBackend's handle (a LazyBuffer, whose `inner` is the
// computed buffer of the inner backend); elsewhere it is the backend's own DataId. compile()
// records and replays the computing backend's calls, so it reads, swaps (donation) and wraps
// buffers through these helpers only. Invariant: a lazy handle is read only once computed
// (callers flush the lazy backends first); swapping replaces the computed buffer in place.
import type { Backend, DataId } from '../backend.js';
import type { DType } from '../dtype.js';
import { HeedError } from '../errors.js';
import { runKernel } from '../kernel-dispatch.js';
import { LazyBackend } from '../lazy/lazy-backend.js';
import type { Storage } from '../storage.js';

/** What compile() relies on in the LazyBackend's handle (see lazy/graph.ts's LazyBuffer). */
interface LazyHandle { inner: DataId | null; pending: unknown }

function lazyHandle(data: DataId): LazyHandle | null {
  return 'inner' in data && 'pending' in data ? (data as LazyHandle) : null;
}

/**
 * @internal The computing backend's buffer behind `data` (a lazy handle's computed buffer, or
 * `data` itself); null for a lazy handle that is not computed yet.
 *
 * @example
 * ```ts
 * const id = innerData(tensor.storage.data);
 * ```
 */
export function innerData(data: DataId): DataId | null {
  const h = lazyHandle(data);
  return h === null ? data : h.pending === null ? h.inner : null;
}

/**
 * @internal The backend that computes for `backend` (a LazyBackend's inner backend).
 *
 * @example
 * ```ts
 * runKernel(computing(storage.backend), 'free', old);
 * ```
 */
export function computing(backend: Backend): Backend {
  return backend instanceof LazyBackend ? backend.inner : backend;
}

/** The computed buffer each holder Storage was last given or seen with (a freed lazy handle forgets its own). */
const lastBuffers = new WeakMap<Storage, DataId>();

/**
 * @internal The computed buffer `storage` holds, or held when it was freed (as far as compile()
 * saw: bound as a holder or donated to).
 *
 * @example
 * ```ts
 * successor.get(lastBuffer(holder));
 * ```
 */
export function lastBuffer(storage: Storage): DataId {
  return (storage.freed ? undefined : innerData(storage.data)) ?? lastBuffers.get(storage) ?? storage.data;
}

/**
 * @internal Notes the computed buffer `storage` holds now (see {@link lastBuffer}).
 *
 * @example
 * ```ts
 * noteBuffer(holder);
 * ```
 */
export function noteBuffer(storage: Storage): void {
  const d = innerData(storage.data);
  if (d !== null) lastBuffers.set(storage, d);
}

/**
 * @internal Makes `storage` hold the computed buffer `data` instead of its current one, which is
 * freed (buffer donation). The Storage object, and every tensor viewing it, stays the same.
 *
 * @example
 * ```ts
 * donate(paramStorage, newBuffer);
 * ```
 */
export function donate(storage: Storage, data: DataId): void {
  const h = lazyHandle(storage.data);
  let old: DataId | null;
  if (h !== null) {
    old = h.inner;
    h.inner = data;
  } else {
    old = storage.data;
    (storage as { data: DataId }).data = data;
  }
  storage.version++;
  lastBuffers.set(storage, data);
  if (old !== null) runKernel(computing(storage.backend), 'free', old);
}

/**
 * @internal A DataId of `backend` (the tensor-level backend) for the computed buffer `data`:
 * `data` itself, or a new computed lazy handle around it.
 *
 * @example
 * ```ts
 * const s = new Storage(backend, wrapData(backend, id, 'float32', 4), 4, 'float32');
 * ```
 */
export function wrapData(backend: Backend, data: DataId, dtype: DType, size: number): DataId {
  if (!(backend instanceof LazyBackend)) return data;
  const ready = (backend as unknown as { ready?: (d: DataId, t: DType, s: readonly number[]) => DataId }).ready;
  if (typeof ready !== 'function') throw new HeedError('compile', 'this LazyBackend cannot wrap computed buffers (no ready()); run the compiled function without HEED_LAZY.');
  return ready.call(backend, data, dtype, [size]);
}

/**
 * @internal Computes pending lazy work of every LazyBackend in `backends` (so that handles read
 * next are computed and no pending node reads a buffer about to be swapped).
 *
 * @example
 * ```ts
 * flushLazy([getBackend()]);
 * ```
 */
export function flushLazy(backends: Iterable<Backend>): void {
  for (const b of backends) if (b instanceof LazyBackend) runKernel(b, 'flush');
}
