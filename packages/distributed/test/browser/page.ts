// SPDX-License-Identifier: MIT
// The page of the browser test: starts 2 ranks that succeed, 3 ranks of which rank 1 throws and
// 2 ranks of which rank 1 hangs, with spawnWorkers (module Web Workers over SharedArrayBuffer), and stores what happened in
// window.heedResult.
import { SpawnError, spawnWorkers } from '@heed/distributed';

const url = new URL('/rank.js', location.href);
const ok = await spawnWorkers(2, url, { workerData: { mode: 'ok' }, timeoutMs: 15_000 }).catch((e: unknown) => ({ error: String(e) }));
const failure = (e: unknown) => (e instanceof SpawnError ? { name: e.name, rank: e.rank, message: e.message, outcomes: e.outcomes } : { error: String(e) });
const bad = await spawnWorkers(3, url, { workerData: { mode: 'throw' }, timeoutMs: 15_000 }).then(() => null, failure);
const t0 = performance.now();
const hung = await spawnWorkers(2, url, { workerData: { mode: 'hang' }, timeoutMs: 1500 }).then(() => null, failure);
const hungMs = performance.now() - t0;
(window as unknown as { heedResult: unknown }).heedResult = { isolated: crossOriginIsolated, ok, bad, hung, hungMs };
