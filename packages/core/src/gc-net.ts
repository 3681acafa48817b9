// SPDX-License-Identifier: MIT
// The garbage-collection safety net: a tensor that nothing will dispose (no scope owns it, or
// only one that may never end) is watched by a FinalizationRegistry, so if the program drops it
// without dispose() the GC still frees its backend buffer. A tensor owned by a synchronous scope
// (tidy, beginScope inside one) is not watched: that scope holds it strongly and always ends
// within its synchronous extent, disposing or handing it on, so a registration could never fire
// — and each one costs a WeakCell in V8's old space, garbage that only a full collection frees
// (in a training loop it was most of the JS heap's growth). scope.ts moves tensors between
// owners and calls `watch`/`unwatch` on the transitions; memory.ts reports `reclaimedCount()`.
// Invariant: a live tensor is watched exactly when `needsNet(its scope)`.
import type { Scope } from './scope.js';

/**
 * What the safety net frees when the GC reclaims an undisposed tensor: its storage and
 * autograd node (never the tensor itself, which the registry must not keep alive).
 *
 * @example
 * ```ts
 * const held: GcHeld = { storage: { size: 4, dtype: 'float32' }, release() {} };
 * ```
 */
export interface GcHeld {
  readonly storage: { readonly size: number; readonly dtype: string };
  release(): void;
}

let reclaimed = 0;
let warnOnGC = false;

const registry = new FinalizationRegistry<GcHeld>((held) => {
  reclaimed++;
  if (warnOnGC) {
    console.warn(`[heed] a tensor of ${held.storage.size} ${held.storage.dtype} elements was garbage-collected ` +
      'without dispose(); use tidy(), `using`, or dispose() to free backend memory promptly.');
  }
  held.release();
});

/**
 * Whether a tensor owned by `scope` (null: none) needs the safety net: unless a synchronous
 * scope owns it, which is sure to end.
 *
 * @example
 * ```ts
 * needsNet(null); // true
 * ```
 */
export function needsNet(scope: Scope | null): boolean {
  return scope === null || scope.kind !== 'sync';
}

/**
 * Starts watching `t`: when the GC reclaims it undisposed, `held` is released.
 *
 * @example
 * ```ts
 * watch(t, t.held);
 * ```
 */
export function watch(t: object, held: GcHeld): void {
  registry.register(t, held, t);
}

/**
 * Stops watching `t` (disposed, or moved into a synchronous scope).
 *
 * @example
 * ```ts
 * unwatch(t);
 * ```
 */
export function unwatch(t: object): void {
  registry.unregister(t);
}

/**
 * How many tensors the safety net has reclaimed so far.
 *
 * @example
 * ```ts
 * if (reclaimedCount() > 0) console.warn('some tensors were never disposed');
 * ```
 */
export function reclaimedCount(): number {
  return reclaimed;
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
