// SPDX-License-Identifier: MIT
// Waiting for the GPU without burning a CPU core, in Node.js. Dawn's Node binding (npm `webgpu`)
// settles its promises (mapAsync, popErrorScope, onSubmittedWorkDone) by ticking the device from
// a setImmediate chain for as long as one is pending: while a read waits for the GPU, the main
// thread spins at 100%. On a software adapter (SwiftShader) that core is taken from the shader
// threads doing the actual work, and on a real GPU it is simply burnt. `quietly(p)` lets those
// ticks run but sleeps between event-loop turns (Atomics.wait on a private word): it checks
// often at first (a short GPU round trip keeps its latency) and backs off to QUIET_MAX_SLEEP_MS.
// Invariants: it settles exactly as `p` does (same value or rejection), it never sleeps once `p`
// has settled, each sleep is bounded, and where blocking waits are unavailable (browsers'
// main threads, no setImmediate) it returns `p` itself.

/**
 * The longest single sleep between two device ticks while a read waits quietly (ms): the most a
 * read's latency grows (see `WebGPUBackendOptions.quietReads`).
 *
 * @example
 * ```ts
 * import { QUIET_MAX_SLEEP_MS } from '@heed/backend-webgpu';
 * QUIET_MAX_SLEEP_MS; // 1
 * ```
 */
export const QUIET_MAX_SLEEP_MS = 1;
/** The first sleep (ms); each later one doubles, up to {@link QUIET_MAX_SLEEP_MS}. */
const FIRST_SLEEP_MS = 0.05;
/** Event-loop turns without sleeping before the first sleep (a quick round trip is not slowed). */
const TURNS_BEFORE_SLEEP = 4;

const word = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : null;

/**
 * Whether this realm can wait quietly: Node.js (setImmediate, and Atomics.wait allowed on this thread).
 *
 * @example
 * ```ts
 * canWaitQuietly(); // true in Node.js, false on a browser's main thread
 * ```
 */
export function canWaitQuietly(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  if (word === null || typeof setImmediate !== 'function' || typeof proc?.versions?.node !== 'string') return false;
  try {
    Atomics.wait(word, 0, 1, 0); // throws where this thread may not block
    return true;
  } catch {
    return false;
  }
}

const QUIET = canWaitQuietly();

/**
 * `p`, awaited with short sleeps between event-loop turns instead of a busy loop (see the file
 * comment); `p` itself where that is unavailable or `enabled` is false.
 *
 * @example
 * ```ts
 * await quietly(Promise.all([mapped, settled]));
 * ```
 */
export function quietly<T>(p: Promise<T>, enabled = true): Promise<T> {
  return !QUIET || !enabled || word === null ? p : waitQuietly(p, word);
}

async function waitQuietly<T>(p: Promise<T>, word: Int32Array): Promise<T> {
  let settled = false;
  const done = (): void => { settled = true; };
  p.then(done, done);
  let sleep = FIRST_SLEEP_MS;
  for (let turn = 0; !settled; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve)); // one turn: the device ticks, settlements run
    if (settled) break;
    if (turn >= TURNS_BEFORE_SLEEP) {
      Atomics.wait(word, 0, 0, sleep);
      sleep = Math.min(QUIET_MAX_SLEEP_MS, sleep * 2);
    }
  }
  return p;
}
