// SPDX-License-Identifier: MIT
// The browser demo (examples/browser) end to end, as a user gets it: a production `vite build`,
// served by `vite preview` (whose COOP/COEP headers make the page cross-origin isolated), in
// headless Chromium. On the CPU backend (WASM, threaded) it trains a few dozen steps and the
// loss must fall; the translation box must answer and draw the cross-attention heatmap (one
// cell per generated x source token); the downloaded model must load in Node with
// @heed/models and translate exactly as the page did, and load back into the page; a model
// made in Node must upload and translate in the page exactly as in Node. On
// WebGPU ('auto' on a machine with an adapter, here SwiftShader) a few steps must train with
// the backend label saying so; with WebGPU switched off in the browser, 'auto' falls back to
// the CPU. HEED_UPDATE_SCREENSHOT=1 also writes docs/browser-demo.png.
// Skipped, with a message, without Chromium or without the built packages (`npm test` builds).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { PreviewServer } from 'vite';
import { registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { deserializeModel, serializeModel } from '@heed/models';
import { createRun, DEFAULT_SETTINGS } from '../translate-numbers/task.mjs';
import { CHROMIUM, launchChromium } from '../../scripts/test-support/browser.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const demo = join(root, 'examples', 'browser');
const built = ['core', 'backend-cpu', 'backend-webgpu', 'nn', 'models', 'train'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
const missing = [CHROMIUM, ...built].filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`[browser-demo] skipped: missing ${missing.join(', ')} (install chromium; \`npm run build\`).`);

/** What the page mirrors on window.heedDemo (see examples/browser/src/main.ts). */
interface DemoView {
  state: string;
  backend: string;
  backendDetail: string;
  history: { step: number; loss: number; series: string }[];
  snapshot: { step: number; total: number; tokensPerSecond: number; fraction: number } | null;
  translation: { source: string; output: string; cells: number } | null;
  heldOutExactMatch: number | null;
  errors: string[];
  log: string[];
}

const SMALL = 'steps=36&batch=16&dModel=32&layers=1';

describe.skipIf(missing.length > 0)('browser demo (vite build + preview, headless Chromium)', () => {
  let server: PreviewServer;
  let url = '';
  let browser: Browser;
  const outDir = mkdtempSync(join(tmpdir(), 'heed-demo-'));

  beforeAll(async () => {
    const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
    const build = spawnSync(process.execPath, [vite, 'build', demo, '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], { encoding: 'utf8', timeout: 120_000 });
    if (build.status !== 0) throw new Error(`vite build failed (${build.status}):\n${build.stdout}\n${build.stderr}`);
    const { preview } = await import('vite');
    server = await preview({ root: demo, configFile: join(demo, 'vite.config.mjs'), logLevel: 'warn', build: { outDir }, preview: { host: '127.0.0.1', port: 0 } });
    url = server.resolvedUrls!.local[0];
    browser = await launchChromium();
    registerBackend(cpuBackend);
    await setBackend('cpu');
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const demoView = (page: Page) => page.evaluate(() => (window as unknown as { heedDemo: DemoView }).heedDemo);
  /** Waits for `fn` in the page; on timeout, fails with what the page logged. */
  async function waitFor(page: Page, fn: string, timeout = 60_000): Promise<void> {
    try {
      await page.waitForFunction(fn, undefined, { timeout, polling: 100 });
    } catch (e) {
      const seen = await page.evaluate(() => JSON.stringify((window as unknown as { heedDemo?: DemoView }).heedDemo ?? null)).catch(() => '?');
      throw new Error(`${(e as Error).message}\nwaiting for: ${fn}\nconsole:\n${(consoleOf.get(page) ?? []).join('\n')}\nheedDemo: ${seen.slice(0, 2000)}`);
    }
  }
  const consoleOf = new WeakMap<Page, string[]>();
  /** A new page of `context` whose console and errors are kept for failure messages. */
  async function openPage(context: import('playwright-core').BrowserContext): Promise<Page> {
    const page = await context.newPage();
    const lines: string[] = [];
    consoleOf.set(page, lines);
    page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    page.on('worker', (w) => lines.push(`worker: ${w.url()}`));
    return page;
  }

  async function translate(page: Page, text: string): Promise<NonNullable<DemoView['translation']>> {
    await page.evaluate(() => { (window as unknown as { heedDemo: DemoView }).heedDemo.translation = null; });
    await page.fill('#sentence', text);
    await page.click('#translate-button');
    await waitFor(page, 'window.heedDemo.translation !== null && document.querySelector("#heatmap svg") !== null', 30_000);
    return (await demoView(page)).translation!;
  }

  it('is served cross-origin isolated by vite preview', async () => {
    const res = await fetch(url);
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });

  it('trains on the CPU backend, translates with a heatmap, and its downloaded model loads in Node and back in the page', async () => {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1360, height: 1180 } });
    const page = await openPage(context);
    await page.goto(`${url}?backend=cpu&${SMALL}`);
    await waitFor(page, 'window.heedDemo.state === "ready"');
    let v = await demoView(page);
    expect(v.backend).toBe('cpu');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(v.backendDetail).toMatch(/^WASM (relaxed SIMD|SIMD), [2-9] threads/);
    expect(await page.textContent('#backend-label')).toContain('cpu');

    await page.click('#start');
    await waitFor(page, 'window.heedDemo.state === "done"', 90_000);
    v = await demoView(page);
    expect(v.errors).toEqual([]);
    const train = v.history.filter((h) => h.series === 'train');
    expect(train.map((h) => h.step)).toEqual(Array.from({ length: 36 }, (_, i) => i + 1));
    const mean = (xs: { loss: number }[]) => xs.reduce((a, h) => a + h.loss, 0) / xs.length;
    expect(mean(train.slice(-6))).toBeLessThan(0.85 * mean(train.slice(0, 6))); // ~6.2 -> ~4.8 nats
    expect(v.history.some((h) => h.series === 'held-out')).toBe(true);
    expect(v.snapshot).toMatchObject({ step: 36, total: 36, fraction: 1 });
    expect(v.snapshot!.tokensPerSecond).toBeGreaterThan(0);
    expect(await page.textContent('#progress-text')).toMatch(/step 36\/36 .* tokens\/s/);
    expect(await page.locator('#loss-chart svg').count()).toBe(1);
    expect(v.heldOutExactMatch).not.toBeNull();

    const t = await translate(page, 'zweihundertdrei');
    expect(t.source).toBe('<de> <es> zweihundertdrei');
    const cells = await page.locator('#heatmap svg [aria-roledescription="rect mark"]').count();
    expect(cells).toBe(t.cells);
    expect(cells).toBeGreaterThan(0);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const file = join(outDir, download.suggestedFilename());
    await download.saveAs(file);
    expect(download.suggestedFilename()).toBe('heed-translate-numbers-36-steps.safetensors');
    // The file loads in Node and translates exactly like the page.
    const loaded = deserializeModel(new Uint8Array(readFileSync(file)));
    expect(loaded.kind).toBe('seq2seq');
    if (loaded.kind !== 'seq2seq' || !loaded.tokenizer) throw new Error('not a seq2seq model with a tokenizer');
    expect(loaded.extra).toMatchObject({ trainedSteps: 36, demo: { totalSteps: 36, dModel: 32, layers: 1 } });
    const [ids] = await loaded.model.greedyDecode([loaded.tokenizer.encode(t.source)], { maxLen: 24 });
    expect(loaded.tokenizer.decode(ids)).toBe(t.output);
    loaded.model.dispose();

    // And it loads back into the page: same translation from the uploaded file.
    await page.setInputFiles('#upload', file);
    await waitFor(page, 'window.heedDemo.state === "ready" && window.heedDemo.log.some((l) => l.startsWith("loaded "))');
    const again = await translate(page, 'zweihundertdrei');
    expect(again.output).toBe(t.output);

    // A model made in Node (by the same task module as examples/translate-numbers) uploads and translates like in Node.
    const node = createRun({ ...DEFAULT_SETTINGS, dModel: 16, layers: 1, seed: 3 });
    const nodeFile = join(outDir, 'from-node.safetensors');
    writeFileSync(nodeFile, await serializeModel(node.model, { tokenizer: node.tokenizer, extra: { trainedSteps: 0 } }));
    await page.setInputFiles('#upload', nodeFile);
    await waitFor(page, 'window.heedDemo.state === "ready" && window.heedDemo.log.some((l) => l.startsWith("loaded from-node"))');
    const fromNode = await translate(page, 'settecento');
    const [nodeIds] = await node.model.greedyDecode([node.tokenizer.encode('<de> <es> settecento')], { maxLen: 24 });
    expect(fromNode.source).toBe('<de> <es> settecento');
    expect(fromNode.output).toBe(node.tokenizer.decode(nodeIds));
    node.model.dispose();
    expect(consoleOf.get(page)!.filter((l) => l.startsWith('pageerror'))).toEqual([]);
    await context.close();
  }, 150_000);

  it("trains a few steps on WebGPU with 'auto' where an adapter exists, and falls back to the CPU without WebGPU", async () => {
    const page = await openPage(await browser.newContext());
    await page.goto(`${url}?backend=auto&steps=3&batch=8&dModel=32&layers=1`);
    await waitFor(page, 'window.heedDemo.state === "ready"');
    let v = await demoView(page);
    const hasAdapter = await page.evaluate(async () => Boolean(await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu?.requestAdapter()));
    expect(v.backend).toBe(hasAdapter ? 'webgpu' : 'cpu');
    if (!hasAdapter) console.warn('[browser-demo] this Chromium has no WebGPU adapter: checked the CPU fallback only');
    expect(await page.textContent('#backend-label')).toContain(v.backend);
    await page.click('#start');
    await waitFor(page, 'window.heedDemo.state === "done"', 90_000);
    v = await demoView(page);
    expect(v.errors).toEqual([]);
    const losses = v.history.filter((h) => h.series === 'train').map((h) => h.loss);
    expect(losses.length).toBe(3);
    expect(losses.every(Number.isFinite)).toBe(true);
    await page.context().close();

    // WebGPU switched off (navigator.gpu removed in the worker before the demo's code runs): 'auto' falls back and says why.
    const context = await browser.newContext();
    await context.route(/\/assets\/worker-[^/]*\.js$/, async (route) => {
      const response = await route.fetch();
      const body = `Object.defineProperty(Object.getPrototypeOf(navigator), 'gpu', { get: () => undefined });\n${await response.text()}`;
      await route.fulfill({ response, body });
    });
    const off = await openPage(context);
    await off.goto(`${url}?backend=auto&steps=3&batch=8&dModel=32&layers=1`);
    await waitFor(off, 'window.heedDemo.state === "ready"');
    v = await demoView(off);
    expect(v.backend).toBe('cpu');
    expect(v.backendDetail).toMatch(/webgpu unavailable \(.*navigator\.gpu/);
    await context.close();
  }, 120_000);

  // Not part of the normal run: HEED_UPDATE_SCREENSHOT=1 trains the default 600 steps (a few minutes) for the docs' picture.
  it.skipIf(process.env.HEED_UPDATE_SCREENSHOT !== '1')('writes docs/browser-demo.png after a default run', async () => {
    const page = await openPage(await browser.newContext({ viewport: { width: 1360, height: 1000 } }));
    await page.goto(`${url}?backend=cpu`);
    await waitFor(page, 'window.heedDemo.state === "ready"');
    await page.click('#start');
    await waitFor(page, 'window.heedDemo.state === "done"', 900_000);
    const t = await translate(page, 'zweihundertdrei');
    console.log(`[browser-demo] after 600 steps: '${t.source}' -> '${t.output}', held-out exact match ${(await demoView(page)).heldOutExactMatch}`);
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(root, 'docs', 'browser-demo.png'), fullPage: true });
    await page.context().close();
  }, 1_000_000);
});
