// SPDX-License-Identifier: MIT
// Public entry point of @heed/backend-conformance: `defineConformanceSuite` (needs vitest) and
// the runner-free pieces (case list, fixtures, wrappers, assertions). The case list alone is
// also importable from '@heed/backend-conformance/cases', which never loads vitest.
export { defineConformanceSuite, KNOWN_CORE_ISSUES } from './suite.js';
export { conformanceCases, runnableCases } from './cases.js';
export { prepareBackends, type PreparedBackends } from './context.js';
export {
  CASE_GROUPS, DEFAULT_TOLERANCES,
  type CaseGroup, type CaseContext, type ConformanceCase, type ConformanceOptions, type RunnableCase, type Tolerances,
} from './types.js';
export { fixtureCases, readFixtureFile, type FixtureCase } from './fixtures.js';
export { SPECIAL_VALUE_EXCEPTIONS, type SpecialAllowance, type SpecialValueException } from './groups/special-exceptions.js';
export { FUSED_NAMES, fusedKernelsOf, wrapBackend, type WrapOptions } from './backends.js';
export { ConformanceError, assertTensorClose, closeTo, expectHeedError, readHost, type HostTensor } from './assert.js';
