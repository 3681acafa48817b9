// SPDX-License-Identifier: MIT
// The worker side of the threads transport: finds the start message (Node: worker_threads'
// workerData, loaded without a static `node:` import; a Web Worker: the first start message
// from the page, listened for from the moment this module loads), makes the rank's ProcessGroup, and `runWorker` runs the user's function and
// reports its result or error to the launcher. A rank that throws marks the group failed first,
// so the other ranks stop waiting at once and name it.
import { HeedError } from '@heed/core';
import { createTensorGroup } from '../collectives.js';
import { DistributedError, type InitOptions, type ProcessGroup } from '../group.js';
import { markFailed, type ThreadsResult, type ThreadsStart } from './shared.js';
import { ThreadsTransport } from './transport.js';

/** How a worker talks to its launcher. */
interface LauncherPort {
  readonly start: ThreadsStart;
  post(message: ThreadsResult): void;
}

interface NodeWorkerThreads {
  readonly workerData: unknown;
  readonly parentPort: { postMessage(m: unknown): void } | null;
}

interface WorkerScope {
  addEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (e: { data: unknown }) => void): void;
  postMessage(m: unknown): void;
}

function isStart(v: unknown): v is ThreadsStart {
  return typeof v === 'object' && v !== null && (v as { heedThreads?: unknown }).heedThreads === 1;
}

let portPromise: Promise<LauncherPort | null> | null = null;

function browserWorkerScope(): WorkerScope | null {
  const g = globalThis as unknown as Partial<WorkerScope> & { process?: unknown; WorkerGlobalScope?: abstract new () => unknown };
  if (g.process !== undefined || typeof g.WorkerGlobalScope !== 'function' || !(globalThis instanceof g.WorkerGlobalScope)) return null;
  return g as WorkerScope;
}

/**
 * In a Web Worker, listen for the start message as soon as this module is evaluated: before
 * the worker's own top-level code runs (it may await its backend first), so the launcher's
 * message is never dispatched to nobody.
 */
const browserStart: Promise<ThreadsStart> | null = (() => {
  const self = browserWorkerScope();
  if (self === null) return null;
  return new Promise<ThreadsStart>((resolve) => {
    const onMessage = (e: { data: unknown }): void => {
      if (!isStart(e.data)) return;
      self.removeEventListener('message', onMessage);
      resolve(e.data);
    };
    self.addEventListener('message', onMessage);
  });
})();

async function findPort(): Promise<LauncherPort | null> {
  const proc = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.versions?.node === 'string') {
    const id = 'node:worker_threads';
    const wt = (proc.getBuiltinModule?.(id) ?? await import(/* webpackIgnore: true */ /* @vite-ignore */ id)) as NodeWorkerThreads;
    const parent = wt.parentPort;
    if (!isStart(wt.workerData) || parent === null) return null;
    return { start: wt.workerData, post: (m) => parent.postMessage(m) };
  }
  const self = browserWorkerScope();
  if (self === null || browserStart === null) return null;
  return { start: await browserStart, post: (m) => self.postMessage(m) };
}

function launcherPort(): Promise<LauncherPort | null> {
  portPromise ??= findPort();
  return portPromise;
}

/**
 * Whether this code runs in a Node worker started by `spawnThreads` (the default transport is
 * then `threads`). In a browser worker it is false until the page's start message arrived.
 *
 * @example
 * ```ts
 * if (await inThreadsWorker()) console.log('a rank of a threads group');
 * ```
 */
export async function inThreadsWorker(): Promise<boolean> {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (typeof proc?.versions?.node !== 'string') return false;
  return (await launcherPort()) !== null;
}

async function requirePort(op: string): Promise<LauncherPort> {
  const port = await launcherPort();
  if (port === null) {
    throw new HeedError(op, "the 'threads' transport only works inside a worker started by spawnThreads() " +
      "(@heed/distributed/node); start the workers with it, or use backend 'single' or 'mpi'.");
  }
  return port;
}

/**
 * This rank's threads group (called by `initProcessGroup({ backend: 'threads' })`), for a worker
 * script that manages the group itself instead of calling {@link runWorker}: its `destroy()`
 * reports this rank finished (its result is `undefined`); a worker that ends without it is a
 * failed rank.
 *
 * @example
 * ```ts
 * const group = await initThreadsGroup({ timeoutMs: 5000 });
 * ```
 */
export async function initThreadsGroup(options: InitOptions = {}): Promise<ProcessGroup> {
  const port = await requirePort('initProcessGroup');
  const start = options.timeoutMs === undefined ? port.start : { ...port.start, timeoutMs: options.timeoutMs };
  return createTensorGroup(new ThreadsTransport(start, () => port.post({ heedThreadsResult: 1, ok: true, value: undefined })));
}

/**
 * What a rank's function is given besides its group.
 *
 * @example
 * ```ts
 * runWorker((group, data, info) => new CpuBackend({ threads: info.cpuThreads }));
 * ```
 */
export interface RankInfo {
  /** CPU threads this rank's backend should use (hardware threads / world size, at least 1). */
  readonly cpuThreads: number;
}

/**
 * A rank's function: gets its group and the launcher's `workerData`; what it returns (any
 * structured-clonable value) is this rank's entry in `spawnThreads`' result.
 *
 * @example
 * ```ts
 * const fn: RankFunction<number> = async (group) => group.rank;
 * ```
 */
export type RankFunction<T> = (group: ProcessGroup, workerData: unknown, info: RankInfo) => T | Promise<T>;

/**
 * The body of a worker script started by `spawnThreads`: runs `fn` as this rank and reports
 * its result, or its error (after marking the group failed, so the other ranks stop at once).
 *
 * @example
 * ```ts
 * // worker.mjs
 * import { runWorker } from '@heed/distributed';
 * runWorker(async (group) => { const t = tensor([group.rank]); await group.allReduce([t]); return t.dataSync()[0]; });
 * ```
 */
export async function runWorker<T>(fn: RankFunction<T>): Promise<void> {
  const port = await requirePort('runWorker');
  const { start } = port;
  const group = createTensorGroup(new ThreadsTransport(start));
  try {
    const value = await fn(group, start.workerData, { cpuThreads: start.cpuThreads });
    port.post({ heedThreadsResult: 1, ok: true, value });
  } catch (e) {
    const culprit = e instanceof DistributedError ? (e.rank ?? start.rank) : start.rank;
    markFailed(new Int32Array(start.control), start.worldSize, culprit, 'threw');
    const err = e instanceof Error ? e : new Error(String(e));
    port.post({ heedThreadsResult: 1, ok: false, name: err.name, message: err.message, stack: err.stack ?? '', culprit });
  } finally {
    await group.destroy();
  }
}
