// SPDX-License-Identifier: MIT
// The shared memory of a threads group, known to the launcher and every worker: a control block
// (an abort word naming the failed rank and why, one arrival counter per rank, one collective
// signature per rank) and a data slab (one region per rank plus a result region). Also the
// start message a worker receives and the result message it sends back. No Node imports.

/**
 * Int32 offsets in the control block. `ABORT` holds 0, or the failed rank + 1 (or
 * {@link NO_CULPRIT}); `REASON` a {@link FailureReason} code; then `ARRIVE + r` per rank, then
 * three signature words per rank at `sigBase(worldSize) + 3 r` (opcode and dtype, length, reduce op or source).
 *
 * @example
 * ```ts
 * Atomics.load(ctrl, CTRL_WORDS.ABORT); // 0 while every rank is healthy
 * ```
 */
export const CTRL_WORDS = { ABORT: 0, REASON: 1, ARRIVE: 16 } as const;

/**
 * The `ABORT` value when no single rank is to blame.
 *
 * @example
 * ```ts
 * markFailed(ctrl, worldSize, null, 'timeout');
 * ```
 */
export const NO_CULPRIT = 0x7fffffff;

/**
 * Why a group was aborted, with the phrase error messages use.
 *
 * @example
 * ```ts
 * FAILURE_REASONS.exited.text; // 'exited'
 * ```
 */
export const FAILURE_REASONS = {
  threw: { code: 1, text: 'threw an error' },
  exited: { code: 2, text: 'exited' },
  timeout: { code: 3, text: 'did not arrive in time (it hangs, or calls a different sequence of collectives)' },
  mismatch: { code: 4, text: 'called a different collective' },
  hung: { code: 5, text: 'did not finish in time after the other ranks finished' },
} as const;

/**
 * A key of {@link FAILURE_REASONS}.
 *
 * @example
 * ```ts
 * const why: FailureReason = 'threw';
 * ```
 */
export type FailureReason = keyof typeof FAILURE_REASONS;

/**
 * The reason of a {@link FAILURE_REASONS} code (or 'threw' for an unknown code).
 *
 * @example
 * ```ts
 * reasonOf(2); // 'exited'
 * ```
 */
export function reasonOf(code: number): FailureReason {
  for (const [k, v] of Object.entries(FAILURE_REASONS)) if (v.code === code) return k as FailureReason;
  return 'threw';
}

/**
 * Int32 index of rank 0's signature words.
 *
 * @example
 * ```ts
 * ctrl[sigBase(4) + 3 * rank] = opcode;
 * ```
 */
export function sigBase(worldSize: number): number {
  return CTRL_WORDS.ARRIVE + worldSize;
}

/**
 * What every worker of a threads group receives (structured-clonable; the buffers are shared).
 *
 * @example
 * ```ts
 * const start: ThreadsStart = createThreadsStart(2, 1 << 20, 0, 5000, 1, null);
 * ```
 */
export interface ThreadsStart {
  /** Marks the message (a worker started by something else has no `heedThreads`). */
  readonly heedThreads: 1;
  readonly rank: number;
  readonly worldSize: number;
  /** Control block: Int32 words, see {@link CTRL_WORDS}. */
  readonly control: SharedArrayBuffer;
  /** `worldSize + 1` regions of `regionBytes` each (per-rank inputs, then the result). */
  readonly slab: SharedArrayBuffer;
  readonly regionBytes: number;
  /** Collective timeout, ms. */
  readonly timeoutMs: number;
  /** CPU threads this rank's backend should use (hardware threads / world size). */
  readonly cpuThreads: number;
  /** The caller's data for the workers. */
  readonly workerData: unknown;
}

/**
 * Allocates the shared memory of a group and returns rank `rank`'s start message. Call once
 * and derive the other ranks' messages with `{ ...start, rank }`.
 *
 * @example
 * ```ts
 * const start = createThreadsStart(4, 4 << 20, 0, 60_000, 4, { lr: 0.1 });
 * ```
 */
export function createThreadsStart(worldSize: number, slabBytes: number, rank: number, timeoutMs: number, cpuThreads: number, workerData: unknown): ThreadsStart {
  const regionBytes = Math.max(64, Math.floor(slabBytes / 64) * 64);
  const controlWords = sigBase(worldSize) + 3 * worldSize;
  return {
    heedThreads: 1, rank, worldSize, timeoutMs, cpuThreads, workerData, regionBytes,
    control: new SharedArrayBuffer(controlWords * 4),
    slab: new SharedArrayBuffer(regionBytes * (worldSize + 1)),
  };
}

/**
 * Records the group's first failure (later ones are ignored) and wakes every waiting rank.
 * Returns the culprit now recorded (the first one), or null for {@link NO_CULPRIT}.
 *
 * @example
 * ```ts
 * markFailed(new Int32Array(start.control), start.worldSize, 2, 'exited');
 * ```
 */
export function markFailed(ctrl: Int32Array, worldSize: number, culprit: number | null, reason: FailureReason): number | null {
  const value = culprit === null ? NO_CULPRIT : culprit + 1;
  if (Atomics.compareExchange(ctrl, CTRL_WORDS.ABORT, 0, value) === 0) Atomics.store(ctrl, CTRL_WORDS.REASON, FAILURE_REASONS[reason].code);
  for (let r = 0; r < worldSize; r++) Atomics.notify(ctrl, CTRL_WORDS.ARRIVE + r);
  return failedRank(ctrl);
}

/**
 * The recorded failure, or null while the group is healthy.
 *
 * @example
 * ```ts
 * readFailure(ctrl); // { rank: 2, reason: 'exited' }
 * ```
 */
export function readFailure(ctrl: Int32Array): { rank: number | null; reason: FailureReason } | null {
  const v = Atomics.load(ctrl, CTRL_WORDS.ABORT);
  if (v === 0) return null;
  return { rank: failedRank(ctrl), reason: reasonOf(Atomics.load(ctrl, CTRL_WORDS.REASON)) };
}

function failedRank(ctrl: Int32Array): number | null {
  const v = Atomics.load(ctrl, CTRL_WORDS.ABORT);
  return v === 0 || v === NO_CULPRIT ? null : v - 1;
}

/**
 * What a worker posts to its launcher when its function returns or throws.
 *
 * @example
 * ```ts
 * const m: ThreadsResult = { heedThreadsResult: 1, ok: true, value: 42 };
 * ```
 */
export type ThreadsResult =
  | { readonly heedThreadsResult: 1; readonly ok: true; readonly value: unknown }
  | { readonly heedThreadsResult: 1; readonly ok: false; readonly name: string; readonly message: string; readonly stack: string; readonly culprit: number | null };
