// SPDX-License-Identifier: MIT
// The process-group interface every transport implements (threads, MPI, a 1-rank group), the
// reduce ops, the error that names a failed rank, the rank/world-size environment (torchrun's
// and Open MPI's variables) and `initProcessGroup`, which picks a transport by a typed table.
// Invariants: reductions combine ranks in the fixed order 0..N-1, so every rank gets bitwise
// identical results whatever the arrival order; every collective has a timeout, and a failed,
// exited or hung rank makes the others reject with a DistributedError naming it.
import { HeedError, type Tensor } from '@heed/core';

/**
 * How a collective combines the ranks' values: `sum`, `mean` (sum in rank order, then one
 * division by the world size; float dtypes only), elementwise `max` or `min` (NaN wins, like
 * PyTorch).
 *
 * @example
 * ```ts
 * await group.allReduce([grad], { op: 'mean' });
 * ```
 */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

/**
 * Every {@link ReduceOp}, for validation (an exhaustive table: adding an op breaks the build here).
 *
 * @example
 * ```ts
 * Object.keys(REDUCE_OPS); // ['sum', 'mean', 'max', 'min']
 * ```
 */
export const REDUCE_OPS: { readonly [K in ReduceOp]: { readonly floatOnly: boolean } } = {
  sum: { floatOnly: false },
  mean: { floatOnly: true },
  max: { floatOnly: false },
  min: { floatOnly: false },
};

/**
 * The transports: `threads` (workers of one process over SharedArrayBuffer), `mpi` (processes
 * and machines through Open MPI), `single` (one rank; every collective is the identity).
 *
 * @example
 * ```ts
 * const backend: GroupBackend = 'threads';
 * ```
 */
export type GroupBackend = 'threads' | 'mpi' | 'single';

/**
 * Options of {@link ProcessGroup.allReduce}.
 *
 * @example
 * ```ts
 * const o: AllReduceOptions = { op: 'mean', bucketBytes: 25 << 20 };
 * ```
 */
export interface AllReduceOptions {
  /** The reduction (default `'sum'`). */
  readonly op?: ReduceOp;
  /** Tensors of one dtype are packed into host buckets of at most this many bytes (default {@link DEFAULT_BUCKET_BYTES}). */
  readonly bucketBytes?: number;
}

/**
 * Options of {@link ProcessGroup.broadcast}.
 *
 * @example
 * ```ts
 * const o: BroadcastOptions = { src: 0 };
 * ```
 */
export interface BroadcastOptions {
  /** The rank whose values every rank receives (default 0). */
  readonly src?: number;
}

/**
 * Options of {@link ProcessGroup.reduceScatter}.
 *
 * @example
 * ```ts
 * const o: ReduceScatterOptions = { op: 'sum' };
 * ```
 */
export interface ReduceScatterOptions {
  /** The reduction (default `'sum'`). */
  readonly op?: ReduceOp;
}

/**
 * The host arrays a transport moves: float32/int32 tensor data, float64 for exact scalars.
 *
 * @example
 * ```ts
 * const counts: HostArray = new Float64Array([tokens]);
 * ```
 */
export type HostArray = Float32Array | Float64Array | Int32Array;

/**
 * A group of `worldSize` ranks running the same program (PyTorch's `ProcessGroup`). Every rank
 * must call the same collectives in the same order with the same shapes. Tensor collectives
 * read the tensors' values, exchange them on the host and write results back with
 * `Tensor.assign` (in place; the tensors must be leaves, e.g. parameters or their `.grad`).
 *
 * @example
 * ```ts
 * const group = await initProcessGroup();
 * await group.allReduce(model.parameters().map((p) => p.grad!), { op: 'mean' });
 * await group.destroy();
 * ```
 */
export interface ProcessGroup {
  /** This process's rank, 0..worldSize-1. */
  readonly rank: number;
  /** Number of ranks. */
  readonly worldSize: number;
  /** The transport. */
  readonly backend: GroupBackend;
  /** Reduces each tensor over all ranks, in place, in rank order (bucketed by dtype). */
  allReduce(tensors: readonly Tensor[], options?: AllReduceOptions): Promise<void>;
  /** Replaces each tensor's values with those of rank `src`, in place. */
  broadcast(tensors: readonly Tensor[], options?: BroadcastOptions): Promise<void>;
  /** Every rank's copy of `tensor` (same shape on all ranks), in rank order; new tensors. */
  allGather(tensor: Tensor): Promise<Tensor[]>;
  /** Reduces `tensor` ([worldSize * k, ...]) over ranks and returns this rank's block [k, ...] (a new tensor). */
  reduceScatter(tensor: Tensor, options?: ReduceScatterOptions): Promise<Tensor>;
  /** Reduces a host array over all ranks, in place (for scalars and counts; float64 is exact for integers below 2^53). */
  allReduceBuffer?(data: HostArray, op: ReduceOp): Promise<void>;
  /** Resolves once every rank has called it. */
  barrier(): Promise<void>;
  /** Leaves the group; no collective may be called afterwards. */
  destroy(): Promise<void>;
}

/**
 * Default collective timeout: `HEED_DIST_TIMEOUT_MS` from the environment, else 60 s.
 *
 * @example
 * ```ts
 * defaultTimeoutMs(); // 60000 unless HEED_DIST_TIMEOUT_MS is set
 * ```
 */
export function defaultTimeoutMs(): number {
  const v = Number(envVar('HEED_DIST_TIMEOUT_MS'));
  return Number.isFinite(v) && v > 0 ? v : 60_000;
}

/**
 * Default bucket size of {@link ProcessGroup.allReduce}: 25 MiB, PyTorch DDP's `bucket_cap_mb`.
 *
 * @example
 * ```ts
 * await group.allReduce(grads, { bucketBytes: DEFAULT_BUCKET_BYTES });
 * ```
 */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

/**
 * A collective that failed because of another rank (or this one): `rank` names the rank that
 * threw, exited or did not arrive in time (null when no single rank is to blame).
 *
 * @example
 * ```ts
 * try { await group.allReduce([g]); } catch (e) { if (e instanceof DistributedError) console.log(e.rank); }
 * ```
 */
export class DistributedError extends HeedError {
  /** The rank that caused the failure, or null. */
  readonly rank: number | null;
  constructor(op: string, rank: number | null, message: string) {
    super(op, message);
    this.name = 'DistributedError';
    this.rank = rank;
  }
}

/**
 * Rank and world size from the environment, like torchrun (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`,
 * `LOCAL_WORLD_SIZE`) or Open MPI's `mpirun` (`OMPI_COMM_WORLD_RANK`, `OMPI_COMM_WORLD_SIZE`,
 * `OMPI_COMM_WORLD_LOCAL_RANK`, `OMPI_COMM_WORLD_LOCAL_SIZE`); null when neither is set (or
 * outside Node). `localWorldSize` is the number of ranks on this machine (the world size when
 * the launcher does not say): what a rank divides the machine's cores by.
 *
 * @example
 * ```ts
 * envRankInfo(); // { rank: 1, worldSize: 4, localRank: 1, localWorldSize: 4, launcher: 'mpi' } under mpirun -np 4
 * ```
 */
export function envRankInfo(): { rank: number; worldSize: number; localRank: number; localWorldSize: number; launcher: 'mpi' | 'torchrun' } | null {
  const read = (name: string): number | null => {
    const s = envVar(name);
    if (s === undefined || s.trim() === '') return null;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new HeedError('initProcessGroup', `environment variable ${name}='${s}' is not a non-negative integer; unset it or fix the launcher.`);
    return n;
  };
  const mpiSize = read('OMPI_COMM_WORLD_SIZE');
  if (mpiSize !== null) {
    const rank = read('OMPI_COMM_WORLD_RANK') ?? 0;
    return { rank, worldSize: mpiSize, localRank: read('OMPI_COMM_WORLD_LOCAL_RANK') ?? rank, localWorldSize: read('OMPI_COMM_WORLD_LOCAL_SIZE') ?? mpiSize, launcher: 'mpi' };
  }
  const size = read('WORLD_SIZE');
  if (size !== null) {
    const rank = read('RANK') ?? 0;
    return { rank, worldSize: size, localRank: read('LOCAL_RANK') ?? rank, localWorldSize: read('LOCAL_WORLD_SIZE') ?? size, launcher: 'torchrun' };
  }
  return null;
}

/**
 * Options of {@link initProcessGroup}.
 *
 * @example
 * ```ts
 * const o: InitOptions = { backend: 'threads', timeoutMs: 5000 };
 * ```
 */
export interface InitOptions {
  /**
   * The transport. Default: `threads` inside a worker started by `spawnThreads`; `mpi` when
   * the environment says the process was launched by mpirun (or `WORLD_SIZE` > 1); else `single`.
   */
  readonly backend?: GroupBackend;
  /** Timeout of every collective in ms (default {@link defaultTimeoutMs}). */
  readonly timeoutMs?: number;
}

/** What a transport module provides: `initThreadsGroup` (threads/) or `initMpiGroup` (mpi/). */
type TransportInit = (options: InitOptions & { readonly timeoutMs: number }) => Promise<ProcessGroup>;

/** The MPI entry (engineer M's `src/mpi/index.ts`), loaded only when asked for, so browser bundles never see it. */
const MPI_ENTRY = './mpi/index.js';

/** One loader per transport (exhaustive: a new backend must be added here). */
const TRANSPORTS: { readonly [K in GroupBackend]: () => Promise<TransportInit> } = {
  single: async () => async () => (await import('./single.js')).createSingleGroup(),
  threads: async () => (await import('./threads/worker.js')).initThreadsGroup,
  mpi: async () => ((await import(/* webpackIgnore: true */ /* @vite-ignore */ MPI_ENTRY)) as { initMpiGroup: TransportInit }).initMpiGroup,
};

/**
 * Joins the process group of this process: reads rank and world size from the worker (threads)
 * or the environment (mpirun, torchrun-style variables) and returns the transport's group.
 *
 * @example
 * ```ts
 * const group = await initProcessGroup({ timeoutMs: 10_000 });
 * console.log(group.rank, group.worldSize, group.backend);
 * ```
 */
export async function initProcessGroup(options: InitOptions = {}): Promise<ProcessGroup> {
  const op = 'initProcessGroup';
  const backend = options.backend ?? (await detectBackend());
  if (!Object.hasOwn(TRANSPORTS, backend)) {
    throw new HeedError(op, `unknown backend '${String(backend)}'; use one of ${Object.keys(TRANSPORTS).map((k) => `'${k}'`).join(', ')}.`);
  }
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs();
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new HeedError(op, `timeoutMs must be a positive number of milliseconds, got ${timeoutMs}.`);
  const init = await TRANSPORTS[backend]();
  return init({ ...options, backend, timeoutMs });
}

async function detectBackend(): Promise<GroupBackend> {
  if (await (await import('./threads/worker.js')).inThreadsWorker()) return 'threads';
  const env = envRankInfo();
  if (env !== null && (env.launcher === 'mpi' || env.worldSize > 1)) return 'mpi';
  return 'single';
}

/**
 * An environment variable in Node (undefined elsewhere).
 *
 * @example
 * ```ts
 * envVar('WORLD_SIZE'); // '4' under a launcher
 * ```
 */
export function envVar(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name];
}
