// SPDX-License-Identifier: MIT
// The shared backend conformance suite (@heed/backend-conformance) run on the CPU backend,
// with its default options (WASM fast path and fused kernels on), and once more with the
// reference kernels only (fast: false), so both code paths are held to the same suite.
import { defineConformanceSuite } from '@heed/backend-conformance';
import { CpuBackend } from '@heed/backend-cpu';

defineConformanceSuite({ name: 'cpu-conformance', createBackend: () => new CpuBackend({ fuseTrainingAttentionFrom: 0 }) });
defineConformanceSuite({ name: 'cpu-reference-conformance', createBackend: () => new CpuBackend({ fast: false, fuseTrainingAttentionFrom: 0 }) });
