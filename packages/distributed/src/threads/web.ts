// SPDX-License-Identifier: MIT
// The browser launcher of the threads transport: `spawnWorkers` starts one module Web Worker
// per rank (each runs `runWorker`, like the Node workers of `spawnThreads`) through the shared
// launcher, posting each its start message. Needs a cross-origin isolated page (COOP/COEP) for
// SharedArrayBuffer. Each rank's CPU threads default to navigator.hardwareConcurrency / N.
import { launchRanks, type SpawnOptions } from './launch.js';

/**
 * Starts `worldSize` ranks of a threads group as module Web Workers running `workerUrl` (a
 * module that calls `runWorker`) and resolves with their results in rank order; rejects with a
 * `SpawnError` naming the rank when one throws or hangs.
 *
 * @example
 * ```ts
 * const results = await spawnWorkers(2, new URL('./rank.js', import.meta.url), { timeoutMs: 10_000 });
 * ```
 */
export async function spawnWorkers<T = unknown>(worldSize: number, workerUrl: string | URL, options: SpawnOptions = {}): Promise<T[]> {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return launchRanks<T>('spawnWorkers', worldSize, options, (n) => Math.max(1, Math.floor(cores / n)), (rank, start, events) => {
    const w = new Worker(workerUrl, { type: 'module', name: `heed-rank-${rank}` });
    w.onmessage = (e: MessageEvent) => events.message(e.data);
    w.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      events.error('Error', e.message || 'the worker failed to load or threw an uncaught error');
    };
    w.onmessageerror = () => events.error('DataCloneError', 'a message from the worker could not be deserialized');
    w.postMessage(start);
    return { terminate: () => w.terminate() };
  });
}
