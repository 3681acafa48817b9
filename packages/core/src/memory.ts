// SPDX-License-Identifier: MIT
// Tensor bookkeeping: every new tensor is registered with the current scope (scope.ts) and
// with the FinalizationRegistry safety net; `memory()` statistics and the `checkLeaks` test
// helper. Invariant: `numTensors` counts handles neither disposed nor reclaimed by the GC.
import type { Storage } from './storage.js';
import { storageStats } from './storage.js';
import { HeedError } from './errors.js';
import { collectTensors, currentScope, type Scoped } from './scope.js';

let liveTensors = 0;
let reclaimedByGC = 0;
let warnOnGC = false;

interface Held {
  storage: Storage;
  release: () => void;
}

const registry = new FinalizationRegistry<Held>((held) => {
  reclaimedByGC++;
  liveTensors--;
  if (warnOnGC) {
    console.warn(`[heed] a tensor of ${held.storage.size} ${held.storage.dtype} elements was garbage-collected ` +
      'without dispose(); use tidy(), `using`, or dispose() to free backend memory promptly.');
  }
  held.release();
});

/** @internal Registers a new tensor with the current scope and the GC safety net. */
export function trackTensor(t: Scoped, held: Held): void {
  liveTensors++;
  registry.register(t, held, t);
  const scope = currentScope();
  if (scope) {
    scope.owned.add(t);
    t.scope = scope;
  }
}

/** @internal Called by Tensor.dispose(). */
export function untrackTensor(t: Scoped): void {
  liveTensors--;
  registry.unregister(t);
  t.scope?.owned.delete(t);
  t.scope = null;
}

/**
 * Makes the GC safety net print a warning for each tensor it reclaims (off by default).
 *
 * @example
 * ```ts
 * setWarnOnGC(true);
 * ```
 */
export function setWarnOnGC(enabled: boolean): void {
  warnOnGC = enabled;
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
  return { numTensors: liveTensors, numBuffers, numBytes, byBackend, reclaimedByGC };
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
