// SPDX-License-Identifier: MIT
// A value that follows async work (the "current scope" of tidyAsync/beginScope): Node's
// AsyncLocalStorage, obtained without a static `node:` import so browser bundles stay clean.
// Node >= 20.16 (and other runtimes with Node's API) exposes `process.getBuiltinModule`; on
// older Node 20 a guarded dynamic import is started when this module loads and is used once it
// resolves. Where neither exists (browsers) `asyncSlot()` is null and scope.ts falls back to
// one global stack.
// Invariant: nothing here enables async hooks until a slot is first written (`run`/`enter`),
// so programs that only use the synchronous `tidy` never pay for context tracking.

/** The parts of Node's AsyncLocalStorage that scopes use. */
interface AsyncLocalStorageLike<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
  enterWith(store: T): void;
}

type AlsConstructor = new <T>() => AsyncLocalStorageLike<T>;

interface NodeProcessLike {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

/** @internal A value carried along async continuations. */
export interface AsyncSlot<T> {
  /** The value of the current async context (undefined outside any `run`/`enter`). */
  get(): T | undefined;
  /** Runs `fn` with `value` as the current value; async work started in `fn` keeps it. */
  run<R>(value: T, fn: () => R): R;
  /** Sets the value for the rest of the current async context (AsyncLocalStorage.enterWith). */
  enter(value: T | undefined): void;
}

let alsConstructor: AlsConstructor | null = null;
let disabledForTests = false;

function nodeProcess(): NodeProcessLike | undefined {
  return (globalThis as { process?: NodeProcessLike }).process;
}

function fromModule(mod: unknown): AlsConstructor | null {
  const ctor = (mod as { AsyncLocalStorage?: unknown } | null)?.AsyncLocalStorage;
  return typeof ctor === 'function' ? (ctor as AlsConstructor) : null;
}

// Resolve the constructor once, at load. The module name is built at run time so bundlers
// (esbuild, Vite, webpack) neither resolve nor inline it.
{
  const proc = nodeProcess();
  const id = ['node', 'async_hooks'].join(':');
  if (typeof proc?.getBuiltinModule === 'function') {
    try {
      alsConstructor = fromModule(proc.getBuiltinModule(id));
    } catch {
      alsConstructor = null;
    }
  } else if (typeof proc?.versions?.node === 'string') {
    import(/* webpackIgnore: true */ /* @vite-ignore */ id).then(
      (mod: unknown) => { alsConstructor ??= fromModule(mod); },
      () => undefined,
    );
  }
}

let slot: AsyncSlot<unknown> | null = null;

/**
 * @internal The process-wide slot scopes use, or null where no async context exists
 * (browsers, or an old Node 20 before the dynamic import resolved).
 */
export function asyncSlot<T>(): AsyncSlot<T> | null {
  if (disabledForTests || !alsConstructor) return null;
  if (!slot) {
    const als = new alsConstructor<unknown>();
    slot = {
      get: () => als.getStore(),
      run: (value, fn) => als.run(value, fn),
      enter: (value) => als.enterWith(value),
    };
  }
  return slot as AsyncSlot<T>;
}

/**
 * @internal Tests only: pretend there is no async context (as in a browser), or restore it.
 */
export function setAsyncContextForTests(enabled: boolean): void {
  disabledForTests = !enabled;
}
