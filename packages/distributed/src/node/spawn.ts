// SPDX-License-Identifier: MIT
// The Node launcher of the threads transport: starts `worldSize` worker_threads on one worker
// script (each runs `runWorker`) through the shared launcher (threads/launch.ts), with
// torchrun-style RANK/WORLD_SIZE/LOCAL_RANK and HEED_CPU_THREADS = hardware threads / world
// size in each worker's environment (the CPU backend reads it), so the ranks' worker pools do
// not oversubscribe the cores.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { launchRanks, type SpawnOptions } from '../threads/launch.js';

/**
 * CPU threads per rank so `worldSize` ranks do not oversubscribe `hardwareThreads` cores.
 *
 * @example
 * ```ts
 * cpuThreadsPerRank(4, 16); // 4
 * ```
 */
export function cpuThreadsPerRank(worldSize: number, hardwareThreads: number = availableParallelism()): number {
  return Math.max(1, Math.floor(hardwareThreads / worldSize));
}

/**
 * Starts `worldSize` ranks of a threads group, each a worker_thread running `workerUrl` (a
 * module that calls `runWorker`), and resolves with their results in rank order. Rejects with
 * a `SpawnError` naming the rank when one throws, exits early or hangs (the others are
 * stopped).
 *
 * @example
 * ```ts
 * const sums = await spawnThreads<number>(4, new URL('./rank.mjs', import.meta.url), { workerData: { n: 10 } });
 * ```
 */
export async function spawnThreads<T = unknown>(worldSize: number, workerUrl: string | URL, options: SpawnOptions = {}): Promise<T[]> {
  const envThreads = Number(process.env.HEED_CPU_THREADS);
  const defaultThreads = (n: number): number => (Number.isInteger(envThreads) && envThreads > 0 ? envThreads : cpuThreadsPerRank(n));
  return launchRanks<T>('spawnThreads', worldSize, options, defaultThreads, (rank, start, events) => {
    const w = new Worker(workerUrl, {
      workerData: start,
      env: { ...process.env, RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(rank), HEED_CPU_THREADS: String(start.cpuThreads) },
    });
    w.on('message', events.message);
    w.on('error', (e: Error) => events.error(e.name, e.message));
    w.on('exit', events.exit);
    return w;
  });
}
