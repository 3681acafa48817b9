// SPDX-License-Identifier: MIT
// Worker threads for the fast path. One tiny abstraction starts a worker from a source string
// on either platform: node:worker_threads (eval) in Node, a Blob-URL Web Worker in browsers.
// Each worker instantiates the same compiled kernel module on the same shared memory and runs
// a small JS job loop (WORKER_SOURCE) that mirrors asm/jobs.ts's protocol: it waits for a
// published job, enters it, and either runs the kernel module's `runShared` (built-in kinds) or,
// for JOB_PROGRAM, claims blocks of a run-time generated program (codegen-wasm.ts) and calls
// its own instance of that program with the block's arguments from a Float64 table in the heap.
// Generated modules reach a worker by message (compiled once on the main thread, posted as a
// WebAssembly.Module); a worker that meets a program it has not received yet leaves the job
// without claiming a block and returns to its event loop to receive it, so a job never depends
// on a worker taking part. Workers are started asynchronously; until one reports ready, jobs
// simply run on the calling thread. Invariants: all job coordination is in the shared control
// block (a worker's only JS state is its map of program instances); a failing worker leaves
// the job it is in (so the caller can wait for the job to drain), sets ERROR and stops; workers
// are unref'd in Node (they never keep the process alive) and stop on `close()`.

/**
 * Control block offsets (bytes), mirrored from asm/jobs.ts; JS-only: FAULT (a test hook that
 * makes workers fail inside their next program block), WORKED (program blocks run by workers)
 * and LEFT (bumped and notified whenever a worker leaves a job: the main thread's begin() sleeps
 * on it instead of spinning while a worker is inside).
 *
 * @example
 * ```ts
 * Atomics.load(i32, (ctrl + CTRL.READY) >> 2); // workers running
 * ```
 */
export const CTRL = { STATE: 0, NEXT: 4, DONE: 8, NBLOCKS: 12, KIND: 16, ERROR: 20, QUIT: 24, READY: 28, FAULT: 32, WORKED: 36, LEFT: 40, ARGS: 64, BYTES: 256 } as const;

/**
 * The job kind of a generated program (outside the kernel module's kinds, see ops.ts's KIND).
 * Its argument slots: 0 = program id (see {@link ProgramMessage}), 1 = byte address of the
 * block table (8-aligned), 2 = arguments per block; block b calls the program with the
 * doubles table[b * argc .. b * argc + argc).
 *
 * @example
 * ```ts
 * rt.setI(0, id); rt.setI(1, table); rt.setI(2, argc);
 * ```
 */
export const JOB_PROGRAM = 0x100;

/**
 * The script every worker runs (plain JS, valid as a CommonJS eval script and a Web Worker).
 *
 * @example
 * ```ts
 * new Worker(WORKER_SOURCE, { eval: true }); // node:worker_threads
 * ```
 */
export const WORKER_SOURCE = `'use strict';
const STATE = ${CTRL.STATE >> 2}, NEXT = ${CTRL.NEXT >> 2}, DONE = ${CTRL.DONE >> 2}, NBLOCKS = ${CTRL.NBLOCKS >> 2};
const KIND = ${CTRL.KIND >> 2}, ERROR = ${CTRL.ERROR >> 2}, QUIT = ${CTRL.QUIT >> 2}, READY = ${CTRL.READY >> 2};
const FAULT = ${CTRL.FAULT >> 2}, WORKED = ${CTRL.WORKED >> 2}, LEFT = ${CTRL.LEFT >> 2}, ARGS = ${CTRL.ARGS >> 2}, PROGRAM = ${JOB_PROGRAM};
const later = typeof setImmediate === 'function' ? setImmediate : (f) => setTimeout(f, 0);
const programs = new Map();
let d = null, kernels = null, i32 = null, f64 = null, base = 0;
let last = -1, running = false, queued = false, stopped = false;
const views = () => {
  const buf = d.memory.buffer;
  if (i32 === null || i32.buffer.byteLength !== buf.byteLength) { i32 = new Int32Array(buf); f64 = new Float64Array(buf); }
};
const addProgram = (p) => {
  let run = null;
  try {
    run = new WebAssembly.Instance(p.module, { env: { memory: d.memory, ...kernels } }).exports.run;
  } catch (e) {
    run = null; // cannot run it here: take no blocks of its jobs
  }
  programs.set(p.id, run);
};
// Claims blocks of the current program job; false when the program has not arrived yet.
const runProgram = () => {
  const run = programs.get(i32[base + ARGS]);
  if (run === undefined) return false;
  if (run === null) return true;
  const table = i32[base + ARGS + 1] >>> 3, argc = i32[base + ARGS + 2], nblocks = i32[base + NBLOCKS];
  views();
  const args = new Array(argc);
  for (;;) {
    const b = Atomics.add(i32, base + NEXT, 1);
    if (b >= nblocks) return true;
    if (Atomics.load(i32, base + FAULT) !== 0) throw new Error('injected fast-path worker fault');
    const at = table + b * argc;
    for (let k = 0; k < argc; k++) args[k] = f64[at + k];
    run(...args);
    Atomics.add(i32, base + WORKED, 1);
    if (Atomics.add(i32, base + DONE, 1) + 1 === nblocks) Atomics.notify(i32, base + DONE);
  }
};
const leave = () => {
  Atomics.sub(i32, base + STATE, 1);
  Atomics.add(i32, base + LEFT, 1);
  Atomics.notify(i32, base + LEFT);
};
const resume = () => {
  if (queued || stopped) return;
  queued = true;
  later(() => { queued = false; if (!running && !stopped) loop(); });
};
// A JS poll costs several times asm/jobs.ts's, so the spin is bounded by time: the ~4 ns a
// WASM poll takes, times the polls asked for (20000 polls: 80 us), then sleep.
const loop = () => {
  running = true;
  const spinMs = d.spin * 4e-6;
  let polls = 0, idleSince = performance.now();
  for (;;) {
    if (Atomics.load(i32, base + QUIT) !== 0) break;
    const s = Atomics.load(i32, base + STATE);
    const gen = s >>> 8;
    if (gen === last || (gen & 1) !== 0) {
      if (++polls % 64 !== 0 || performance.now() - idleSince < spinMs) continue;
      Atomics.wait(i32, base + STATE, s, 100); // re-check QUIT at least every 100 ms
      continue;
    }
    // every block already claimed (by the main thread, or a stale job): do not enter, so the
    // main thread's next begin() never waits for a worker that only came to find nothing
    if (Atomics.load(i32, base + NEXT) >= Atomics.load(i32, base + NBLOCKS)) {
      last = gen;
      idleSince = performance.now();
      continue;
    }
    if (Atomics.compareExchange(i32, base + STATE, s, s + 1) !== s) continue;
    let missing = false;
    try {
      views();
      if (i32[base + KIND] === PROGRAM) missing = !runProgram();
      else kernels.runShared(d.ctrl, d.tid);
    } catch (e) {
      stopped = true;
      running = false;
      Atomics.store(i32, base + ERROR, 1);
      Atomics.sub(i32, base + READY, 1);
      leave();
      Atomics.notify(i32, base + DONE);
      throw e;
    }
    last = gen;
    idleSince = performance.now();
    leave();
    if (missing) { running = false; resume(); return; } // receive the program, then come back
  }
  running = false;
  stopped = true;
  Atomics.sub(i32, base + READY, 1);
};
const start = (m) => {
  d = m;
  base = m.ctrl >> 2;
  views();
  try {
    kernels = new WebAssembly.Instance(m.module, { env: { memory: m.memory } }).exports;
    for (const p of m.programs) addProgram(p);
  } catch (e) {
    stopped = true;
    Atomics.store(i32, base + ERROR, 1);
    Atomics.notify(i32, base + DONE);
    throw e;
  }
  Atomics.add(i32, base + READY, 1);
  loop();
};
const onMessage = (m) => {
  if (m.type === 'start') start(m);
  else if (m.type === 'program' && d !== null) { addProgram(m); resume(); }
};
if (typeof require === 'function') require('node:worker_threads').parentPort.on('message', onMessage);
else self.onmessage = (e) => onMessage(e.data);
`;

/**
 * A generated program as posted to workers: its id (the job's argument slot 0) and compiled
 * module, instantiated on the worker against the shared memory and the kernel module's exports.
 *
 * @example
 * ```ts
 * worker.post({ type: 'program', id: 3, module });
 * ```
 */
export interface ProgramMessage {
  readonly type: 'program';
  readonly id: number;
  readonly module: WebAssembly.Module;
}

/**
 * What a worker is given: the compiled kernel module, the shared memory, the control block
 * address, its thread id (1..n; the main thread is 0), how many polls to spin before sleeping,
 * and the generated programs shared so far.
 *
 * @example
 * ```ts
 * const data: WorkerStart = { type: 'start', module, memory, ctrl, tid: 1, spin: 20000, programs: [] };
 * ```
 */
export interface WorkerStart {
  readonly type: 'start';
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly ctrl: number;
  readonly tid: number;
  readonly spin: number;
  readonly programs: readonly ProgramMessage[];
}

/**
 * A started worker, whatever the platform.
 *
 * @example
 * ```ts
 * const w: WorkerHandle = await spawnWorker(data, onError);
 * w.post({ type: 'program', id, module });
 * w.terminate();
 * ```
 */
export interface WorkerHandle {
  /** Sends a generated program (delivered when the worker next returns to its event loop). */
  post(message: ProgramMessage): void;
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
 * const handle = await spawnWorker({ type: 'start', module, memory, ctrl, tid: 1, spin: 20000, programs: [] }, console.warn);
 * ```
 */
export async function spawnWorker(data: WorkerStart, onError: (e: unknown) => void): Promise<WorkerHandle> {
  if (isNode()) {
    const threads = await nodeBuiltin<{ Worker: new (src: string, o: { eval: boolean }) => NodeWorkerLike }>('node:worker_threads');
    const w = new threads.Worker(WORKER_SOURCE, { eval: true });
    w.on('error', onError);
    w.postMessage(data);
    w.unref();
    return { post: (m) => w.postMessage(m), terminate: () => void w.terminate() };
  }
  if (typeof Worker !== 'function' || typeof Blob !== 'function' || typeof URL?.createObjectURL !== 'function') {
    throw new Error('no Worker support on this platform');
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  w.onerror = (e) => onError(e);
  w.postMessage(data);
  return { post: (m) => w.postMessage(m), terminate: () => { w.terminate(); URL.revokeObjectURL(url); } };
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
