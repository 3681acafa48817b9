// SPDX-License-Identifier: MIT
// Shared by the real-browser tests: bundles a page entry with esbuild (workspace packages
// resolved to their TypeScript sources), serves it on 127.0.0.1 (optionally cross-origin
// isolated with COOP/COEP headers) and runs it in Debian's headless Chromium through
// playwright-core, returning what the page stores in `window.heedResult`.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian's Chromium (installed by .ci/run); the browser tests skip without it. */
export const CHROMIUM = '/usr/bin/chromium';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Bundles `entry` for the browser, resolving `@heed/<pkg>` for each of `packages` to its sources. */
export async function bundlePage(entry: string, packages: readonly string[]): Promise<string> {
  const esbuild = await import('esbuild');
  const alias = Object.fromEntries(packages.map((p) => [`@heed/${p}`, `${root}packages/${p}/src/index.ts`]));
  const result = await esbuild.build({
    entryPoints: [entry], bundle: true, format: 'esm', platform: 'browser', write: false, alias,
    external: ['webgpu', 'node:*'], target: 'es2022', logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

/** Chromium's flags in the browser tests: headless, WebGPU on SwiftShader's Vulkan, no background networking. */
export const CHROMIUM_ARGS: readonly string[] = ['--headless=new', '--enable-unsafe-webgpu', '--no-sandbox', '--enable-features=Vulkan',
  '--use-vulkan=swiftshader', '--use-angle=swiftshader', '--disable-vulkan-surface', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

/** Launches Debian's headless Chromium with {@link CHROMIUM_ARGS}; VK_ICD_FILENAMES defaults to SwiftShader's ICD. */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  const env = { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? '/usr/lib/chromium/vk_swiftshader_icd.json' };
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], env: env as Record<string, string> });
}

/** Options of {@link runPage}. */
export interface RunPageOptions {
  /** Serve with COOP/COEP so the page is cross-origin isolated (SharedArrayBuffer available). */
  readonly isolated?: boolean;
  /** Milliseconds to wait for window.heedResult. */
  readonly timeoutMs?: number;
  /** Serve this folder (a bundler's output; `/` is its index.html) instead of `script` as /page.js. */
  readonly dir?: string;
  /** Path and query of the page to open (default `/`). */
  readonly path?: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };

/** Answers `url` with the file it names under `dir` (404 outside it or when missing). */
function serveFile(dir: string, url: string, res: http.ServerResponse): void {
  const path = join(dir, normalize(decodeURIComponent(new URL(url, 'http://x').pathname)).replace(/\/$/, '/index.html'));
  if (!path.startsWith(dir) || !existsSync(path)) {
    res.statusCode = 404;
    res.end();
    return;
  }
  res.setHeader('content-type', CONTENT_TYPES[extname(path)] ?? 'application/octet-stream');
  res.end(readFileSync(path));
}

/** Serves `script` as the page's module (or `options.dir`), runs it in headless Chromium and returns window.heedResult. */
export async function runPage<T>(script: string, options: RunPageOptions = {}): Promise<T> {
  const server = http.createServer((req, res) => {
    if (options.isolated) {
      res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    if (options.dir) {
      serveFile(options.dir, req.url ?? '/', res);
    } else if (req.url === '/page.js') {
      res.setHeader('content-type', 'text/javascript');
      res.end(script);
    } else {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><html><body><script type="module" src="/page.js"></script></body></html>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}${options.path ?? '/'}`);
    await page.waitForFunction(() => (window as { heedResult?: unknown }).heedResult !== undefined, undefined, { timeout: options.timeoutMs ?? 90_000 });
    return (await page.evaluate(() => (window as { heedResult?: unknown }).heedResult)) as T;
  } finally {
    await browser.close();
    server.close();
  }
}
