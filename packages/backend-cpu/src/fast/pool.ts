// SPDX-License-Identifier: MIT
// Worker threads for the fast path. One tiny abstraction starts a worker from a source string
// on either platform: node:worker_threads (eval) in Node, a Blob-URL Web Worker in browsers.
// Each worker instantiates the same compiled module on the same shared memory and runs the
// WASM `workerLoop` (asm/jobs.ts), which waits for jobs with memory.atomic.wait32. Workers are
// started asynchronously; until one reports ready, jobs simply run on the calling thread.
// Invariants: workers never hold JS-side state (all coordination is in the shared control
// block), are unref'd in Node (they never keep the process alive), and stop on `close()`.

/**
 * Control block offsets (bytes), mirrored from asm/jobs.ts.
 *
 * @example
 * ```ts
 * Atomics.load(i32, (ctrl + CTRL.READY) >> 2); // workers running
 * ```
 */
export const CTRL = { STATE: 0, NEXT: 4, DONE: 8, NBLOCKS: 12, KIND: 16, ERROR: 20, QUIT: 24, READY: 28, ARGS: 64, BYTES: 256 } as const;

/**
 * The script every worker runs (plain JS, valid as a CommonJS eval script and a Web Worker).
 *
 * @example
 * ```ts
 * new Worker(WORKER_SOURCE, { eval: true }); // node:worker_threads
 * ```
 */
export const WORKER_SOURCE = `'use strict';
const start = (d) => {
  const i32 = new Int32Array(d.memory.buffer);
  try {
    const instance = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
    instance.exports.workerLoop(d.ctrl, d.tid, d.spin);
  } catch (e) {
    Atomics.store(i32, (d.ctrl + ${CTRL.ERROR}) >> 2, 1);
    Atomics.notify(i32, (d.ctrl + ${CTRL.DONE}) >> 2);
    throw e;
  }
};
if (typeof require === 'function') require('node:worker_threads').parentPort.once('message', start);
else self.onmessage = (e) => start(e.data);
`;

/**
 * What a worker is given: the compiled module, the shared memory, the control block address,
 * its thread id (1..n; the main thread is 0) and how many polls to spin before sleeping.
 *
 * @example
 * ```ts
 * const data: WorkerStart = { module, memory, ctrl, tid: 1, spin: 20000 };
 * ```
 */
export interface WorkerStart {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly ctrl: number;
  readonly tid: number;
  readonly spin: number;
}

/**
 * A started worker, whatever the platform.
 *
 * @example
 * ```ts
 * const w: WorkerHandle = await spawnWorker(data, onError);
 * w.terminate();
 * ```
 */
export interface WorkerHandle {
  terminate(): void;
}

interface NodeWorkerLike {
  postMessage(data: unknown): void;
  unref(): void;
  on(event: 'error', listener: (e: Error) => void): void;
  terminate(): Promise<number>;
}

/** The Node.js process object, where there is one. */
interface NodeProcessLike {
  readonly versions?: { readonly node?: string };
  getBuiltinModule?(id: string): unknown;
}

function isNode(): boolean {
  const p = (globalThis as { process?: NodeProcessLike }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * A Node built-in module (call only when {@link isNode}), loaded where no bundler looks:
 * `process.getBuiltinModule` (Node >= 20.16), else a dynamic import of a computed specifier
 * that bundlers leave alone. So browser bundles need no `node:` shims and no settings.
 */
async function nodeBuiltin<T>(id: 'node:os' | 'node:worker_threads'): Promise<T> {
  const builtin = (globalThis as { process?: NodeProcessLike }).process?.getBuiltinModule?.(id);
  if (builtin) return builtin as T;
  const specifier: string = id;
  return (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as T;
}

/**
 * Starts one worker running {@link WORKER_SOURCE} with `data`. Rejects when the platform has
 * no workers.
 *
 * @example
 * ```ts
 * const handle = await spawnWorker({ module, memory, ctrl, tid: 1, spin: 20000 }, console.warn);
 * ```
 */
export async function spawnWorker(data: WorkerStart, onError: (e: unknown) => void): Promise<WorkerHandle> {
  if (isNode()) {
    const threads = await nodeBuiltin<{ Worker: new (src: string, o: { eval: boolean }) => NodeWorkerLike }>('node:worker_threads');
    const w = new threads.Worker(WORKER_SOURCE, { eval: true });
    w.on('error', onError);
    w.postMessage(data);
    w.unref();
    return { terminate: () => void w.terminate() };
  }
  if (typeof Worker !== 'function' || typeof Blob !== 'function' || typeof URL?.createObjectURL !== 'function') {
    throw new Error('no Worker support on this platform');
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  w.onerror = (e) => onError(e);
  w.postMessage(data);
  return { terminate: () => { w.terminate(); URL.revokeObjectURL(url); } };
}

/**
 * Number of hardware threads (Node: os.availableParallelism; browsers: hardwareConcurrency).
 *
 * @example
 * ```ts
 * const n = await hardwareThreads(); // 2 on a 2-core machine
 * ```
 */
export async function hardwareThreads(): Promise<number> {
  if (isNode()) {
    const os = await nodeBuiltin<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}

/**
 * Whether this thread may block in Atomics.wait (Node's main thread may; a browser's may not).
 *
 * @example
 * ```ts
 * canBlock(new Int32Array(new SharedArrayBuffer(4))); // true in Node
 * ```
 */
export function canBlock(i32: Int32Array): boolean {
  try {
    Atomics.wait(i32, 0, 1, 0); // value differs: returns "not-equal" without sleeping if allowed
    return true;
  } catch {
    return false;
  }
}
