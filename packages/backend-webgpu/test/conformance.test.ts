// SPDX-License-Identifier: MIT
// The shared conformance suite on the WebGPU backend (Dawn on SwiftShader in CI). Each
// expected failure below is a documented limitation of running on a GPU.
import { describe, it } from 'vitest';
import { defineConformanceSuite } from '@heed/backend-conformance';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device } from './gpu.js';

const asyncIndexCheck = 'GPU kernels cannot throw: out-of-range indices are clamped in the kernel instead of raising a ' +
  'synchronous HeedError (validating them would need a blocking read-back).';

if (device) {
  defineConformanceSuite({
    name: 'webgpu-conformance',
    createBackend: () => new WebGPUBackend(device),
    expectedFailures: {
      'errors/gather-index-out-of-range': asyncIndexCheck,
      'errors/gather-negative-index': asyncIndexCheck,
      'errors/indexSelect-index-out-of-range': asyncIndexCheck,
      'errors/scatterAdd-index-out-of-range': asyncIndexCheck,
      'memory/moves': 'backward() is synchronous, so a gradient cannot move back from WebGPU (no synchronous reads) across toAsync().',
    },
  });
} else {
  describe('webgpu conformance', () => { it.skip('no WebGPU adapter available (see the warning above)', () => undefined); });
}
