// SPDX-License-Identifier: MIT
// Shared types of the conformance suite: the options a backend author passes, the public
// description of each case (for coverage tables), and what a case's `run` receives.
// Invariant: case ids are unique, `/`-separated, and start with their group's name.
import type { Backend, DType } from '@heed/core';

/**
 * The groups of the suite, in the order they run.
 *
 * @example
 * ```ts
 * CASE_GROUPS.includes('finite-diff'); // true
 * ```
 */
export const CASE_GROUPS = [
  'fixtures', 'special-values', 'broadcast', 'scalars', 'zero-size', 'dtypes', 'non-contiguous', 'finite-diff', 'second-order',
  'fused', 'random', 'async', 'memory', 'errors',
] as const;

/**
 * One of {@link CASE_GROUPS}.
 *
 * @example
 * ```ts
 * const g: CaseGroup = 'memory';
 * ```
 */
export type CaseGroup = (typeof CASE_GROUPS)[number];

/**
 * Numeric tolerances: a value passes when `|got - want| <= atol + rtol * |want|`.
 *
 * @example
 * ```ts
 * const loose: Tolerances = { rtol: 1e-3, atol: 1e-4, gradRtol: 1e-2 };
 * ```
 */
export interface Tolerances {
  /** Relative tolerance of forward values (default 1e-4). */
  rtol?: number;
  /** Absolute tolerance of forward values (default 1e-5; gradients use 10x this). */
  atol?: number;
  /** Relative tolerance of gradients against the fixtures (default 1e-3). */
  gradRtol?: number;
}

/**
 * Options of `defineConformanceSuite`.
 *
 * @example
 * ```ts
 * const options: ConformanceOptions = {
 *   name: 'my-gpu',
 *   createBackend: () => new MyGpuBackend(),
 *   skip: { 'fixtures/special/pow-edges': 'WGSL pow is undefined for x < 0' },
 * };
 * ```
 */
export interface ConformanceOptions {
  /** Name the backend is registered under for the suite (also the describe title). */
  name: string;
  /** Creates a fresh backend instance. Called twice: the suite needs a second instance. */
  createBackend: () => Backend | Promise<Backend>;
  /** Case id or group (or id prefix ending at a `/`) -> written reason. Skipped cases still show. */
  skip?: Partial<Record<string, string>>;
  /**
   * Case id or group -> reason, for known bugs: the cases run as `it.fails`, so the suite
   * turns red once the bug is fixed and the entry must be removed.
   */
  expectedFailures?: Partial<Record<string, string>>;
  /** Overrides of the default tolerances (only loosen with a written reason in your README). */
  tolerances?: Tolerances;
}

/**
 * The public description of a case, for coverage tables.
 *
 * @example
 * ```ts
 * const c: ConformanceCase = { id: 'fixtures/unary/exp', group: 'fixtures', op: 'exp', dtypes: ['float32'], hasGradient: true };
 * ```
 */
export interface ConformanceCase {
  /** Unique id; also the vitest test title. */
  readonly id: string;
  readonly group: CaseGroup;
  /** The Heed op (or feature) under test. */
  readonly op: string;
  /** Dtypes of the inputs and outputs involved. */
  readonly dtypes: readonly DType[];
  /** Whether the case checks gradients. */
  readonly hasGradient: boolean;
}

/**
 * What a running case receives.
 *
 * @example
 * ```ts
 * const x = tensor([1, 2], { backend: ctx.backend });
 * ```
 */
export interface CaseContext {
  /** Registered name of the backend under test (also the current backend). */
  readonly backend: string;
  /** The same instance registered without its fused kernels (core fallbacks run instead). */
  readonly fallback: string;
  /** A second, independent instance (for mixing-backend errors). */
  readonly second: string;
  /** The backend object itself (to ask which fused kernels it has). */
  readonly instance: Backend;
  /** Effective tolerances. */
  readonly tol: Required<Tolerances>;
  /** Marks the running case skipped with a note (e.g. a fused kernel the backend lacks). */
  skip(note: string): never;
}

/**
 * A case with its body.
 *
 * @example
 * ```ts
 * const c: RunnableCase = { id: 'async/x', group: 'async', op: 'data', dtypes: ['float32'], hasGradient: false, run: async () => {} };
 * ```
 */
export interface RunnableCase extends ConformanceCase {
  run(ctx: CaseContext): void | Promise<void>;
}

/**
 * The default tolerances.
 *
 * @example
 * ```ts
 * DEFAULT_TOLERANCES.rtol; // 1e-4
 * ```
 */
export const DEFAULT_TOLERANCES: Required<Tolerances> = Object.freeze({ rtol: 1e-4, atol: 1e-5, gradRtol: 1e-3 });
