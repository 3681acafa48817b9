// SPDX-License-Identifier: MIT
// The launcher logic of the threads transport, shared by the Node launcher (`spawnThreads`,
// worker_threads) and the browser one (`spawnWorkers`, Web Workers): allocates the group's
// shared memory, starts one worker per rank through a platform adapter, collects each rank's
// result, and on the first failure (a rank threw, exited early, or still runs `timeoutMs` after
// the others finished) records it in the control block (waking every waiting rank), gives the
// others a short grace to report, terminates them all and rejects with a SpawnError naming
// the rank. No Node imports.
import { HeedError } from '@heed/core';
import { DEFAULT_BUCKET_BYTES, DistributedError, defaultTimeoutMs } from '../group.js';
import { FAILURE_REASONS, createThreadsStart, markFailed, readFailure, type FailureReason, type ThreadsResult, type ThreadsStart } from './shared.js';

/**
 * Options of `spawnThreads` (Node) and {@link spawnWorkers} (browsers).
 *
 * @example
 * ```ts
 * const o: SpawnOptions = { workerData: { steps: 10 }, timeoutMs: 5000 };
 * ```
 */
export interface SpawnOptions {
  /** Passed to every rank's function (structured-clonable). */
  readonly workerData?: unknown;
  /** Collective timeout in ms, and how long the last ranks may run after the first one finished (default `HEED_DIST_TIMEOUT_MS` or 60 s). */
  readonly timeoutMs?: number;
  /** Bytes of one slab region per rank: collectives larger than this run in chunks (default {@link DEFAULT_BUCKET_BYTES}, so a full allReduce bucket is one chunk). */
  readonly slabBytes?: number;
  /** CPU threads per rank (default: hardware threads / worldSize, at least 1; in Node `HEED_CPU_THREADS` in the environment wins). */
  readonly cpuThreads?: number;
  /** How long the other ranks may take to report after a failure before they are terminated (default 2 s). */
  readonly graceMs?: number;
}

/**
 * How one rank ended: `ok` (its function returned), `error` (it threw; `culprit` is the rank
 * its error blames), `exited` (it ended without a result), `terminated` (stopped by the launcher).
 *
 * @example
 * ```ts
 * err.outcomes.filter((o) => o.status === 'error').map((o) => o.message);
 * ```
 */
export interface RankOutcome {
  readonly rank: number;
  readonly status: 'ok' | 'error' | 'exited' | 'terminated';
  /** The error's name (`'DistributedError'`, `'HeedError'`, `'Error'`) when it threw. */
  readonly errorName?: string;
  /** The error message, or the exit code, or why it was terminated. */
  readonly message?: string;
  /** The rank its error blames. */
  readonly culprit?: number | null;
}

/**
 * The rejection of `spawnThreads` and {@link spawnWorkers}: `rank` is the rank that failed first (threw, exited,
 * hung); `outcomes` says how every rank ended.
 *
 * @example
 * ```ts
 * try { await spawnThreads(4, url); } catch (e) { if (e instanceof SpawnError) console.log(e.rank, e.outcomes); }
 * ```
 */
export class SpawnError extends DistributedError {
  /** How each rank ended, in rank order. */
  readonly outcomes: readonly RankOutcome[];
  constructor(op: string, rank: number | null, message: string, outcomes: readonly RankOutcome[]) {
    super(op, rank, message);
    this.name = 'SpawnError';
    this.outcomes = outcomes;
  }
}

/** What a platform adapter reports about one worker. */
interface RankEvents {
  /** A message from the worker (results are recognised, others ignored). */
  message(data: unknown): void;
  /** An uncaught error in the worker. */
  error(name: string, message: string): void;
  /** The worker ended (Node's 'exit'; browsers have no such event). */
  exit(code: number): void;
}

/** A started worker, whatever the platform. */
interface RankWorker {
  terminate(): Promise<unknown> | void;
}

/**
 * @internal Runs a threads group: validates the options, allocates the shared memory, starts
 * each rank with `startRank` and settles as described in this file's header.
 */
export function launchRanks<T>(op: string, worldSize: number, options: SpawnOptions, defaultCpuThreads: (worldSize: number) => number,
  startRank: (rank: number, start: ThreadsStart, events: RankEvents) => RankWorker): Promise<T[]> {
  if (!Number.isInteger(worldSize) || worldSize < 1) throw new HeedError(op, `worldSize must be a positive integer, got ${worldSize}.`);
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs();
  if (!(timeoutMs > 0)) throw new HeedError(op, `timeoutMs must be positive, got ${timeoutMs}.`);
  const slabBytes = options.slabBytes ?? DEFAULT_BUCKET_BYTES; // one allReduce bucket per chunk; untouched pages cost no memory
  if (!(slabBytes >= 64)) throw new HeedError(op, `slabBytes must be at least 64, got ${slabBytes}.`);
  if (typeof SharedArrayBuffer !== 'function') {
    throw new HeedError(op, 'SharedArrayBuffer is unavailable; in a browser the page must be cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp).');
  }
  const cpuThreads = options.cpuThreads ?? defaultCpuThreads(worldSize);
  const graceMs = options.graceMs ?? 2000;
  const start0 = createThreadsStart(worldSize, slabBytes, 0, timeoutMs, cpuThreads, options.workerData);
  const ctrl = new Int32Array(start0.control);
  const outcomes: (RankOutcome | null)[] = Array.from({ length: worldSize }, () => null);
  const results: unknown[] = new Array(worldSize);
  const workers: RankWorker[] = [];
  let firstFailure: { rank: number | null; reason: FailureReason } | null = null;

  return new Promise<T[]>((resolve, reject) => {
    let finished = false;
    let graceTimer: ReturnType<typeof setTimeout> | null = null;
    let hangTimer: ReturnType<typeof setTimeout> | null = null;

    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (graceTimer) clearTimeout(graceTimer);
      if (hangTimer) clearTimeout(hangTimer);
      const all = outcomes.map((o, rank) => o ?? { rank, status: 'terminated' as const, message: 'terminated by the launcher after the failure' });
      void Promise.all(workers.map(async (w) => w.terminate())).finally(() => {
        if (firstFailure === null) {
          resolve(results as T[]);
          return;
        }
        const f = firstFailure;
        const who = f.rank === null ? 'a rank' : `rank ${f.rank}`;
        const detail = all.map((o) => `  rank ${o.rank}: ${o.status}${o.message ? ` (${o.message.split('\n')[0]})` : ''}`).join('\n');
        reject(new SpawnError(op, f.rank, `${who} of ${worldSize} ${FAILURE_REASONS[f.reason].text}; the other ranks were stopped.\n${detail}`, all));
      });
    };

    const settle = (rank: number, outcome: RankOutcome): void => {
      if (outcomes[rank] !== null || finished) return;
      outcomes[rank] = outcome;
      if (outcome.status !== 'ok') {
        if (firstFailure === null) {
          // The group's first record wins: a rank that timed out waiting for a hung one blames that rank.
          markFailed(ctrl, worldSize, outcome.culprit ?? rank, outcome.status === 'exited' ? 'exited' : 'threw');
          firstFailure = readFailure(ctrl) ?? { rank, reason: 'threw' };
          graceTimer = setTimeout(finish, graceMs);
        }
      } else if (hangTimer === null && firstFailure === null) {
        hangTimer = setTimeout(() => {
          const stuck = outcomes.findIndex((o) => o === null);
          if (stuck < 0) return;
          markFailed(ctrl, worldSize, stuck, 'hung');
          firstFailure = readFailure(ctrl);
          finish();
        }, timeoutMs);
      }
      // Done once every rank has settled, or when only the blamed rank is left (it hangs: no grace to wait out).
      const left = outcomes.map((o, r) => (o === null ? r : -1)).filter((r) => r >= 0);
      if (left.length === 0 || (firstFailure?.reason === 'timeout' && left.length === 1 && left[0] === firstFailure.rank)) finish();
    };

    for (let rank = 0; rank < worldSize; rank++) {
      workers.push(startRank(rank, { ...start0, rank }, {
        message: (m: unknown) => {
          const r = m as Partial<ThreadsResult> | null;
          if (r === null || typeof r !== 'object' || r.heedThreadsResult !== 1) return;
          if (r.ok === true) {
            results[rank] = r.value;
            settle(rank, { rank, status: 'ok' });
          } else if (r.ok === false) {
            settle(rank, { rank, status: 'error', errorName: r.name, message: r.message, culprit: r.culprit ?? null });
          }
        },
        error: (name, message) => settle(rank, { rank, status: 'error', errorName: name, message, culprit: rank }),
        exit: (code) => settle(rank, { rank, status: 'exited', message: `exit code ${code} before returning a result` }),
      }));
    }
  });
}
