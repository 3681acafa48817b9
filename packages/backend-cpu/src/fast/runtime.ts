// SPDX-License-Identifier: MIT
// FastRuntime: the process-wide fast path — heap, compiled kernels, control block, per-thread
// GEMM scratch and the worker pool — plus the synchronous job API the kernels use:
//   begin()        claim the control block (waits until no worker is inside the last job)
//   setI / setF    write argument slots
//   run(kind, n, parallel)   run n blocks: on this thread only, or shared with the workers
//                            (this thread works too, then waits for the stragglers)
//   runBlocks(n, parallel, block)   the same for a job whose blocks are JS calls (JOB_PROGRAM:
//                            generated programs, shared with workers by shareProgram)
// Invariants: jobs never overlap (begin() is always followed by run()/runBlocks()); a job's
// results are identical whether it ran on one thread or many; a worker failure disables
// threading and surfaces as an Error from run() (the caller falls back to the reference
// kernels) only after every worker still inside the job has left it, so a fallback never races
// a straggler writing the same buffers.
import { FastHeap, RESERVED_BYTES } from './heap.js';
import { compileKernels, instantiateKernels, type KernelExports, type SimdFlavor } from './module.js';
import { CTRL, JOB_PROGRAM, canBlock, hardwareThreads, spawnWorker, type ProgramMessage, type WorkerHandle } from './pool.js';

/**
 * Options of the fast path.
 *
 * @example
 * ```ts
 * const opts: FastOptions = { threads: 2, simd: 'auto' };
 * ```
 */
export interface FastOptions {
  /** Total threads including the caller's (default: hardware threads, at most 8). 1 = no workers. */
  readonly threads?: number;
  /** Force a build: 'simd' (mul + add) or 'relaxed' (fused multiply-add, if validated). */
  readonly simd?: 'auto' | SimdFlavor;
  /** Polls a worker spins before sleeping (default 20000, roughly 50-100 us). */
  readonly spin?: number;
}

const MAIN_SPIN = 4000;
/** How long a failed job may take to drain (workers inside it leave) before the caller gives up waiting. */
const DRAIN_MS = 2000;
/** The runtime that owns each heap memory (generated programs find their worker pool by it). */
const owners = new WeakMap<WebAssembly.Memory, FastRuntime>();

/**
 * The fast path's shared state and job API (see the file comment).
 *
 * @example
 * ```ts
 * const rt = FastRuntime.create({ threads: 2 });
 * rt.begin(); rt.setI(0, 42); rt.run(kind, blocks, true);
 * ```
 */
export class FastRuntime {
  readonly heap: FastHeap;
  readonly kernels: KernelExports;
  readonly flavor: SimdFlavor;
  /** Byte address of the control block; argument slot i is at ctrl + 64 + 4 i. */
  readonly ctrl: number;
  /** Threads the GEMM scratch was sized for (the caller plus at most maxThreads - 1 workers). */
  readonly maxThreads: number;
  readonly #module: WebAssembly.Module;
  readonly #workers: WorkerHandle[] = [];
  readonly #programs: ProgramMessage[] = [];
  readonly #canBlock: boolean;
  #i32: Int32Array;
  #f32: Float32Array;
  #generation: number;
  #broken = false;
  #acquired = -1;

  private constructor(opts: FastOptions) {
    const wantThreads = Math.max(1, Math.floor(opts.threads ?? 8));
    const threadsPossible = typeof SharedArrayBuffer === 'function' &&
      (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false;
    this.heap = FastHeap.create(threadsPossible && wantThreads > 1);
    const { module, flavor } = compileKernels(opts.simd ?? 'auto', this.heap.shared);
    this.#module = module;
    this.flavor = flavor;
    this.kernels = instantiateKernels(module, this.heap.memory);
    this.maxThreads = this.heap.shared ? wantThreads : 1;
    this.ctrl = this.heap.alloc(CTRL.BYTES);
    const scratchBytes = this.kernels.GEMM_SCRATCH_BYTES.value as number;
    const scratch = this.heap.alloc(scratchBytes * this.maxThreads);
    if (this.ctrl < RESERVED_BYTES || scratch === 0) throw new Error('cannot allocate the fast-path control block');
    this.#i32 = this.heap.i32();
    this.#f32 = new Float32Array(this.heap.buffer);
    this.#generation = this.heap.generation;
    this.#i32.fill(0, this.ctrl >> 2, (this.ctrl + CTRL.BYTES) >> 2);
    this.scratch = scratch;
    this.scratchBytes = scratchBytes;
    this.#canBlock = this.heap.shared && canBlock(this.#i32);
    owners.set(this.heap.memory, this);
  }

  /**
   * The runtime whose heap is `memory`, if any (run-time generated modules import the memory
   * and use this to reach the worker pool).
   *
   * @example
   * ```ts
   * FastRuntime.owning(rt.heap.memory) === rt; // true
   * ```
   */
  static owning(memory: WebAssembly.Memory): FastRuntime | undefined {
    return owners.get(memory);
  }

  /** Byte address of thread 0's GEMM scratch (thread t's is scratch + t * scratchBytes). */
  readonly scratch: number;
  /** Bytes of GEMM scratch per thread. */
  readonly scratchBytes: number;

  /**
   * Creates the runtime and starts its workers in the background. Throws when WASM SIMD or
   * memory is unavailable.
   *
   * @example
   * ```ts
   * const rt = FastRuntime.create({});
   * ```
   */
  static create(opts: FastOptions = {}): FastRuntime {
    const rt = new FastRuntime(opts);
    if (rt.maxThreads > 1) void rt.#startWorkers(opts.spin ?? 20000);
    return rt;
  }

  /** Threads that take part in parallel jobs right now (1 + ready workers). */
  get threads(): number {
    if (this.#broken || this.maxThreads === 1) return 1;
    return 1 + Atomics.load(this.#ints(), (this.ctrl + CTRL.READY) >> 2);
  }

  /** Claims the control block for a new job; must be followed by {@link FastRuntime.run}. */
  begin(): void {
    if (this.maxThreads === 1 || this.#broken) return;
    const i32 = this.#ints();
    const at = (this.ctrl + CTRL.STATE) >> 2;
    const leftAt = (this.ctrl + CTRL.LEFT) >> 2;
    let s = Atomics.load(i32, at);
    let polls = 0;
    for (;;) {
      if (Atomics.load(i32, (this.ctrl + CTRL.ERROR) >> 2) !== 0) {
        this.#broken = true; // a worker died inside a job: never wait for it again
        return;
      }
      if ((s & 0xff) === 0 && ((s >>> 8) & 1) === 0) {
        const prev = Atomics.compareExchange(i32, at, s, s + 256);
        if (prev === s) break;
        s = prev;
      } else {
        // a worker is inside the last job: spin a little, then sleep until one leaves (a
        // preempted worker then gets this core instead of a spinning main thread)
        if (++polls > MAIN_SPIN && this.#canBlock) {
          const left = Atomics.load(i32, leftAt);
          if ((Atomics.load(i32, at) & 0xff) !== 0) Atomics.wait(i32, leftAt, left, 1);
        }
        s = Atomics.load(i32, at);
      }
    }
    this.#acquired = s;
  }

  /** Writes integer argument slot `slot`. */
  setI(slot: number, value: number): void {
    this.#ints()[((this.ctrl + CTRL.ARGS) >> 2) + slot] = value;
  }

  /** Writes float argument slot `slot`. */
  setF(slot: number, value: number): void {
    if (this.#generation !== this.heap.generation) this.#ints();
    this.#f32[((this.ctrl + CTRL.ARGS) >> 2) + slot] = value;
  }

  /** Byte address of the argument slots. */
  get args(): number {
    return this.ctrl + CTRL.ARGS;
  }

  /**
   * Runs `nblocks` blocks of kernel `kind` with the written arguments; in parallel when asked
   * and workers are ready. Synchronous: returns when every block is done.
   */
  run(kind: number, nblocks: number, parallel: boolean): void {
    this.#dispatch(kind, nblocks, parallel, null);
  }

  /**
   * Runs `nblocks` calls `block(b)` as a JOB_PROGRAM job (argument slots written as pool.ts's
   * JOB_PROGRAM says; workers run the same blocks through their own instance of the program
   * shared by {@link FastRuntime.shareProgram}). Synchronous, like {@link FastRuntime.run}.
   *
   * @example
   * ```ts
   * rt.begin(); rt.setI(0, id); rt.setI(1, table); rt.setI(2, argc);
   * rt.runBlocks(nblocks, true, (b) => runBlockOnThisThread(b));
   * ```
   */
  runBlocks(nblocks: number, parallel: boolean, block: (b: number) => void): void {
    this.#dispatch(JOB_PROGRAM, nblocks, parallel, block);
  }

  /**
   * Gives a run-time generated program module to the workers (now and to workers started
   * later); returns the id its JOB_PROGRAM jobs name in argument slot 0.
   *
   * @example
   * ```ts
   * const id = rt.shareProgram(module);
   * ```
   */
  shareProgram(module: WebAssembly.Module): number {
    const message: ProgramMessage = { type: 'program', id: this.#programs.length, module };
    this.#programs.push(message);
    for (const w of this.#workers) w.post(message);
    return message.id;
  }

  /**
   * @internal Blocks of program jobs the workers ran so far (tests check the pool takes part).
   *
   * @example
   * ```ts
   * const before = rt.workerProgramBlocks();
   * ```
   */
  workerProgramBlocks(): number {
    return Atomics.load(this.#ints(), (this.ctrl + CTRL.WORKED) >> 2);
  }

  /**
   * @internal Test hook: every worker throws inside the next program block it claims (the
   * runtime then falls back to the calling thread for good).
   *
   * @example
   * ```ts
   * rt.injectWorkerFault();
   * ```
   */
  injectWorkerFault(): void {
    Atomics.store(this.#ints(), (this.ctrl + CTRL.FAULT) >> 2, 1);
  }

  #dispatch(kind: number, nblocks: number, parallel: boolean, block: ((b: number) => void) | null): void {
    const acquired = this.#acquired;
    this.#acquired = -1;
    if (!parallel || acquired < 0 || this.threads < 2 || nblocks < 2) {
      try {
        if (block === null) this.kernels.runLocal(this.ctrl, kind, nblocks);
        else for (let b = 0; b < nblocks; b++) block(b);
      } finally {
        if (acquired >= 0) Atomics.store(this.#ints(), (this.ctrl + CTRL.STATE) >> 2, acquired);
      }
      return;
    }
    const i32 = this.#ints();
    const base = this.ctrl >> 2;
    i32[base + (CTRL.NEXT >> 2)] = 0;
    i32[base + (CTRL.DONE >> 2)] = 0;
    i32[base + (CTRL.NBLOCKS >> 2)] = nblocks;
    i32[base + (CTRL.KIND >> 2)] = kind;
    Atomics.store(i32, base, (acquired & ~0xff) + 512); // publish generation g + 2
    Atomics.notify(i32, base);
    try {
      if (block === null) this.kernels.runShared(this.ctrl, 0);
      else this.#claim(nblocks, block);
    } catch (e) {
      this.#drain(); // the workers finish the other blocks; wait for them before the caller frees anything
      throw e;
    }
    const doneAt = base + (CTRL.DONE >> 2);
    const errAt = base + (CTRL.ERROR >> 2);
    let polls = 0;
    for (;;) {
      const done = Atomics.load(i32, doneAt);
      if (done >= nblocks) return;
      if (Atomics.load(i32, errAt) !== 0) {
        this.#broken = true;
        this.#drain();
        throw new Error('a fast-path worker failed; threading is now disabled');
      }
      if (++polls > MAIN_SPIN && this.#canBlock) Atomics.wait(i32, doneAt, done, 20);
    }
  }

  /** This thread's share of a JOB_PROGRAM job: claims blocks like a worker (pool.ts). */
  #claim(nblocks: number, block: (b: number) => void): void {
    const base = this.ctrl >> 2;
    for (;;) {
      const b = Atomics.add(this.#ints(), base + (CTRL.NEXT >> 2), 1);
      if (b >= nblocks) return;
      block(b);
      Atomics.add(this.#ints(), base + (CTRL.DONE >> 2), 1);
    }
  }

  /** Waits (at most DRAIN_MS) until no worker is inside the current job. */
  #drain(): void {
    const at = (this.ctrl + CTRL.STATE) >> 2;
    const t0 = Date.now();
    for (;;) {
      const s = Atomics.load(this.#ints(), at);
      if ((s & 0xff) === 0 || Date.now() - t0 > DRAIN_MS) return;
      if (this.#canBlock) Atomics.wait(this.#ints(), at, s, 1);
    }
  }

  /** Stops the workers (the runtime keeps working on the calling thread). */
  close(): void {
    if (this.maxThreads > 1) {
      const i32 = this.#ints();
      Atomics.store(i32, (this.ctrl + CTRL.QUIT) >> 2, 1);
      Atomics.notify(i32, (this.ctrl + CTRL.STATE) >> 2);
    }
    for (const w of this.#workers.splice(0)) w.terminate();
    this.#broken = true;
  }

  #ints(): Int32Array {
    if (this.#generation !== this.heap.generation) {
      this.#i32 = this.heap.i32();
      this.#f32 = new Float32Array(this.heap.buffer);
      this.#generation = this.heap.generation;
    }
    return this.#i32;
  }

  async #startWorkers(spin: number): Promise<void> {
    let n = this.maxThreads - 1;
    try {
      n = Math.min(n, (await hardwareThreads()) - 1);
      for (let tid = 1; tid <= n; tid++) {
        const programs = this.#programs.slice();
        const data = { type: 'start', module: this.#module, memory: this.heap.memory, ctrl: this.ctrl, tid, spin, programs } as const;
        const worker = await spawnWorker(data, () => { this.#broken = true; });
        this.#workers.push(worker);
        for (const p of this.#programs.slice(programs.length)) worker.post(p); // shared while it started
      }
    } catch {
      // no workers on this platform: stay single-threaded
    }
  }
}
