// SPDX-License-Identifier: MIT
// The threads transport in a real browser: a cross-origin isolated page in headless Chromium
// starts module Web Workers with spawnWorkers (the same launcher, start message and in-worker
// transport as the Node workers, no Node imports); 2 ranks must all-reduce and all-gather the
// exact values, and with 3 ranks a rank that throws must make spawnWorkers reject with a
// SpawnError naming it, the others failing with a DistributedError that names it too; with 2
// ranks a rank that hangs must be named by the other within the timeout and terminated.
// Skipped, with a message, without Debian's Chromium.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHROMIUM, bundlePage, runPage } from '../../../scripts/test-support/browser.js';

interface RankOk { rank: number; worldSize: number; sum: number[]; gathered: number[][]; cpuThreads: number }
interface Outcome { rank: number; status: string; errorName?: string; message?: string; culprit?: number | null }
interface PageResult {
  isolated: boolean;
  ok: RankOk[] | { error: string };
  bad: Failure | { error: string } | null;
  hung: Failure | { error: string } | null;
  hungMs: number;
}
interface Failure { name: string; rank: number | null; message: string; outcomes: Outcome[] }

if (!existsSync(CHROMIUM)) console.warn(`[distributed browser] skipped: ${CHROMIUM} is missing (install chromium).`);

describe.skipIf(!existsSync(CHROMIUM))('threads transport in headless Chromium (Web Workers)', () => {
  it('all-reduces across module Web Workers and names a rank that throws or hangs', async () => {
    const pkgs = ['core', 'backend-cpu', 'distributed'];
    const dir = mkdtempSync(join(tmpdir(), 'heed-dist-browser-'));
    try {
      writeFileSync(join(dir, 'page.js'), await bundlePage(fileURLToPath(new URL('./browser/page.ts', import.meta.url)), pkgs));
      writeFileSync(join(dir, 'rank.js'), await bundlePage(fileURLToPath(new URL('./browser/rank.ts', import.meta.url)), pkgs));
      writeFileSync(join(dir, 'index.html'), '<!doctype html><html><body><script type="module" src="/page.js"></script></body></html>');
      const r = await runPage<PageResult>('', { dir, isolated: true, timeoutMs: 120_000 });
      expect(r.isolated).toBe(true);
      expect('error' in r.ok ? r.ok.error : null).toBeNull();
      const ok = r.ok as RankOk[];
      expect(ok.map((o) => [o.rank, o.worldSize])).toEqual([[0, 2], [1, 2]]);
      const f = Math.fround;
      for (const o of ok) {
        expect(o.sum).toEqual([3, f(f(0) + f(0.1)), -2]);
        expect(o.gathered).toEqual([[0, 7], [10, 7]]);
        expect(o.cpuThreads).toBeGreaterThanOrEqual(1);
      }
      expect(r.bad).not.toBeNull();
      expect('error' in r.bad! ? r.bad.error : null).toBeNull();
      const bad = r.bad as Failure;
      expect(bad.name).toBe('SpawnError');
      expect(bad.rank).toBe(1);
      expect(bad.message).toMatch(/^spawnWorkers: rank 1 of 3 threw an error/);
      expect(bad.outcomes[1]).toMatchObject({ status: 'error', message: 'boom in the browser' });
      for (const o of [bad.outcomes[0], bad.outcomes[2]]) {
        expect(o).toMatchObject({ status: 'error', errorName: 'DistributedError', culprit: 1 });
        expect(o.message).toMatch(/^allGather: rank 1 threw an error; rank \d stopped in allGather/);
      }
      expect(r.hung).not.toBeNull();
      expect('error' in r.hung! ? r.hung.error : null).toBeNull();
      const hung = r.hung as Failure;
      expect(hung.name).toBe('SpawnError');
      expect(hung.rank).toBe(1);
      expect(hung.outcomes[1].status).toBe('terminated');
      expect(hung.outcomes[0]).toMatchObject({ status: 'error', errorName: 'DistributedError', culprit: 1 });
      expect(hung.outcomes[0].message).toMatch(/rank 1 did not reach allGather \(collective #2\) within 1500 ms/);
      expect(r.hungMs).toBeGreaterThanOrEqual(1500);
      expect(r.hungMs).toBeLessThan(1500 + 5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
