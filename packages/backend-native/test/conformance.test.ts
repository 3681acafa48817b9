// SPDX-License-Identifier: MIT
// The shared backend conformance suite on the native CPU backend (OpenBLAS + OpenMP kernels,
// WASM where they decline), eagerly and under the lazy decorator. CI installs OpenBLAS and
// builds the addon (.ci/run); without them this file fails loudly instead of skipping, so a
// broken native path cannot pass unnoticed. HEED_NATIVE_OPTIONAL=1 turns that into a skip.
import { defineConformanceSuite } from '@heed/backend-conformance';
import { LazyBackend } from '@heed/core';
import { describe, it } from 'vitest';
import { createNativeCpuBackend, nativeAvailable, loadAddon } from '@heed/backend-native';

if (nativeAvailable() || process.env.HEED_NATIVE_OPTIONAL !== '1') {
  loadAddon(); // throws the install hint when the native path cannot load
  defineConformanceSuite({ name: 'cpu-native-conformance', createBackend: () => createNativeCpuBackend({ fuseTrainingAttentionFrom: 0 }) });
  defineConformanceSuite({ name: 'cpu-native-lazy-conformance', createBackend: () => new LazyBackend(createNativeCpuBackend({ fuseTrainingAttentionFrom: 0 })) });
} else {
  describe('cpu-native-conformance', () => it.skip('native path unavailable (HEED_NATIVE_OPTIONAL=1)', () => undefined));
}
