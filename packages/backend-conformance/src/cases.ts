// SPDX-License-Identifier: MIT
// The complete, ordered list of conformance cases (groups in CASE_GROUPS order) and its public,
// runner-free description `conformanceCases` (what coverage tables are generated from).
// Invariant: ids are unique; this module imports no test runner.
import { asyncCases } from './groups/async.js';
import { convCases } from './groups/conv.js';
import { dtypeCases } from './groups/dtypes.js';
import { errorCases } from './groups/errors.js';
import { expandedCases } from './groups/expanded.js';
import { finiteDiffCases } from './groups/finite-diff.js';
import { fixtureRunnableCases, nonContiguousFixtureCases } from './groups/fixture-cases.js';
import { fusedCases } from './groups/fused.js';
import { int64Cases } from './groups/int64.js';
import { memoryCases } from './groups/memory.js';
import { miscCases } from './groups/misc.js';
import { randomCases } from './groups/random.js';
import { samplingCases } from './groups/sampling.js';
import { einsumSelectCases } from './groups/einsum-select.js';
import { reorderCases } from './groups/reorder.js';
import { specialValueCases } from './groups/special-values.js';
import { CASE_GROUPS, type ConformanceCase, type RunnableCase } from './types.js';

let cached: readonly RunnableCase[] | null = null;

/**
 * Every case with its body, ordered by group.
 *
 * @example
 * ```ts
 * runnableCases().filter((c) => c.group === 'memory').length;
 * ```
 */
export function runnableCases(): readonly RunnableCase[] {
  if (cached) return cached;
  const all = [
    ...fixtureRunnableCases(), ...specialValueCases(), ...miscCases(), ...dtypeCases(), ...int64Cases(), ...nonContiguousFixtureCases(),
    ...expandedCases(), ...finiteDiffCases(), ...fusedCases(), ...randomCases(), ...samplingCases(), ...asyncCases(), ...memoryCases(), ...errorCases(),
    ...convCases(), ...reorderCases(), ...einsumSelectCases(),
  ];
  const seen = new Set<string>();
  for (const c of all) {
    if (seen.has(c.id)) throw new Error(`duplicate conformance case id '${c.id}'`);
    if (!c.id.startsWith(`${c.group}/`) && !c.id.startsWith('fixtures/')) throw new Error(`case id '${c.id}' does not start with its group '${c.group}'`);
    seen.add(c.id);
  }
  const rank = (c: RunnableCase) => CASE_GROUPS.indexOf(c.group);
  cached = all.map((c, i) => ({ c, i })).sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i).map(({ c }) => c);
  return cached;
}

/**
 * The public description of every case: id, group, op, dtypes and whether gradients are
 * checked. For coverage tables.
 *
 * @example
 * ```ts
 * import { conformanceCases } from '@heed/backend-conformance/cases';
 * conformanceCases.filter((c) => c.op === 'softmax').map((c) => c.id);
 * ```
 */
export const conformanceCases: readonly ConformanceCase[] = runnableCases().map(({ id, group, op, dtypes, hasGradient }) => ({
  id, group, op, dtypes, hasGradient,
}));
