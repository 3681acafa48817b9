// SPDX-License-Identifier: MIT
// Loads heed_mpi.node, the Node-API binding to Open MPI (packages/distributed/native), and types
// it. Without the built binding or without Open MPI's runtime, asking for the 'mpi' backend is a
// HeedError that says what to install and how to build; nothing else in the package needs it.
// Node only (this file is reached through a dynamic import of ./mpi/index.js).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { HeedError } from '@heed/core';

/** Native reduce op codes (mpi.c `enum rop`); `mean` folds as a sum (JS divides), its own code only for the signature check. */
export const NATIVE_OPS = { sum: 0, max: 1, min: 2, mean: 3 } as const;

/** The arrays the binding reduces (it moves any TypedArray's bytes for broadcast/allgather). */
export type NativeArray = Float32Array | Float64Array | Int32Array;

/** What a rejected native collective carries: `heedCode` says why, `ranks` who is to blame. */
export interface NativeError extends Error {
  readonly heedCode: 'timeout' | 'peer' | 'mpi' | 'broken' | 'usage' | 'mismatch';
  readonly ranks: readonly number[];
}

/** The functions heed_mpi.node exports (see native/mpi.c). Timeouts are in ms (0: none). */
export interface MpiAddon {
  init(): Promise<{ rank: number; size: number }>;
  allreduce(data: NativeArray, op: number, timeoutMs: number): Promise<void>;
  reduceScatter(data: NativeArray, out: NativeArray, op: number, timeoutMs: number): Promise<void>;
  broadcast(data: ArrayBufferView, root: number, timeoutMs: number): Promise<void>;
  allgather(data: ArrayBufferView, out: ArrayBufferView, timeoutMs: number): Promise<void>;
  barrier(timeoutMs: number): Promise<void>;
  finalize(): Promise<void>;
  finalizeSync(timeoutMs: number): boolean;
  notifyFailure(message: string, graceMs: number): boolean;
  abort(code: number): never;
  peerFailure(): { rank: number; message: string } | null;
  waiting(): number[] | null;
  libraryVersion(): string;
}

/**
 * The install and build commands that every "binding missing" error of the 'mpi' backend repeats.
 *
 * @example
 * ```ts
 * if (!mpiAvailable().ok) console.warn(`MPI transport unavailable: ${MPI_SETUP_HINT}`);
 * ```
 */
export const MPI_SETUP_HINT =
  'install Open MPI (`apt-get install openmpi-bin libopenmpi-dev`) and build the binding ' +
  '(`npm run build:native -w @heed/distributed`, i.e. `node /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js ' +
  'rebuild --nodedir=/usr` in packages/distributed/native); the \'threads\' backend needs neither';

/**
 * Where the binding is looked for: `HEED_MPI_ADDON` if set, else
 * `packages/distributed/native/build/Release/heed_mpi.node` (the same relative path from src/mpi and dist/mpi).
 *
 * @example
 * ```ts
 * existsSync(mpiAddonPath()); // true once the binding is built
 * ```
 */
export function mpiAddonPath(): string {
  const override = process.env.HEED_MPI_ADDON;
  if (override !== undefined && override !== '') return override;
  return fileURLToPath(new URL('../../native/build/Release/heed_mpi.node', import.meta.url));
}

let cached: MpiAddon | null = null;

/**
 * Loads the binding once; a HeedError naming what is missing (binding or libmpi) and the fix otherwise.
 *
 * @example
 * ```ts
 * const addon = loadMpiAddon('initProcessGroup');
 * console.log(addon.libraryVersion()); // 'Open MPI v4.1.4, ...'
 * ```
 */
export function loadMpiAddon(op: string): MpiAddon {
  if (cached !== null) return cached;
  const path = mpiAddonPath();
  if (!existsSync(path)) {
    throw new HeedError(op, `backend 'mpi' needs the native binding ${path}, which is not built: ${MPI_SETUP_HINT}.`);
  }
  try {
    cached = createRequire(import.meta.url)(path) as MpiAddon;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const lib = /libmpi|libopen-|cannot open shared object/.test(why);
    throw new HeedError(op, `backend 'mpi' could not load ${path} (${why.split('\n')[0]}): ${lib ? "Open MPI's runtime library is missing: " : ''}${MPI_SETUP_HINT}.`);
  }
  return cached;
}

/**
 * Whether the 'mpi' backend can be used here (binding built and loadable), without initialising MPI.
 *
 * @example
 * ```ts
 * const { ok, reason } = mpiAvailable();
 * if (!ok) console.warn(reason);
 * ```
 */
export function mpiAvailable(): { ok: true; version: string } | { ok: false; reason: string } {
  try {
    return { ok: true, version: loadMpiAddon('mpiAvailable').libraryVersion().trim() };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** Whether `e` is a rejection of the binding (as opposed to a JS error). */
export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).heedCode === 'string' && Array.isArray((e as Partial<NativeError>).ranks);
}
