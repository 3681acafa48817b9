// SPDX-License-Identifier: MIT
// Tensor lifetime: scopes (`tidy`, explicit begin/end for async code), `keep`, the
// FinalizationRegistry safety net, `memory()` statistics and the leak checker.
// Invariant: a tensor belongs to at most one scope; ending a scope disposes exactly the
// tensors still owned by it that are not part of the returned value.
import type { Storage } from './storage.js';
import { storageStats } from './storage.js';
import { HeedError } from './errors.js';

/**
 * What the scope machinery needs from a tensor (avoids an import cycle with tensor.ts).
 *
 * @example
 * ```ts
 * const s: Scoped = zeros([1]);
 * ```
 */
export interface Scoped {
  /** @internal */ scope: Scope | null;
  readonly isDisposed: boolean;
  dispose(): void;
}

/**
 * A set of tensors that are disposed together. Create with {@link beginScope}.
 *
 * @example
 * ```ts
 * const scope = beginScope();
 * const t = zeros([2]);
 * endScope(scope); // t is disposed
 * ```
 */
export class Scope {
  /** @internal */ readonly owned = new Set<Scoped>();
  /** @internal */ ended = false;
  constructor(readonly name: string) {}
}

const stack: Scope[] = [];
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
  const scope = stack[stack.length - 1];
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
 * Opens a scope: tensors created until the matching {@link endScope} belong to it.
 * Use this for async code, where `tidy` cannot be used. Concurrent async work that creates
 * tensors while the scope is open is attributed to it too.
 *
 * @example
 * ```ts
 * const scope = beginScope();
 * try { const y = relu(x); await y.data(); } finally { endScope(scope); }
 * ```
 */
export function beginScope(name = 'scope'): Scope {
  const scope = new Scope(name);
  stack.push(scope);
  return scope;
}

function collectTensors(value: unknown, out: Set<Scoped>, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if ('isDisposed' in value && 'dispose' in value && 'scope' in value) {
    out.add(value as Scoped);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collectTensors(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collectTensors(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collectTensors(v, out, seen);
}

/**
 * Closes `scope`, disposing every tensor it owns except those inside `keepValue` (tensors,
 * arrays, maps or plain objects of tensors), which move to the enclosing scope.
 *
 * @example
 * ```ts
 * const scope = beginScope();
 * const y = exp(x);
 * endScope(scope, y); // y survives, temporaries are freed
 * ```
 */
export function endScope(scope: Scope, keepValue?: unknown): void {
  if (scope.ended) throw new HeedError('endScope', `scope '${scope.name}' was already ended.`);
  const index = stack.lastIndexOf(scope);
  if (index === -1) throw new HeedError('endScope', `scope '${scope.name}' is not open.`);
  // Inner scopes left open (e.g. by an exception) are closed first.
  while (stack.length > index + 1) endScope(stack[stack.length - 1]);
  stack.pop();
  scope.ended = true;
  const kept = new Set<Scoped>();
  collectTensors(keepValue, kept);
  const parent = stack[stack.length - 1] ?? null;
  for (const t of [...scope.owned]) {
    if (kept.has(t)) {
      t.scope = parent;
      parent?.owned.add(t);
    } else {
      t.dispose();
    }
  }
  scope.owned.clear();
}

/**
 * Runs `fn` and disposes every tensor it created except those in its return value.
 * `fn` must be synchronous; for async code use {@link tidyAsync} or {@link beginScope}.
 *
 * @example
 * ```ts
 * const y = tidy(() => x.mul(2).add(1).relu()); // intermediates are freed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = beginScope('tidy');
  let result: T;
  try {
    result = fn();
  } catch (e) {
    endScope(scope);
    throw e;
  }
  if (result instanceof Promise) {
    endScope(scope);
    throw new HeedError('tidy', 'the function returned a Promise; tidy only works with synchronous code. ' +
      'Use tidyAsync(), or beginScope()/endScope(), for async code.');
  }
  endScope(scope, result);
  return result;
}

/**
 * Async version of {@link tidy}: disposes tensors created while `fn` runs, except the result.
 * Tensors created by other concurrent async work in that time are also attributed to it.
 *
 * @example
 * ```ts
 * const loss = await tidyAsync(async () => { const l = model.loss(x); await l.data(); return l; });
 * ```
 */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = beginScope('tidyAsync');
  try {
    const result = await fn();
    endScope(scope, result);
    return result;
  } catch (e) {
    if (!scope.ended) endScope(scope);
    throw e;
  }
}

/**
 * Removes `t` from its scope so no `tidy`/`endScope` disposes it. Returns `t`.
 *
 * @example
 * ```ts
 * let w: Tensor;
 * tidy(() => { w = keep(randn([4, 4])); });
 * ```
 */
export function keep<T extends Scoped>(t: T): T {
  t.scope?.owned.delete(t);
  t.scope = null;
  return t;
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
