// SPDX-License-Identifier: MIT
// defineConformanceSuite: registers a backend under test (plus a fallback view without fused
// kernels and a second independent instance) and declares one vitest test per case, grouped
// by CASE_GROUPS. The only module of the package that imports vitest.
// Invariants: skip/expectedFailures keys must match at least one case (typos fail loudly);
// the backend under test is the current backend in every test; afterAll unregisters all three.
import { afterAll, beforeAll, beforeEach, describe, it, type TestContext } from 'vitest';
import { runnableCases } from './cases.js';
import { prepareBackends, type PreparedBackends } from './context.js';
import { CASE_GROUPS, type ConformanceOptions, type RunnableCase } from './types.js';

declare module 'vitest' {
  interface TaskMeta {
    /** Set by the conformance suite on skipped cases and expected failures (read by reporters). */
    conformance?: { status: 'skipped' | 'expected-failure'; reason: string };
  }
}

/**
 * Cases that fail on every backend because of a known bug in @heed/core: they run as
 * `it.fails` (so the suite notices the fix). Each entry names the bug.
 *
 * @example
 * ```ts
 * Object.keys(KNOWN_CORE_ISSUES); // ids of cases blocked by core bugs
 * ```
 */
export const KNOWN_CORE_ISSUES: Readonly<Record<string, string>> = {
};

function matches(key: string, c: RunnableCase): boolean {
  return key === c.group || key === c.id || c.id.startsWith(`${key}/`);
}

function reasonFor(table: Partial<Record<string, string>> | undefined, c: RunnableCase): string | undefined {
  if (!table) return undefined;
  for (const [key, reason] of Object.entries(table)) if (reason !== undefined && matches(key, c)) return reason;
  return undefined;
}

function validateTable(label: string, table: Partial<Record<string, string>> | undefined, cases: readonly RunnableCase[]): void {
  for (const [key, reason] of Object.entries(table ?? {})) {
    if (typeof reason !== 'string' || reason.trim().length === 0) {
      throw new Error(`defineConformanceSuite: ${label}['${key}'] needs a written reason.`);
    }
    if (!cases.some((c) => matches(key, c))) {
      throw new Error(`defineConformanceSuite: ${label}['${key}'] matches no case id or group; see conformanceCases for the ids.`);
    }
  }
}

/**
 * Declares the conformance suite for one backend: forward values and gradients against
 * PyTorch fixtures, finite differences, broadcasting, non-contiguous views, scalars,
 * zero-size tensors, dtype rules, fused kernels vs core fallbacks, random streams, async
 * reads, memory and error handling. Call it at the top level of a vitest test file.
 *
 * @example
 * ```ts
 * import { defineConformanceSuite } from '@heed/backend-conformance';
 * import { CpuBackend } from '@heed/backend-cpu';
 * defineConformanceSuite({ name: 'cpu-conformance', createBackend: () => new CpuBackend() });
 * ```
 */
export function defineConformanceSuite(options: ConformanceOptions): void {
  if (!options || typeof options.name !== 'string' || options.name.length === 0 || typeof options.createBackend !== 'function') {
    throw new Error('defineConformanceSuite: expected { name: string, createBackend(): Backend }.');
  }
  const cases = runnableCases();
  validateTable('skip', options.skip, cases);
  validateTable('expectedFailures', options.expectedFailures, cases);
  let prepared: PreparedBackends | null = null;

  describe(`backend conformance: ${options.name}`, () => {
    beforeAll(async () => {
      prepared = await prepareBackends(options);
    });
    beforeEach(async () => {
      await prepared?.activate();
    });
    afterAll(() => {
      prepared?.release();
    });

    for (const group of CASE_GROUPS) {
      const inGroup = cases.filter((c) => c.group === group);
      if (inGroup.length === 0) continue;
      describe(group, () => {
        for (const c of inGroup) {
          const skip = reasonFor(options.skip, c);
          const failure = reasonFor(options.expectedFailures, c) ?? KNOWN_CORE_ISSUES[c.id];
          const body = async (t: TestContext) => {
            if (skip !== undefined) {
              t.task.meta.conformance = { status: 'skipped', reason: skip };
              t.skip(skip);
            }
            if (failure !== undefined) t.task.meta.conformance = { status: 'expected-failure', reason: failure };
            if (!prepared) throw new Error('the backend under test was not created (see the beforeAll error)');
            await c.run(prepared.context((note) => {
              t.task.meta.conformance = { status: 'skipped', reason: note };
              return t.skip(note);
            }));
          };
          if (failure !== undefined && skip === undefined) it.fails(c.id, body);
          else it(c.id, body);
        }
      });
    }
  });
}
