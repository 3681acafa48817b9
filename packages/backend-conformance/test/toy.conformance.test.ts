// SPDX-License-Identifier: MIT
// The conformance suite on the toy third-party backend (test/toy-backend.ts): plain JS
// arrays, asynchronous reads only, fused softmax/layerNorm/attention. Registered and tested
// through @heed/core's public API alone.
import { defineConformanceSuite } from '@heed/backend-conformance';
import { ToyBackend } from './toy-backend.js';

defineConformanceSuite({
  name: 'toy',
  createBackend: () => new ToyBackend('toy'),
  expectedFailures: {
    'memory/moves': 'design limitation: backward() is synchronous, so a gradient cannot move back from a backend without ' +
      'synchronous reads (like this one) across toAsync(); core now throws a HeedError saying so.',
  },
});
