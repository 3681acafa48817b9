// SPDX-License-Identifier: MIT
// Delegating wrappers around the backend under test. Core checks that a factory's name equals
// the backend's `name`, and keys memory statistics by that name, so the suite registers the
// instance under its own names: once as is, once without fused kernels (so core's fallbacks
// run on the same primitives, for the fused-vs-fallback comparison).
// Wrappers are Object.create(backend) objects whose contract methods are own properties that
// call the real instance's method with the instance as `this`: prototype delegation alone
// would pass the wrapper as `this`, which breaks backends that keep state in #private fields.
import { FUSED_KERNEL_NAMES, PRIMITIVE_NAMES, type Backend, type FusedKernels } from '@heed/core';

/**
 * Names of the optional fused kernels (core's exhaustive `FUSED_KERNEL_NAMES`).
 *
 * @example
 * ```ts
 * FUSED_NAMES.includes('attention'); // true
 * ```
 */
export const FUSED_NAMES = FUSED_KERNEL_NAMES;

const OPTIONAL_METHODS = ['readSync', 'flush'] as const;

/**
 * Options of {@link wrapBackend}.
 *
 * @example
 * ```ts
 * const o: WrapOptions = { name: 'cpu~fallback', withoutFused: true, ownsBackend: false };
 * ```
 */
export interface WrapOptions {
  /** The name the wrapper reports (and is registered under). */
  readonly name: string;
  /** Hide every fused kernel, so core runs its fallbacks. */
  readonly withoutFused?: boolean;
  /** Whether disposing the wrapper disposes the real backend. */
  readonly ownsBackend: boolean;
}

/**
 * A view of `backend` under another name, optionally without its fused kernels.
 *
 * @example
 * ```ts
 * const plain = wrapBackend(cpu, { name: 'cpu~fallback', withoutFused: true, ownsBackend: false });
 * plain.softmax; // undefined
 * ```
 */
export function wrapBackend(backend: Backend, options: WrapOptions): Backend {
  const wrapper = Object.create(backend) as Record<string, unknown>;
  const source = backend as unknown as Record<string, unknown>;
  const define = (key: string, value: unknown) => Object.defineProperty(wrapper, key, { value, enumerable: true, writable: false });
  define('name', options.name);
  define('apiVersion', backend.apiVersion);
  define('capabilities', backend.capabilities);
  for (const key of [...PRIMITIVE_NAMES, ...OPTIONAL_METHODS, ...FUSED_NAMES]) {
    const hidden = options.withoutFused && (FUSED_NAMES as readonly string[]).includes(key);
    // Looked up on every call (not bound once), so a test can spy on the instance's kernel.
    const call = (...args: unknown[]) => (source[key] as (...a: unknown[]) => unknown).apply(backend, args);
    define(key, typeof source[key] === 'function' && !hidden ? call : undefined);
  }
  define('dispose', options.ownsBackend && typeof backend.dispose === 'function' ? backend.dispose.bind(backend) : () => undefined);
  return wrapper as unknown as Backend;
}

/**
 * The fused kernels `backend` provides.
 *
 * @example
 * ```ts
 * fusedKernelsOf(cpu); // ['softmax', 'logSoftmax', 'gelu', 'layerNorm']
 * ```
 */
export function fusedKernelsOf(backend: Backend): (keyof FusedKernels)[] {
  return FUSED_NAMES.filter((k) => typeof backend[k] === 'function');
}
