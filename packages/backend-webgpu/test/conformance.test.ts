// SPDX-License-Identifier: MIT
// The shared conformance suite on the WebGPU backend (Dawn on SwiftShader in CI). Each
// expected failure below is a documented limitation of running on a GPU. (Out-of-range
// indices are no longer one: they are thrown by the next read, which the suite accepts.)
import { describe, it } from 'vitest';
import { defineConformanceSuite } from '@heed/backend-conformance';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device } from './gpu.js';

if (device) {
  defineConformanceSuite({
    name: 'webgpu-conformance',
    // the fused training attention at the suite's small sizes too (it declines below 2^24 scores by default)
    createBackend: () => new WebGPUBackend(device, { alwaysFuseTrainingAttention: true }),
    expectedFailures: {
      'memory/moves': 'backward() is synchronous, so a gradient cannot move back from WebGPU (no synchronous reads) across toAsync().',
    },
  });
} else {
  describe('webgpu conformance', () => { it.skip('no WebGPU adapter available (see the warning above)', () => undefined); });
}
