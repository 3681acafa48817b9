// SPDX-License-Identifier: MIT
// The 'mpi' transport: host-array collectives of one process of an mpirun job through the
// heed_mpi binding (collectives run on the binding's MPI thread, so the event loop stays free),
// and the process hooks that make failures visible on every rank:
// - exit with a non-zero code, an uncaught error, or process.exit() while a collective is
//   pending: tell every peer "rank r failed (...)" so their pending/next collective rejects with a
//   DistributedError naming r, then wait a short grace so they can report it before mpirun
//   tears the job down;
// - a clean exit without destroy(): finalize MPI (mpirun treats a missing MPI_Finalize as a crash);
// - SIGTERM from the launcher (another rank was killed or crashed without a word): print a
//   DistributedError naming the failed rank if known, else the ranks this one was waiting for.
// Invariant: one MPI group per process (MPI_Init once); every collective carries the timeout.
import { HeedError } from '@heed/core';
import type { HostTransport } from '../collectives.js';
import { DistributedError, type HostArray, type ReduceOp } from '../group.js';
import { finishReduce } from '../reduce.js';
import { isNativeError, NATIVE_OPS, type MpiAddon } from './addon.js';

/** Largest array handed to the binding in one call (MPI counts are 32-bit). */
const MAX_CALL_BYTES = 1 << 30;

/**
 * Grace after a failure notice before this rank exits: `HEED_DIST_FAIL_GRACE_MS`, default 500 ms.
 *
 * @example
 * ```ts
 * failGraceMs(); // 500
 * ```
 */
export function failGraceMs(): number {
  const v = Number(process.env.HEED_DIST_FAIL_GRACE_MS);
  return Number.isFinite(v) && v >= 0 ? v : 500;
}

function rankList(ranks: readonly number[]): string {
  return `rank${ranks.length === 1 ? '' : 's'} ${ranks.join(', ')}`;
}

/**
 * Host-array collectives over Open MPI for one rank (see the file comment for failure handling).
 *
 * @example
 * ```ts
 * const transport = new MpiTransport(addon, 0, 2, 60_000);
 * await transport.allReduce(new Float32Array([1, 2]), 'sum');
 * ```
 */
export class MpiTransport implements HostTransport {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend = 'mpi' as const;
  readonly #addon: MpiAddon;
  readonly #timeoutMs: number;
  #calls = 0;
  readonly #pending: string[] = [];
  #destroyed = false;
  #lastError: unknown = undefined;
  #sigterm = false;
  #staging: ArrayBuffer | null = null;
  readonly #onError = (err: unknown): void => { this.#lastError ??= err; };
  readonly #onExit = (code: number): void => this.#exitHook(code);
  readonly #onSigterm = (): void => this.#sigtermHook();

  constructor(addon: MpiAddon, rank: number, worldSize: number, timeoutMs: number) {
    this.#addon = addon;
    this.rank = rank;
    this.worldSize = worldSize;
    this.#timeoutMs = timeoutMs;
    process.on('uncaughtExceptionMonitor', this.#onError);
    process.on('exit', this.#onExit);
    if (process.env.OMPI_COMM_WORLD_SIZE !== undefined) process.on('SIGTERM', this.#onSigterm);
  }

  async allReduce(data: HostArray, op: ReduceOp): Promise<void> {
    for (const piece of this.#pieces(data)) {
      await this.#run('allReduce', () => this.#addon.allreduce(piece, NATIVE_OPS[op], this.#timeoutMs));
    }
    finishReduce(op, data, 0, data.length, this.worldSize);
  }

  /** One reusable host buffer for the tensor layer's all-reduce buckets (no allocation per bucket). */
  stage(dtype: 'float32' | 'int32', length: number): Float32Array | Int32Array | null {
    const bytes = length * 4;
    if (bytes > MAX_CALL_BYTES) return null;
    if (this.#staging === null || this.#staging.byteLength < bytes) this.#staging = new ArrayBuffer(bytes);
    return dtype === 'float32' ? new Float32Array(this.#staging, 0, length) : new Int32Array(this.#staging, 0, length);
  }

  async broadcast(data: HostArray, src: number): Promise<void> {
    for (const piece of this.#pieces(data)) await this.#run('broadcast', () => this.#addon.broadcast(piece, src, this.#timeoutMs));
  }

  async allGather(data: HostArray, out: HostArray): Promise<void> {
    if (data.byteLength > MAX_CALL_BYTES) {
      throw new HeedError('allGather', `${data.length} values (${data.byteLength} bytes) exceed the MPI transport's ${MAX_CALL_BYTES} bytes per rank; gather smaller tensors.`);
    }
    await this.#run('allGather', () => this.#addon.allgather(data, out, this.#timeoutMs));
  }

  async reduceScatter(data: HostArray, op: ReduceOp, out: HostArray): Promise<void> {
    if (data.byteLength > MAX_CALL_BYTES) {
      throw new HeedError('reduceScatter', `${data.length} values (${data.byteLength} bytes) exceed the MPI transport's ${MAX_CALL_BYTES} bytes per call; scatter smaller tensors.`);
    }
    await this.#run('reduceScatter', () => this.#addon.reduceScatter(data, out, NATIVE_OPS[op], this.#timeoutMs));
    finishReduce(op, out, 0, out.length, this.worldSize);
  }

  async barrier(): Promise<void> {
    await this.#run('barrier', () => this.#addon.barrier(this.#timeoutMs));
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#unhook();
    await this.#addon.finalize();
  }

  /** Splits `data` into views of at most MAX_CALL_BYTES (one view for every realistic bucket). */
  #pieces(data: HostArray): HostArray[] {
    const per = MAX_CALL_BYTES / data.BYTES_PER_ELEMENT;
    if (data.length <= per) return [data];
    const out: HostArray[] = [];
    for (let i = 0; i < data.length; i += per) out.push(data.subarray(i, Math.min(i + per, data.length)));
    return out;
  }

  async #run(op: string, call: () => Promise<void>): Promise<void> {
    if (this.#destroyed) throw new HeedError(op, `the MPI process group (rank ${this.rank} of ${this.worldSize}) was destroyed.`);
    const n = ++this.#calls;
    this.#pending.push(op);
    try {
      await call();
    } catch (e) {
      throw this.#translate(op, n, e);
    } finally {
      this.#pending.splice(this.#pending.indexOf(op), 1);
    }
  }

  #translate(op: string, n: number, e: unknown): Error {
    if (!isNativeError(e)) return e instanceof Error ? e : new HeedError(op, String(e));
    const where = `rank ${this.rank} stopped in ${op} (collective #${n})`;
    switch (e.heedCode) {
      case 'timeout':
        return new DistributedError(op, e.ranks[0] ?? null, `${rankList(e.ranks)} did not reach ${op} (collective #${n}) within ${this.#timeoutMs} ms; ` +
          `it hangs, died, or calls a different sequence of collectives than rank ${this.rank}. The group is unusable now.`);
      case 'peer':
        return new DistributedError(op, e.ranks[0] ?? null, `${e.message}; ${where} instead of waiting for it.`);
      case 'mismatch':
        return new DistributedError(op, e.ranks[0] ?? null, `${e.message} (collective #${n}); every rank must call the same collectives in the same order ` +
          'with the same sizes, ops and source. Nothing was exchanged; the group is still usable.');
      case 'broken':
        return new DistributedError(op, null, `${e.message}; ${where}.`);
      case 'mpi':
      case 'usage':
        return new HeedError(op, `${e.message} (${where}).`);
    }
  }

  #unhook(): void {
    process.off('uncaughtExceptionMonitor', this.#onError);
    process.off('exit', this.#onExit);
    process.off('SIGTERM', this.#onSigterm);
  }

  #exitHook(code: number): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (code === 0 && this.#pending.length === 0) {
      this.#addon.finalizeSync(this.#timeoutMs);
      return;
    }
    const err = this.#lastError;
    const why = err instanceof Error ? `: ${err.name}: ${err.message}` : err !== undefined ? `: ${String(err)}` : '';
    const during = this.#pending.length > 0 ? ` during ${this.#pending[0]}` : '';
    const text = this.#sigterm ? 'was stopped by the MPI launcher (SIGTERM)' : `exited with code ${code}${during}${why}`;
    this.#addon.notifyFailure(text.slice(0, 900), this.#sigterm ? 0 : failGraceMs());
  }

  #sigtermHook(): void {
    this.#sigterm = true;
    const f = this.#addon.peerFailure();
    const waiting = this.#addon.waiting();
    const op = this.#pending[0] ?? 'mpi';
    let err: DistributedError;
    if (f !== null) {
      err = new DistributedError(op, f.rank, `rank ${f.rank} failed (${f.message}); the MPI launcher then stopped rank ${this.rank} (SIGTERM).`);
    } else if (waiting !== null && waiting.length > 0) {
      err = new DistributedError(op, waiting[0], `the MPI launcher stopped rank ${this.rank} (SIGTERM) while it waited in ${op} (collective #${this.#calls}) for ` +
        `${rankList(waiting)}: another rank died (killed or crashed; see mpirun's report).`);
    } else {
      err = new DistributedError(op, null, `the MPI launcher stopped rank ${this.rank} (SIGTERM): another rank died or the job was cancelled (see mpirun's report).`);
    }
    process.stderr.write(`${err.name}: ${err.message}\n`);
    process.exit(143);
  }
}
