// SPDX-License-Identifier: MIT
// Backend registry: explicit registration (no import side effects), priorities, apiVersion
// checks and the current default backend. Invariant: a registered factory is created lazily,
// at most once; `setBackend` never leaves the registry half-switched when creation fails.
import { BACKEND_API_VERSION, PRIMITIVE_NAMES, type Backend } from './backend.js';
import { HeedError } from './errors.js';
import { runKernel } from './kernel-dispatch.js';
import { lazyBackendFactory } from './lazy/lazy-backend.js';

/**
 * How to create a backend. Register one with {@link registerBackend}.
 *
 * @example
 * ```ts
 * const factory: BackendFactory = { name: 'cpu', priority: 1, create: () => new CpuBackend() };
 * ```
 */
export interface BackendFactory {
  /** The name tensors and `setBackend` refer to. */
  readonly name: string;
  /** Higher wins when no backend was chosen explicitly. */
  readonly priority: number;
  /** True when `create` returns a promise; such backends are used only after `await setBackend`. */
  readonly async?: boolean;
  /** Creates the backend; may be async (WebGPU needs an adapter). */
  create(): Backend | Promise<Backend>;
}

interface Entry {
  factory: BackendFactory;
  instance: Backend | null;
}

const entries = new Map<string, Entry>();
let current: Backend | null = null;

function validate(backend: Backend, name: string): Backend {
  if (backend.apiVersion !== BACKEND_API_VERSION) {
    throw new HeedError('registerBackend', `backend '${name}' implements API version ${backend.apiVersion}, ` +
      `but this @heed/core expects ${BACKEND_API_VERSION}. Upgrade the backend package to one built for this core.`);
  }
  const missing = PRIMITIVE_NAMES.filter((p) => typeof (backend as unknown as Record<string, unknown>)[p] !== 'function');
  if (missing.length > 0) {
    throw new HeedError('registerBackend', `backend '${name}' lacks primitives: ${missing.join(', ')}. ` +
      'Every primitive of the Primitives interface is required.');
  }
  if (backend.name !== name) {
    throw new HeedError('registerBackend', `factory '${name}' created a backend named '${backend.name}'; the names must match.`);
  }
  return backend;
}

/**
 * Registers a backend factory. With the environment variable `HEED_LAZY=1` it is wrapped in
 * {@link lazyBackendFactory} (lazy execution and fusion for every backend, e.g. to run a test suite lazily). Nothing is created until the backend is first used.
 * Registering a name twice replaces the factory (and disposes a created instance).
 *
 * @example
 * ```ts
 * import { registerBackend, setBackend } from '@heed/core';
 * import { cpuBackend } from '@heed/backend-cpu';
 * registerBackend(cpuBackend);
 * setBackend('cpu');
 * ```
 */
export function registerBackend(factory: BackendFactory): void {
  if (!factory || typeof factory.name !== 'string' || factory.name.length === 0 || typeof factory.create !== 'function') {
    throw new HeedError('registerBackend', 'expected { name: string, priority: number, create(): Backend }.');
  }
  const old = entries.get(factory.name);
  if (old?.instance) {
    if (current === old.instance) current = null;
    old.instance.dispose?.();
  }
  entries.set(factory.name, { factory: lazyFromEnv() ? lazyBackendFactory(factory) : factory, instance: null });
}

/** HEED_LAZY=1 (Node): every registered backend runs with lazy execution (see {@link LazyBackend}). */
function lazyFromEnv(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.HEED_LAZY;
  return env === '1' || env === 'true';
}

/**
 * Removes a backend from the registry and disposes it if it was created.
 *
 * @example
 * ```ts
 * removeBackend('toy');
 * ```
 */
export function removeBackend(name: string): void {
  const entry = entries.get(name);
  if (!entry) return;
  if (entry.instance) {
    if (current === entry.instance) current = null;
    entry.instance.dispose?.();
  }
  entries.delete(name);
}

/**
 * Names of registered backends, highest priority first.
 *
 * @example
 * ```ts
 * listBackends(); // ['webgpu', 'cpu']
 * ```
 */
export function listBackends(): string[] {
  return [...entries.values()].sort((a, b) => b.factory.priority - a.factory.priority).map((e) => e.factory.name);
}

function entryFor(name: string, op: string): Entry {
  const entry = entries.get(name);
  if (!entry) {
    const known = listBackends();
    throw new HeedError(op, `no backend named '${name}' is registered (registered: ${known.length ? known.join(', ') : 'none'}). ` +
      `Call registerBackend(...) with its factory first, e.g. registerBackend(cpuBackend) from '@heed/backend-cpu'.`);
  }
  return entry;
}

/**
 * Creates (once) and returns the backend named `name`, awaiting async factories.
 *
 * @example
 * ```ts
 * const gpu = await initBackend('webgpu');
 * ```
 */
export async function initBackend(name: string): Promise<Backend> {
  const entry = entryFor(name, 'initBackend');
  if (!entry.instance) entry.instance = validate(await entry.factory.create(), name);
  return entry.instance;
}

/**
 * Returns the backend named `name`, creating it if its factory is synchronous.
 *
 * @example
 * ```ts
 * const cpu = findBackend('cpu');
 * ```
 */
export function findBackend(name: string): Backend {
  const entry = entryFor(name, 'findBackend');
  if (!entry.instance) {
    const created = entry.factory.create();
    if (created instanceof Promise) {
      throw new HeedError('findBackend', `backend '${name}' is created asynchronously. Call 'await setBackend("${name}")' ` +
        `or 'await initBackend("${name}")' before using it.`);
    }
    entry.instance = validate(created, name);
  }
  return entry.instance;
}

/**
 * Makes `name` the backend new tensors are created on. Returns a promise that resolves once
 * the backend exists (await it for async backends such as WebGPU).
 *
 * @example
 * ```ts
 * await setBackend('webgpu');
 * ```
 */
export async function setBackend(name: string): Promise<Backend> {
  const backend = await initBackend(name);
  current = backend;
  return backend;
}

/**
 * The backend new tensors go to: the one chosen by {@link setBackend}, else the registered
 * synchronous backend with the highest priority.
 *
 * @example
 * ```ts
 * getBackend().name; // 'cpu'
 * ```
 */
export function getBackend(): Backend {
  if (current) return current;
  const ready = [...entries.values()].sort((a, b) => b.factory.priority - a.factory.priority);
  for (const entry of ready) {
    if (entry.instance) return (current = entry.instance);
    if (entry.factory.async) continue;
    return (current = findBackend(entry.factory.name));
  }
  throw new HeedError('getBackend', 'no backend is registered. Register one first, e.g. ' +
    "`import { cpuBackend } from '@heed/backend-cpu'; registerBackend(cpuBackend);`.");
}

/**
 * Runs all work recorded so far on a backend (the current one by default): under lazy execution
 * ({@link LazyBackend}) every pending value still referenced is computed; backends that batch
 * submissions (WebGPU) submit them. A read (`data()`, `item()`, ...) under lazy execution does
 * the same after computing the value read: it is a sync point.
 *
 * @example
 * ```ts
 * const y = x.mul(2).add(1); // recorded under lazy execution
 * await flush();             // computed now
 * ```
 */
export async function flush(name?: string): Promise<void> {
  const backend = name === undefined ? getBackend() : findBackend(name);
  if (backend.flush !== undefined) runKernel(backend, 'flush');
}
