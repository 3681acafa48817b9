// SPDX-License-Identifier: MIT
// The consumer test: what an outside user gets from the published packages. Every package is
// packed and installed from its tarball into a fresh project outside the monorepo (see
// project.ts); the tarballs are checked statically (checks.ts); a strict TypeScript program
// (skipLibCheck off) is type-checked with moduleResolution bundler and node16, with and
// without @webgpu/types in its own config; it runs in Node on CPU and WebGPU (and on WebGPU
// without `webgpu` installed, which must name the install command), through require(), and
// as a page bundled by Vite (production) and by esbuild with no special settings, in headless
// Chromium on WebGPU and on the CPU backend (threaded, the page being cross-origin isolated).
// Every run must give the losses of Node's CPU run. Needs `npm run build` first (npm test does).
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, runPage } from '../test-support/browser.js';
import { NODE_ONLY_ENTRIES, checkExports, checkImports, checkMetadata, checkSourceMaps, type Unpacked } from './checks.js';
import { ROOT, createConsumerProject, run, runOk, type ConsumerProject } from './project.js';
import type { PageResult } from './app/src/page.js';
import type { WorkloadResult } from './app/src/workload.js';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const tool = (path: string) => join(ROOT, 'node_modules', path);
/** The environment of the Node runs: SwiftShader for Dawn where no GPU driver is configured. */
const env: NodeJS.ProcessEnv = {
  ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
};
delete env.NODE_ENV; // vitest sets 'test'; Vite must pick its own mode, as it does for a user
const hasBuild = existsSync(join(ROOT, 'packages/core/dist/index.js'));

/** The four type-check configurations: module resolution x @webgpu/types in `types`. */
const TSCONFIGS = {
  'bundler': { module: 'ESNext', moduleResolution: 'bundler', webgpuTypes: false, files: ['src/page.ts', 'src/browser-entries.ts'] },
  'bundler+webgpu-types': { module: 'ESNext', moduleResolution: 'bundler', webgpuTypes: true, files: ['src/page.ts', 'src/browser-entries.ts'] },
  'node16': { module: 'Node16', moduleResolution: 'node16', webgpuTypes: false, files: ['src/node.ts', 'src/all-entries.ts'] },
  'node16+webgpu-types': { module: 'Node16', moduleResolution: 'node16', webgpuTypes: true, files: ['src/node.ts', 'src/all-entries.ts'] },
} as const;

function expectSameLosses(got: readonly number[] | undefined, want: readonly number[], label: string): void {
  expect(got?.length, label).toBe(want.length);
  got!.forEach((v, i) => expect(Math.abs(v - want[i]), `${label} loss ${i}: ${v} vs ${want[i]}`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(want[i]))));
}

describe.skipIf(!hasBuild)('published packages in an outside project', () => {
  let project: ConsumerProject;
  let nodeCpu: WorkloadResult & { backend: string; fileValues: number[] };

  beforeAll(async () => {
    project = await createConsumerProject();
    // What a Node user with TypeScript has besides our packages.
    mkdirSync(join(project.dir, 'node_modules/@types'), { recursive: true });
    symlinkSync(tool('@types/node'), join(project.dir, 'node_modules/@types/node'));
  }, 120_000);
  afterAll(() => {
    if (project && !process.env.HEED_CONSUMER_KEEP) rmSync(join(project.dir, '..'), { recursive: true, force: true });
  });

  it('ships LICENSE, README, exports with types first and a default, shipped map sources, browser-safe imports', async () => {
    const rootLicense = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
    const problems: string[] = [];
    for (const pack of project.packs) {
      const dir = join(project.tarballs, pack.name.replace('/', '+'));
      mkdirSync(dir, { recursive: true });
      await runOk('tar', ['xzf', join(project.tarballs, pack.filename), '-C', dir], ROOT);
      const unpacked: Unpacked = { dir: join(dir, 'package'), pack, manifest: JSON.parse(readFileSync(join(dir, 'package/package.json'), 'utf8')) };
      for (const p of [...checkMetadata(unpacked, rootLicense), ...checkExports(unpacked), ...checkSourceMaps(unpacked), ...checkImports(unpacked)]) {
        problems.push(`${pack.name}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
    // Browser users never download Dawn: `webgpu` is at most an optional peer dependency.
    expect(existsSync(join(project.dir, 'node_modules/webgpu'))).toBe(false);
  });

  it('type-checks a strict program (skipLibCheck off) with bundler and node16 resolution, with and without @webgpu/types', async () => {
    // Every entry of every installed package; the browser programs leave out the Node-only ones.
    const entries = project.installed.flatMap((p) => Object.keys(p.manifest.exports ?? { '.': {} }).map((s) => (s === '.' ? p.name : `${p.name}/${s.slice(2)}`)));
    const reexports = (list: readonly string[]) => `${list.map((e, i) => `export * as e${i} from '${e}';`).join('\n')}\n`;
    writeFileSync(join(project.dir, 'src/all-entries.ts'), reexports(entries));
    writeFileSync(join(project.dir, 'src/browser-entries.ts'), reexports(entries.filter((e) => !(e in NODE_ONLY_ENTRIES))));
    const results: Record<string, string> = {};
    await Promise.all(Object.entries(TSCONFIGS).map(async ([name, c]) => {
      const types = [...(c.module === 'Node16' ? ['node'] : []), ...(c.webgpuTypes ? ['@webgpu/types'] : [])];
      const config = {
        compilerOptions: {
          target: 'ES2022', module: c.module, moduleResolution: c.moduleResolution, lib: ['ES2023', 'DOM'], types,
          strict: true, skipLibCheck: false, noEmit: name !== 'node16', outDir: 'out', rootDir: 'src',
          noUncheckedIndexedAccess: true, verbatimModuleSyntax: true,
        },
        files: c.files,
      };
      writeFileSync(join(project.dir, `tsconfig.${name}.json`), JSON.stringify(config, null, 2));
      const r = await run(process.execPath, [tool('typescript/bin/tsc'), '-p', `tsconfig.${name}.json`], project.dir);
      results[name] = r.code === 0 ? 'ok' : `${r.stdout}${r.stderr}`.trim();
    }));
    expect(results).toEqual(Object.fromEntries(Object.keys(TSCONFIGS).map((k) => [k, 'ok'])));
  }, 120_000);

  it('runs in Node on CPU, through require(), and on WebGPU once `webgpu` is installed', async () => {
    const out = (r: { stdout: string }) => JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    nodeCpu = out(await run(process.execPath, ['out/node.js', 'cpu', project.dir], project.dir, env));
    expect(nodeCpu.backend).toBe('cpu');
    expect(nodeCpu.losses.at(-1)!).toBeLessThan(nodeCpu.losses[0] * 0.7);
    expect(nodeCpu.fileValues).toEqual([1.5, 2.5, -1]);
    expect(nodeCpu.tokens).toHaveLength(4);

    // require(): loads the ESM packages where Node can (>= 20.19, 22.12); elsewhere Node's own error.
    const required = await run(process.execPath, ['src/require.cjs'], project.dir, env);
    if ((process.features as { require_module?: boolean }).require_module) expect(required.stdout.trim(), required.stderr).toBe('[2,4,6]');
    else expect(required.stderr).toMatch(/ERR_REQUIRE_ESM/);

    // Without Dawn: a HeedError naming the install command, thrown at a line of the shipped
    // TypeScript sources (the source maps resolve).
    const missing = await run(process.execPath, ['--enable-source-maps', 'out/node.js', 'webgpu', project.dir], project.dir, env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/HeedError.*npm install webgpu/s);
    expect(missing.stderr).toMatch(/node_modules\/@heed\/backend-webgpu\/src\/index\.ts:\d+/);

    symlinkSync(tool('webgpu'), join(project.dir, 'node_modules/webgpu')); // the user's `npm install webgpu`
    const gpu = await run(process.execPath, ['out/node.js', 'webgpu', project.dir], project.dir, env);
    expect(gpu.stderr).not.toMatch(/Error/);
    const nodeGpu = out(gpu) as typeof nodeCpu;
    expect(nodeGpu.backend).toBe('webgpu');
    expectSameLosses(nodeGpu.losses, nodeCpu.losses, 'Node WebGPU');
    expect(nodeGpu.fileValues).toEqual([1.5, 2.5, -1]);
  }, 120_000);

  describe.skipIf(!existsSync(CHROMIUM))('bundled for the browser', () => {
    const bundles = { vite: 'dist-vite', esbuild: 'dist-esbuild' } as const;

    it('bundles with Vite (production) and esbuild, with no warnings and no Node modules', async () => {
      rmSync(join(project.dir, 'node_modules/webgpu')); // a browser user has no Dawn
      const vite = await run(process.execPath, [tool('vite/bin/vite.js'), 'build', '--outDir', bundles.vite], project.dir, env);
      expect(vite.code, vite.stderr).toBe(0);
      expect(`${vite.stdout}${vite.stderr}`).not.toMatch(/externalized for browser compatibility|warn/i);
      const esbuild = await run(tool('esbuild/bin/esbuild'), ['src/page.ts', '--bundle', '--minify', '--format=esm', '--platform=browser',
        `--outfile=${bundles.esbuild}/page.js`], project.dir, env);
      expect(esbuild.code, esbuild.stderr).toBe(0);
      expect(esbuild.stderr).not.toMatch(/warning/i);
      const html = readFileSync(join(project.dir, 'index.html'), 'utf8').replace('/src/page.ts', '/page.js');
      writeFileSync(join(project.dir, bundles.esbuild, 'index.html'), html);
    }, 60_000);

    for (const [bundler, outDir] of Object.entries(bundles)) {
      it(`runs the ${bundler} bundle in Chromium on WebGPU and on the threaded CPU backend with Node's losses`, async () => {
        const dir = join(project.dir, outDir);
        const gpu = await runPage<PageResult>('', { dir, path: '/?backend=webgpu' });
        expect(gpu.error).toBeUndefined();
        expect(gpu.backend).toBe('webgpu');
        expectSameLosses(gpu.losses, nodeCpu.losses, `${bundler} WebGPU`);
        expect(gpu.reloadedSum).toBeCloseTo(nodeCpu.reloadedSum, 4);
        expect(gpu.tokens).toEqual(nodeCpu.tokens);
        expect(gpu.fileError).toMatch(/file access needs Node\.js/);

        const cpu = await runPage<PageResult>('', { dir, path: '/?backend=cpu', isolated: true });
        expect(cpu.error).toBeUndefined();
        expect(cpu.backend).toBe('cpu');
        expect(cpu.isolated).toBe(true);
        expect(cpu.threads).toBe(Math.min(8, cpu.hardware ?? 1));
        expectSameLosses(cpu.losses, nodeCpu.losses, `${bundler} CPU`);
      }, 120_000);
    }
  });
});
