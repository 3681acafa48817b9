// SPDX-License-Identifier: MIT
// Tensor lifetime scopes: `tidy` (sync), `tidyAsync`/`beginScope` (async), `createScope` with
// `withScope`/`track` (explicit handles), `endScope`, `keep`. memory.ts gives each new tensor
// to `currentScope()`; every change of a tensor's owner goes through `setOwner`, which also
// starts or stops the GC safety net's watch of it (gc-net.ts: only tensors that no
// synchronous scope owns are watched).
// Where a scope is current: sync scopes (tidy, and beginScope inside one) on a stack that lives
// for one synchronous extent; async scopes in the async context (AsyncLocalStorage, see
// async-context.ts), so each chain of async work sees its own scope and concurrent requests
// never adopt each other's tensors; without async context (browsers) on one global stack.
// Invariants: a tensor belongs to at most one scope; ending a scope disposes exactly the
// tensors still owned by it that are not part of the kept value, which moves to the nearest
// open ancestor (the scope current when it was opened); an ended scope is never current.
import { HeedError } from './errors.js';
import { asyncSlot } from './async-context.js';
import { describeValue } from './validate.js';
import { needsNet, unwatch, watch, type GcHeld } from './gc-net.js';

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
  /** @internal What the GC safety net releases if the handle is reclaimed undisposed. */
  readonly held: GcHeld;
  readonly isDisposed: boolean;
  dispose(): void;
}

/** How a scope becomes current (see the file comment). @internal */
export type ScopeKind = 'sync' | 'context' | 'global' | 'handle';

/**
 * A set of tensors that are disposed together. Open one with {@link beginScope} (current for
 * the rest of the calling code), {@link createScope} (current only inside {@link withScope}),
 * or let {@link tidy}/{@link tidyAsync} manage it; close it with {@link endScope}.
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
  /** @internal Where kept values go when this scope ends (the scope current when it was opened). */
  readonly parent: Scope | null;
  /** @internal */ readonly kind: ScopeKind;
  /** The name given when the scope was opened (it appears in error messages). */
  readonly name: string;

  /** @internal Use beginScope/createScope. */
  constructor(name: string, parent: Scope | null = null, kind: ScopeKind = 'handle') {
    this.name = name;
    this.parent = parent;
    this.kind = kind;
  }

  /**
   * Moves the tensors in `value` (a tensor, or arrays/maps/plain objects of tensors) into this
   * scope, out of whatever scope owned them, so that ending this scope disposes them. Returns
   * `value`. For code that creates tensors outside {@link withScope}.
   *
   * @example
   * ```ts
   * const scope = createScope('request');
   * const x = scope.track(tensor([1, 2]));
   * endScope(scope); // x is disposed
   * ```
   */
  track<T>(value: T): T {
    if (this.ended) throw new HeedError('Scope.track', `scope '${this.name}' was already ended; track tensors into an open scope.`);
    const found = new Set<Scoped>();
    collectTensors(value, found);
    for (const t of found) {
      if (!t.isDisposed) setOwner(t, this);
    }
    return value;
  }
}

// Scopes made current for a synchronous extent (tidy; withScope where there is no async
// context). Nothing else can run while an extent runs, so one array serves every context; an
// async extent (withScope/tidyAsync) swaps in its own array for its synchronous part.
let syncStack: Scope[] = [];
// Scopes opened by beginScope/tidyAsync where there is no async context (browsers): one global
// stack, so concurrent async work is attributed to the newest open scope (not isolated).
const fallbackStack: Scope[] = [];
// Set once a scope was stored in the async context; until then lookups skip it.
let contextInUse = false;

function live(scope: Scope | null | undefined): Scope | null {
  let s = scope ?? null;
  while (s && s.ended) s = s.parent;
  return s;
}

function topLive(stack: readonly Scope[]): Scope | null {
  for (let i = stack.length - 1; i >= 0; i--) if (!stack[i].ended) return stack[i];
  return null;
}

/** @internal The scope new tensors go to here and now: the innermost open scope of this context. */
export function currentScope(): Scope | null {
  const sync = topLive(syncStack);
  if (sync) return sync;
  const slot = contextInUse ? asyncSlot<Scope>() : null;
  const fromContext = slot ? live(slot.get()) : null;
  return fromContext ?? topLive(fallbackStack);
}

/** @internal Gives new tensor `t` to the current scope; the GC safety net watches it unless that scope is synchronous. */
export function adoptNew(t: Scoped): void {
  const scope = currentScope();
  if (needsNet(scope)) watch(t, t.held);
  if (scope !== null) {
    scope.owned.add(t);
    t.scope = scope;
  }
}

/** @internal Moves live tensor `t` to `scope` (null: no scope), starting or stopping the safety net's watch as needed. */
export function setOwner(t: Scoped, scope: Scope | null): void {
  const from = t.scope;
  if (from === scope) return;
  from?.owned.delete(t);
  scope?.owned.add(t);
  t.scope = scope;
  const was = needsNet(from), now = needsNet(scope);
  if (now && !was) watch(t, t.held);
  else if (was && !now) unwatch(t);
}

/** @internal Takes disposed tensor `t` out of its scope and the safety net. */
export function disown(t: Scoped): void {
  if (needsNet(t.scope)) unwatch(t);
  t.scope?.owned.delete(t);
  t.scope = null;
}

/**
 * Whether async scopes are isolated here: true where an async context exists (Node.js'
 * AsyncLocalStorage, also in runtimes that provide `process.getBuiltinModule`), false in
 * browsers, where {@link tidyAsync} and {@link beginScope} use one global stack and also own
 * tensors created by concurrent async work. There, use
 * {@link createScope} with {@link withScope} around each synchronous step for exact ownership.
 *
 * @example
 * ```ts
 * if (!asyncScopesIsolated()) console.warn('run concurrent requests with createScope/withScope');
 * ```
 */
export function asyncScopesIsolated(): boolean {
  return asyncSlot() !== null;
}

/**
 * Opens a scope and makes it current for the rest of the calling code: tensors created until
 * the matching {@link endScope} (including after `await`s) belong to it. Always pair it with
 * `endScope` in a `finally`.
 *
 * In Node.js the scope follows the calling async context only (AsyncLocalStorage), so
 * concurrent requests each own their tensors. One caveat of that mechanism: when an async
 * function calls `beginScope()` before its first `await`, its caller's synchronous code right
 * after the call runs in the same context and would see the scope — and so would a second
 * async function started in the same synchronous run (`Promise.all([handle(a), handle(b)])`
 * where each handler begins a scope before awaiting): the second scope then nests in the
 * first, and a value it keeps is disposed when the first ends. For concurrent requests use
 * {@link tidyAsync} or {@link createScope}/{@link withScope}, which make the scope current only
 * inside their function. Inside a
 * synchronous `tidy`, a scope opened with `beginScope` is closed when that `tidy` ends. In
 * browsers see {@link asyncScopesIsolated}.
 *
 * @example
 * ```ts
 * const scope = beginScope();
 * try { const y = relu(x); await y.data(); } finally { endScope(scope); }
 * ```
 */
export function beginScope(name = 'scope'): Scope {
  const parent = currentScope();
  if (syncStack.length > 0) {
    const scope = new Scope(name, parent, 'sync');
    syncStack.push(scope);
    return scope;
  }
  const slot = asyncSlot<Scope>();
  if (slot) {
    const scope = new Scope(name, parent, 'context');
    contextInUse = true;
    slot.enter(scope);
    return scope;
  }
  const scope = new Scope(name, parent, 'global');
  fallbackStack.push(scope);
  return scope;
}

/**
 * Creates an open scope without making it current anywhere: tensors belong to it only when
 * they are created inside {@link withScope}`(scope, fn)` or moved in with
 * {@link Scope.track}. This is the explicit-handle API for concurrent work, exact in every
 * environment (browsers included); close it with {@link endScope}.
 *
 * @example
 * ```ts
 * const scope = createScope('request');
 * try {
 *   const h = withScope(scope, () => model.forward(ids));
 *   await h.data();
 *   const out = withScope(scope, () => h.softmax(-1));
 *   return await out.array();
 * } finally { endScope(scope); }
 * ```
 */
export function createScope(name = 'scope'): Scope {
  return new Scope(name, currentScope(), 'handle');
}

/** Runs `fn` with `stack` as the sync stack (and `scope` as the async context's scope). */
function runExtent<R>(stack: Scope[], scope: Scope, fn: () => R): R {
  const saved = syncStack;
  const base = stack.length;
  syncStack = stack;
  const slot = asyncSlot<Scope>();
  try {
    if (!slot) return fn();
    contextInUse = true;
    return slot.run(scope, fn);
  } finally {
    // Scopes begun inside this extent and left open (e.g. by an exception) are closed.
    while (syncStack.length > base) {
      const top = syncStack[syncStack.length - 1];
      if (top.ended) syncStack.pop();
      else endScope(top);
    }
    syncStack = saved;
  }
}

/**
 * Runs `fn` with `scope` as the current scope and returns its result: tensors created inside
 * belong to `scope` (unless `fn` returns them from a nested `tidy`). `fn` may be async: where
 * async scopes are isolated ({@link asyncScopesIsolated}) the work after each `await` belongs
 * to `scope` too; in browsers only the synchronous part does, so wrap each step instead.
 * Throws if `scope` was ended.
 *
 * @example
 * ```ts
 * const scope = createScope();
 * const y = withScope(scope, () => x.mul(2).add(1));
 * endScope(scope, y); // the temporary x.mul(2) is freed, y is kept
 * ```
 */
export function withScope<T>(scope: Scope, fn: () => T): T {
  if (!(scope instanceof Scope)) {
    throw new HeedError('withScope', `expected a Scope (from createScope() or beginScope()) as the first argument, got ${describeValue(scope)}.`);
  }
  if (scope.ended) throw new HeedError('withScope', `scope '${scope.name}' was already ended; create a new one with createScope().`);
  checkFunction('withScope', fn);
  return runExtent(asyncSlot() ? [] : [scope], scope, fn);
}

/** @internal Adds the tensors found in `value` (a tensor, or arrays/maps/plain objects of them) to `out`. */
export function collectTensors(value: unknown, out: Set<Scoped>, seen = new Set<unknown>()): void {
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

function checkFunction(op: string, fn: unknown): void {
  if (typeof fn !== 'function') {
    throw new HeedError(op, `expected a function to run, got ${describeValue(fn)}; pass a callback: ${op}(() => ...).`);
  }
}

/**
 * Closes `scope`, disposing every tensor it owns except those inside `keepValue` (tensors,
 * arrays, maps or plain objects of tensors), which move to the scope that was current when
 * `scope` was opened. Works from any async context.
 *
 * Called with no scope (`endScope()`, or `endScope(undefined, value)`), it ends the innermost
 * scope open here, as tfjs's `endScope` does; it throws a {@link HeedError} when none is
 * open. Synchronous scopes opened inside `scope` and left open are closed first.
 *
 * @example
 * ```ts
 * const scope = beginScope();
 * const y = exp(x);
 * endScope(scope, y); // y survives, temporaries are freed
 * ```
 */
export function endScope(scope?: Scope, keepValue?: unknown): void {
  if (scope === undefined) {
    const innermost = currentScope();
    if (!innermost) {
      throw new HeedError('endScope', 'no scope is open here. Pass the Scope returned by beginScope(): ' +
        'const s = beginScope(); ... endScope(s, valueToKeep).');
    }
    if (tidyScopes.has(innermost)) {
      throw new HeedError('endScope', 'endScope() without an argument would end the scope of the enclosing tidy(), which ' +
        'ends it itself. Pass the Scope returned by beginScope(): const s = beginScope(); ... endScope(s, valueToKeep).');
    }
    scope = innermost;
  } else if (!(scope instanceof Scope)) {
    throw new HeedError('endScope', `expected the Scope returned by beginScope() as the first argument, got ${describeValue(scope)}. ` +
      'To keep values, pass them second: endScope(scope, value); endScope() with no argument ends the innermost scope.');
  }
  if (scope.ended) throw new HeedError('endScope', `scope '${scope.name}' was already ended.`);
  detach(scope);
  scope.ended = true;
  const kept = new Set<Scoped>();
  collectTensors(keepValue, kept);
  const dest = live(scope.parent);
  if (scope.kind === 'global') reclaimAdopted(scope, kept, dest);
  for (const t of [...scope.owned]) {
    if (kept.has(t)) {
      setOwner(t, dest);
    } else {
      t.dispose();
    }
  }
  scope.owned.clear();
}

/**
 * Without async context, work of `scope` that ran while a concurrent scope was the newest open
 * one was attributed to that scope; the values `scope` returns are moved from there to `dest`
 * (tensors owned by `scope`'s ancestors stay where they are).
 */
function reclaimAdopted(scope: Scope, kept: Set<Scoped>, dest: Scope | null): void {
  const ancestors = new Set<Scope>();
  for (let s = scope.parent; s; s = s.parent) ancestors.add(s);
  for (const t of kept) {
    const owner = t.scope;
    if (!owner || owner === scope || ancestors.has(owner)) continue;
    setOwner(t, dest);
  }
}

/** Stops `scope` from being current wherever it was made current. */
function detach(scope: Scope): void {
  switch (scope.kind) {
    case 'sync': {
      const index = syncStack.lastIndexOf(scope);
      if (index === -1) return; // its extent is not running: stale entries are skipped
      while (syncStack.length > index + 1) {
        const top = syncStack[syncStack.length - 1];
        if (top.ended) syncStack.pop();
        else endScope(top);
      }
      syncStack.pop();
      return;
    }
    case 'context': {
      const slot = asyncSlot<Scope>();
      // Ended in its own context: restore the parent there. Elsewhere, contexts that still
      // hold it skip it (it is ended) and see its nearest open ancestor.
      if (slot && slot.get() === scope) slot.enter(live(scope.parent) ?? undefined);
      return;
    }
    case 'global': {
      const index = fallbackStack.lastIndexOf(scope);
      if (index !== -1) fallbackStack.splice(index, 1);
      return;
    }
    case 'handle':
      return;
  }
}

/** The scopes that tidy() opened (endScope() without an argument must not end them). */
const tidyScopes = new WeakSet<Scope>();

/**
 * Runs `fn` and disposes every tensor it created except those in its return value.
 * `fn` must be synchronous; for async code use {@link tidyAsync} or {@link withScope}.
 *
 * @example
 * ```ts
 * const y = tidy(() => x.mul(2).add(1).relu()); // intermediates are freed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  checkFunction('tidy', fn);
  const scope = new Scope('tidy', currentScope(), 'sync');
  tidyScopes.add(scope);
  syncStack.push(scope);
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
      'Use tidyAsync(), or createScope()/withScope(), for async code.');
  }
  endScope(scope, result);
  return result;
}

/**
 * Async version of {@link tidy}: disposes the tensors `fn` creates (before and after its
 * `await`s), except those in the result, which go to the caller's scope, even when `fn`
 * rejects. In Node.js (see {@link asyncScopesIsolated}) it owns only what its own async work
 * creates, so concurrent calls (two requests in a server) and unrelated code running
 * meanwhile are unaffected. In browsers it also owns tensors that concurrent async work
 * creates while it is pending; use {@link createScope}/{@link withScope} there.
 *
 * @example
 * ```ts
 * const loss = await tidyAsync(async () => { const l = model.loss(x); await l.data(); return l; });
 * ```
 */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  checkFunction('tidyAsync', fn);
  const isolated = asyncSlot() !== null;
  const scope = new Scope('tidyAsync', currentScope(), isolated ? 'handle' : 'global');
  if (!isolated) fallbackStack.push(scope);
  try {
    const result = await runExtent([], scope, fn);
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
  if (t === null || typeof t !== 'object' || !('scope' in t) || !('isDisposed' in t)) {
    throw new HeedError('keep', `expected a Tensor, got ${describeValue(t)}. To keep several, call keep() on each.`);
  }
  if (!t.isDisposed) setOwner(t, null);
  return t;
}
