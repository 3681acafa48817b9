// SPDX-License-Identifier: MIT
// Setting up the backends a run needs, without any test runner: the instance under test
// registered under the suite's name, the same instance without fused kernels, and a second
// independent instance. Used by defineConformanceSuite, and usable to run single cases from a
// script or debugger.
// Invariant: `release` unregisters exactly what `prepareBackends` registered.
import { initBackend, registerBackend, removeBackend, setBackend, type Backend } from '@heed/core';
import { ConformanceError } from './assert.js';
import { wrapBackend } from './backends.js';
import { DEFAULT_TOLERANCES, type CaseContext, type ConformanceOptions } from './types.js';

/**
 * Registered backends for a run, and how to build each case's context.
 *
 * @example
 * ```ts
 * const run = await prepareBackends({ name: 'toy', createBackend: () => new ToyBackend() });
 * await runnableCases()[0].run(run.context());
 * run.release();
 * ```
 */
export interface PreparedBackends {
  /** The case context; `skip` defaults to throwing a ConformanceError with the note. */
  context(skip?: (note: string) => never): CaseContext;
  /** Makes the backend under test current again (ops on plain numbers use it). */
  activate(): Promise<void>;
  /** Unregisters (and disposes) the three backends. */
  release(): void;
}

/**
 * Creates two instances with `options.createBackend` and registers them as `name`,
 * `name~fallback` (same instance, no fused kernels) and `name~second`; makes `name` current.
 *
 * @example
 * ```ts
 * const run = await prepareBackends({ name: 'cpu-check', createBackend: () => new CpuBackend() });
 * ```
 */
export async function prepareBackends(options: Pick<ConformanceOptions, 'name' | 'createBackend' | 'tolerances'>): Promise<PreparedBackends> {
  const names = { main: options.name, fallback: `${options.name}~fallback`, second: `${options.name}~second` };
  const backend: Backend = await options.createBackend();
  const other: Backend = await options.createBackend();
  if (backend === other) throw new ConformanceError('createBackend must return a new instance on each call.');
  registerBackend({ name: names.main, priority: -1000, create: () => wrapBackend(backend, { name: names.main, ownsBackend: true }) });
  registerBackend({
    name: names.fallback, priority: -1000,
    create: () => wrapBackend(backend, { name: names.fallback, withoutFused: true, ownsBackend: false }),
  });
  registerBackend({ name: names.second, priority: -1000, create: () => wrapBackend(other, { name: names.second, ownsBackend: true }) });
  await initBackend(names.fallback);
  await initBackend(names.second);
  await setBackend(names.main);
  const tol = { ...DEFAULT_TOLERANCES, ...options.tolerances };
  const defaultSkip = (note: string): never => {
    throw new ConformanceError(`skipped: ${note}`);
  };
  return {
    context: (skip = defaultSkip) => ({ backend: names.main, fallback: names.fallback, second: names.second, instance: backend, tol, skip }),
    activate: async () => {
      await setBackend(names.main);
    },
    release: () => {
      removeBackend(names.fallback);
      removeBackend(names.second);
      removeBackend(names.main);
    },
  };
}
