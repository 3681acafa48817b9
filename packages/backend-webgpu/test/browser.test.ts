// SPDX-License-Identifier: MIT
// Real-browser test: bundles a page with esbuild, serves it on localhost, and drives Debian's
// headless Chromium (playwright-core, WebGPU on SwiftShader) to train a small model on the
// WebGPU backend. The losses must match the same loop on the CPU backend in Node.
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { trainLoop } from './browser/train-loop.js';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../..', import.meta.url));

async function bundle(): Promise<string> {
  const esbuild = await import('esbuild');
  const alias = Object.fromEntries(['core', 'backend-webgpu'].map((p) => [`@heed/${p}`, `${root}packages/${p}/src/index.ts`]));
  const result = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./browser/page.ts', import.meta.url))],
    bundle: true, format: 'esm', platform: 'browser', write: false, alias,
    external: ['webgpu', 'node:*'], target: 'es2022', logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

describe.skipIf(!existsSync(CHROMIUM))('WebGPU backend in headless Chromium', () => {
  it('trains a small MLP with the same losses as the CPU backend', async () => {
    const script = await bundle();
    const server = http.createServer((req, res) => {
      if (req.url === '/page.js') {
        res.setHeader('content-type', 'text/javascript');
        res.end(script);
      } else {
        res.setHeader('content-type', 'text/html');
        res.end('<!doctype html><html><body><script type="module" src="/page.js"></script></body></html>');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--enable-unsafe-webgpu', '--no-sandbox', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
        '--use-angle=swiftshader', '--disable-vulkan-surface', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.waitForFunction(() => (window as { heedResult?: unknown }).heedResult !== undefined, undefined, { timeout: 90_000 });
      const result = await page.evaluate(() => (window as { heedResult?: { losses?: number[]; error?: string } }).heedResult);
      expect(result?.error).toBeUndefined();
      const gpuLosses = result!.losses!;

      registerBackend(cpuBackend);
      await setBackend('cpu');
      const cpuLosses = await trainLoop();
      expect(gpuLosses.length).toBe(cpuLosses.length);
      gpuLosses.forEach((l, i) => expect(Math.abs(l - cpuLosses[i])).toBeLessThan(1e-4 * (1 + Math.abs(cpuLosses[i]))));
      expect(cpuLosses.at(-1)!).toBeLessThan(cpuLosses[0] * 0.5);
    } finally {
      await browser.close();
      server.close();
    }
  }, 120_000);
});
