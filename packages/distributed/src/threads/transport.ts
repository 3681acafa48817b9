// SPDX-License-Identifier: MIT
// The in-worker half of the threads transport: host-array collectives over the shared slab.
// Each collective runs in chunks of at most one slab region: every rank copies its chunk into
// its own region, arrives at a barrier, reduces its own 1/N slice of the chunk over the regions
// in rank order 0..N-1 into the result region (a reduce-scatter, so the work is spread over the
// ranks), arrives again, and copies the whole result out (an all-gather). Only a region's own
// rank writes it, and only before the first barrier of a step; the result region is written
// only between the two barriers; so a rank still copying out never sees the next collective's
// writes. Waits block in Atomics.wait (workers may block; where a thread may not,
// Atomics.waitAsync) with the group's timeout, and wake when any rank or the launcher records
// a failure. No Node imports.
import type { HostTransport } from '../collectives.js';
import { DistributedError, REDUCE_OPS, type HostArray, type ReduceOp } from '../group.js';
import { combineInto, finishReduce } from '../reduce.js';
import { CTRL_WORDS, FAILURE_REASONS, markFailed, readFailure, sigBase, type ThreadsStart } from './shared.js';

/** Opcodes of the collectives, for the signature check (an exhaustive table). */
const OPCODES = { allReduce: 1, broadcast: 2, allGather: 3, reduceScatter: 4, barrier: 5 } as const;
type Collective = keyof typeof OPCODES;
const REDUCE_OP_LIST = Object.keys(REDUCE_OPS) as ReduceOp[];

type ArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor;

function ctorOf(a: HostArray): ArrayCtor {
  if (a instanceof Float32Array) return Float32Array;
  if (a instanceof Float64Array) return Float64Array;
  return Int32Array;
}

const DTYPE_CODES = new Map<ArrayCtor, number>([[Float32Array, 1], [Float64Array, 2], [Int32Array, 3]]);

/** Whether this thread may block in Atomics.wait (workers and Node's main thread; not a page). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

type WaitAsync = (a: Int32Array, i: number, v: number, t: number) => { async: boolean; value: Promise<string> | string };

/**
 * The host-array collectives of one rank of a threads group.
 *
 * @example
 * ```ts
 * const transport = new ThreadsTransport(start); // start: the worker's ThreadsStart
 * await transport.allReduce(new Float32Array([1, 2]), 'sum');
 * ```
 */
export class ThreadsTransport implements HostTransport {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend = 'threads' as const;
  readonly #ctrl: Int32Array;
  readonly #start: ThreadsStart;
  readonly #block = canBlock();
  #seq = 0;
  #calls = 0;

  readonly #onDestroy: (() => void) | null;

  /** `onDestroy` runs once, when the group is destroyed (initThreadsGroup reports the rank done there). */
  constructor(start: ThreadsStart, onDestroy: (() => void) | null = null) {
    this.#start = start;
    this.#onDestroy = onDestroy;
    this.rank = start.rank;
    this.worldSize = start.worldSize;
    this.#ctrl = new Int32Array(start.control);
  }

  /** Region k's view (k = worldSize is the result region) as `ctor` values. */
  #region(ctor: ArrayCtor, k: number): HostArray {
    return new ctor(this.#start.slab as unknown as ArrayBuffer, k * this.#start.regionBytes, this.#start.regionBytes / ctor.BYTES_PER_ELEMENT);
  }

  #fail(op: string, rank: number | null, reason: keyof typeof FAILURE_REASONS, detail: string): never {
    markFailed(this.#ctrl, this.worldSize, rank, reason);
    throw new DistributedError(op, rank, detail);
  }

  #checkHealthy(op: string): void {
    const f = readFailure(this.#ctrl);
    if (f === null) return;
    const who = f.rank === null ? 'a rank' : `rank ${f.rank}`;
    throw new DistributedError(op, f.rank, `${who} ${FAILURE_REASONS[f.reason].text}; rank ${this.rank} stopped in ${op} (collective #${this.#calls}) instead of waiting for it.`);
  }

  /** Arrives at the next barrier and waits for every other rank (or a failure, or the timeout). */
  async #barrier(op: string): Promise<void> {
    this.#checkHealthy(op);
    const seq = ++this.#seq;
    const ctrl = this.#ctrl;
    Atomics.store(ctrl, CTRL_WORDS.ARRIVE + this.rank, seq);
    Atomics.notify(ctrl, CTRL_WORDS.ARRIVE + this.rank);
    const deadline = Date.now() + this.#start.timeoutMs;
    for (let r = 0; r < this.worldSize; r++) {
      const slot = CTRL_WORDS.ARRIVE + r;
      for (let spin = 0; spin < 256 && Atomics.load(ctrl, slot) < seq; spin++);
      for (;;) {
        const seen = Atomics.load(ctrl, slot);
        if (seen >= seq) break;
        this.#checkHealthy(op);
        const left = deadline - Date.now();
        if (left <= 0) {
          this.#fail(op, r, 'timeout', `rank ${r} did not reach ${op} (collective #${this.#calls}) within ${this.#start.timeoutMs} ms; ` +
            'it hangs, died, or calls a different sequence of collectives than rank ' + `${this.rank}.`);
        }
        if (this.#block) Atomics.wait(ctrl, slot, seen, Math.min(left, 1000));
        else await this.#waitAsync(slot, seen, Math.min(left, 1000));
      }
    }
  }

  async #waitAsync(slot: number, seen: number, ms: number): Promise<void> {
    const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
    if (waitAsync === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return;
    }
    const r = waitAsync(this.#ctrl, slot, seen, ms);
    if (r.async) await r.value;
  }

  /** Starts a collective: publishes this rank's signature (collective, dtype, length, op or source). */
  #begin(op: Collective, ctor: ArrayCtor | null, length: number, extra: number): void {
    this.#calls++;
    const base = sigBase(this.worldSize) + 3 * this.rank;
    this.#ctrl[base] = OPCODES[op] * 8 + (ctor === null ? 0 : DTYPE_CODES.get(ctor) ?? 0);
    this.#ctrl[base + 1] = length;
    this.#ctrl[base + 2] = extra;
  }

  /** After the first barrier of a collective: every rank must have published the same signature. */
  #checkSignatures(op: Collective): void {
    const base = sigBase(this.worldSize);
    const sig = (r: number) => [0, 1, 2].map((i) => this.#ctrl[base + 3 * r + i]);
    const describe = ([code, length, extra]: number[]) => {
      const name = Object.entries(OPCODES).find(([, v]) => v === code >> 3)?.[0] ?? 'an unknown collective';
      const dtype = ['', ' float32', ' float64', ' int32'][code & 7] ?? '';
      const what = name === 'broadcast' ? ` from rank ${extra}` : name === 'allReduce' || name === 'reduceScatter' ? ` (op '${REDUCE_OP_LIST[extra] ?? '?'}')` : '';
      return `${name}${what} with ${length}${dtype} values`;
    };
    const mine = sig(this.rank);
    for (let r = 0; r < this.worldSize; r++) {
      const theirs = sig(r);
      if (theirs.some((v, i) => v !== mine[i])) {
        this.#fail(op, r, 'mismatch', `rank ${r} called ${describe(theirs)} but rank ${this.rank} called ${describe(mine)} ` +
          `(collective #${this.#calls}); every rank must call the same collectives in the same order with the same shapes.`);
      }
    }
  }

  /** Elements of `ctor` one region holds. */
  #capacity(ctor: ArrayCtor): number {
    return this.#start.regionBytes / ctor.BYTES_PER_ELEMENT;
  }

  /** This rank's region as `length` values when they fit in it (see {@link HostTransport.stage}). */
  stage(dtype: 'float32' | 'int32', length: number): Float32Array | Int32Array | null {
    const ctor = dtype === 'float32' ? Float32Array : Int32Array;
    if (length > this.#capacity(ctor)) return null;
    return this.#region(ctor, this.rank).subarray(0, length) as Float32Array | Int32Array;
  }

  async allReduce(data: HostArray, op: ReduceOp): Promise<void> {
    const ctor = ctorOf(data);
    // Staged in this rank's region already (then it is one chunk): no copy in. Writing the
    // result back into it after the second barrier is safe: nobody reads it until this rank
    // arrives at the next collective.
    const staged = data.buffer === this.#start.slab && data.byteOffset === this.rank * this.#start.regionBytes;
    const n = this.worldSize;
    this.#begin('allReduce', ctor, data.length, REDUCE_OP_LIST.indexOf(op));
    const mine = this.#region(ctor, this.rank);
    const result = this.#region(ctor, n);
    const regions = Array.from({ length: n }, (_, k) => this.#region(ctor, k));
    const cap = this.#capacity(ctor);
    let first = true;
    for (let off = 0; off < data.length || first; off += cap) {
      const len = Math.min(cap, data.length - off);
      if (!staged) mine.set(data.subarray(off, off + len));
      await this.#barrier('allReduce');
      if (first) this.#checkSignatures('allReduce');
      first = false;
      const s = Math.floor((this.rank * len) / n), e = Math.floor(((this.rank + 1) * len) / n);
      result.set(regions[0].subarray(s, e), s);
      for (let k = 1; k < n; k++) combineInto(op, result, s, regions[k], s, e - s);
      finishReduce(op, result, s, e - s, n);
      await this.#barrier('allReduce');
      data.set(result.subarray(0, len), off);
    }
  }

  async broadcast(data: HostArray, src: number): Promise<void> {
    const ctor = ctorOf(data);
    this.#begin('broadcast', ctor, data.length, src);
    // The source's own region, never the result region: a rank may still be copying the
    // previous collective's result out when the source starts this one.
    const from = this.#region(ctor, src);
    const cap = this.#capacity(ctor);
    let first = true;
    for (let off = 0; off < data.length || first; off += cap) {
      const len = Math.min(cap, data.length - off);
      if (this.rank === src) from.set(data.subarray(off, off + len));
      await this.#barrier('broadcast');
      if (first) this.#checkSignatures('broadcast');
      first = false;
      if (this.rank !== src) data.set(from.subarray(0, len), off);
      await this.#barrier('broadcast');
    }
  }

  async allGather(data: HostArray, out: HostArray): Promise<void> {
    const ctor = ctorOf(data);
    const n = this.worldSize;
    this.#begin('allGather', ctor, data.length, 0);
    const regions = Array.from({ length: n }, (_, k) => this.#region(ctor, k));
    const cap = this.#capacity(ctor);
    let first = true;
    for (let off = 0; off < data.length || first; off += cap) {
      const len = Math.min(cap, data.length - off);
      regions[this.rank].set(data.subarray(off, off + len));
      await this.#barrier('allGather');
      if (first) this.#checkSignatures('allGather');
      first = false;
      for (let k = 0; k < n; k++) out.set(regions[k].subarray(0, len), k * data.length + off);
      await this.#barrier('allGather');
    }
  }

  async reduceScatter(data: HostArray, op: ReduceOp, out: HostArray): Promise<void> {
    const ctor = ctorOf(data);
    const n = this.worldSize;
    const block = out.length;
    this.#begin('reduceScatter', ctor, data.length, REDUCE_OP_LIST.indexOf(op));
    const regions = Array.from({ length: n }, (_, k) => this.#region(ctor, k));
    const cap = Math.max(1, Math.floor(this.#capacity(ctor) / n));
    let first = true;
    for (let off = 0; off < block || first; off += cap) {
      const len = Math.min(cap, block - off);
      const mine = regions[this.rank];
      for (let b = 0; b < n; b++) mine.set(data.subarray(b * block + off, b * block + off + len), b * len);
      await this.#barrier('reduceScatter');
      if (first) this.#checkSignatures('reduceScatter');
      first = false;
      const s = this.rank * len;
      out.set(regions[0].subarray(s, s + len), off);
      for (let k = 1; k < n; k++) combineInto(op, out, off, regions[k], s, len);
      finishReduce(op, out, off, len, n);
      await this.#barrier('reduceScatter');
    }
  }

  async barrier(): Promise<void> {
    this.#begin('barrier', null, 0, 0);
    await this.#barrier('barrier');
    this.#checkSignatures('barrier');
    await this.#barrier('barrier'); // nobody publishes the next signature before everyone has checked this one
  }

  async destroy(): Promise<void> {
    this.#onDestroy?.();
  }
}
