// SPDX-License-Identifier: MIT
// The shared conformance suite on the WebGPU backend under lazy execution: core's LazyBackend
// records elementwise primitives and runs each chain as one generated WGSL dispatch (the
// backend's `elementwise` kernel, fused-program.ts). Same expected failure as the eager run.
import { describe, it } from 'vitest';
import { LazyBackend } from '@heed/core';
import { defineConformanceSuite } from '@heed/backend-conformance';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device } from './gpu.js';

if (device) {
  defineConformanceSuite({
    name: 'webgpu-lazy-conformance',
    createBackend: () => new LazyBackend(new WebGPUBackend(device, { alwaysFuseTrainingAttention: true })),
    expectedFailures: {
      'memory/moves': 'backward() is synchronous, so a gradient cannot move back from WebGPU (no synchronous reads) across toAsync().',
    },
  });
} else {
  describe('webgpu lazy conformance', () => { it.skip('no WebGPU adapter available (see the warning above)', () => undefined); });
}
