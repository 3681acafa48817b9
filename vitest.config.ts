// SPDX-License-Identifier: MIT
// One vitest run for the whole monorepo. Packages resolve to their TypeScript sources, so
// tests need no build; the examples and benches import the built dist instead.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      '@heed/core': pkg('core'),
      '@heed/backend-cpu': pkg('backend-cpu'),
      '@heed/backend-webgpu': pkg('backend-webgpu'),
      '@heed/backend-native': pkg('backend-native'),
      '@heed/backend-conformance': pkg('backend-conformance'),
      '@heed/nn': pkg('nn'),
      '@heed/models': pkg('models'),
      // '@heed/train/node' before '@heed/train': the first matching prefix wins.
      '@heed/train/node': fileURLToPath(new URL('./packages/train/src/node/index.ts', import.meta.url)),
      '@heed/train': pkg('train'),
      '@heed/distributed/node': fileURLToPath(new URL('./packages/distributed/src/node/index.ts', import.meta.url)),
      '@heed/distributed': pkg('distributed'),
    },
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/test/**/*.test.ts', 'scripts/consumer/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
