// SPDX-License-Identifier: MIT
// Tensor bookkeeping: every new tensor is given to the current scope (scope.ts, which also
// decides whether the GC safety net of gc-net.ts watches it); `memory()` statistics and the
// `checkLeaks` test helper; a hook telling compile's recorder about each new tensor.
// Invariant: `numTensors` counts handles neither disposed nor reclaimed by the GC.
import { storageStats } from './storage.js';
import { HeedError } from './errors.js';
import { adoptNew, collectTensors, disown, type Scoped } from './scope.js';
import { reclaimedCount } from './gc-net.js';

export { setWarnOnGC } from './gc-net.js';

/** Handles made and not disposed (those the GC reclaimed are subtracted when read). */
let tracked = 0;
let onBirth: ((t: Scoped) => void) | null = null;

/** @internal Gives a new tensor to the current scope (and the GC safety net when needed). */
export function trackTensor(t: Scoped): void {
  tracked++;
  onBirth?.(t);
  adoptNew(t);
}

/** @internal Called by Tensor.dispose(). */
export function untrackTensor(t: Scoped): void {
  tracked--;
  disown(t);
}

/**
 * @internal Calls `fn` with every tensor created from now on (`null` stops); returns the
 * previous watcher, to restore. For compile's recorder, which must know the step's new tensors.
 */
export function watchBirths(fn: ((t: Scoped) => void) | null): ((t: Scoped) => void) | null {
  const previous = onBirth;
  onBirth = fn;
  return previous;
}

/**
 * Memory statistics.
 *
 * @example
 * ```ts
 * const { numTensors, numBuffers, numBytes } = memory();
 * ```
 */
export interface MemoryInfo {
  /** Live (not disposed) tensor handles. */
  numTensors: number;
  /** Live backend buffers, all backends. */
  numBuffers: number;
  /** Bytes held by live buffers, all backends. */
  numBytes: number;
  /** Buffers and bytes per backend name. */
  byBackend: Record<string, { buffers: number; bytes: number }>;
  /** Tensors freed by the FinalizationRegistry because they were never disposed. */
  reclaimedByGC: number;
}

/**
 * Current memory statistics.
 *
 * @example
 * ```ts
 * console.log(memory().numBuffers);
 * ```
 */
export function memory(): MemoryInfo {
  const byBackend: MemoryInfo['byBackend'] = {};
  let numBuffers = 0;
  let numBytes = 0;
  for (const [name, s] of storageStats()) {
    byBackend[name] = { buffers: s.buffers, bytes: s.bytes };
    numBuffers += s.buffers;
    numBytes += s.bytes;
  }
  const reclaimedByGC = reclaimedCount();
  return { numTensors: tracked - reclaimedByGC, numBuffers, numBytes, byBackend, reclaimedByGC };
}

/**
 * Runs `fn` (sync or async) and throws if it leaves more live buffers or tensors than before,
 * ignoring those reachable from its return value. For tests.
 *
 * @example
 * ```ts
 * await checkLeaks(() => tidy(() => { exp(ones([3])); }));
 * ```
 */
export async function checkLeaks<T>(fn: () => T | Promise<T>, label = 'checkLeaks'): Promise<T> {
  const before = memory();
  const result = await fn();
  const kept = new Set<Scoped>();
  collectTensors(result, kept);
  const after = memory();
  const extraTensors = after.numTensors - before.numTensors - kept.size;
  const extraBuffers = after.numBuffers - before.numBuffers;
  if (extraTensors > 0 || extraBuffers > kept.size) {
    throw new HeedError(label, `leaked ${extraTensors} tensor(s) and ${extraBuffers - kept.size} buffer(s) ` +
      `(before: ${before.numTensors} tensors/${before.numBuffers} buffers, after: ${after.numTensors}/${after.numBuffers}). ` +
      'Dispose intermediates, or wrap the code in tidy().');
  }
  return result;
}
