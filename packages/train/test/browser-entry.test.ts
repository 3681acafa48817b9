// SPDX-License-Identifier: MIT
// The universal entry `@heed/train` bundles for the browser as it is: esbuild (platform
// browser, no externals besides the other Heed packages) must resolve everything, and the
// bundle must contain no `node:` import and none of the Node-only modules (commander,
// cli-progress, the run-file helpers), which live behind `@heed/train/node`.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = (p: string) => fileURLToPath(new URL(`../src/${p}`, import.meta.url));

describe('@heed/train browser entry', () => {
  it('bundles for the browser without node: imports or Node-only modules', async () => {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [entry('index.ts')], bundle: true, format: 'esm', platform: 'browser', write: false, metafile: true,
      external: ['@heed/*'], target: 'es2022', logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('node_modules/vega/'))).toBe(true); // the figures are in
    for (const banned of ['node_modules/commander/', 'node_modules/cli-progress/', 'src/node/']) {
      expect(inputs.filter((p) => p.includes(banned))).toEqual([]);
    }
    const code = result.outputFiles[0].text;
    expect(code).not.toMatch(/from\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/);
  }, 60_000);

  it('the node entry re-exports everything of the universal one', async () => {
    const universal = await import('../src/index.js');
    const node = await import('../src/node/index.js');
    for (const name of Object.keys(universal)) expect(node).toHaveProperty(name);
  });
});
