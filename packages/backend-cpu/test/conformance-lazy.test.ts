// SPDX-License-Identifier: MIT
// The shared conformance suite once more with lazy execution: the CPU backend (fast path and
// reference kernels) wrapped in core's LazyBackend, so every case runs through recorded,
// fused elementwise programs (the CPU's generated `elementwise` kernel).
import { LazyBackend } from '@heed/core';
import { defineConformanceSuite } from '@heed/backend-conformance';
import { CpuBackend } from '@heed/backend-cpu';

defineConformanceSuite({ name: 'cpu-lazy-conformance', createBackend: () => new LazyBackend(new CpuBackend({ fuseTrainingAttentionFrom: 0 })) });
defineConformanceSuite({ name: 'cpu-reference-lazy-conformance', createBackend: () => new LazyBackend(new CpuBackend({ fast: false, fuseTrainingAttentionFrom: 0 })) });
