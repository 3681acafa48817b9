// SPDX-License-Identifier: MIT
// Entry of the 'mpi' backend, loaded by initProcessGroup only when it is asked for (a dynamic
// import, so browser bundles never see Node's modules): loads the binding, initialises MPI on
// the binding's thread (bounded by the group's timeout), checks that MPI agrees with mpirun's
// environment (OMPI_COMM_WORLD_RANK / _SIZE) and wraps the transport in the tensor collectives
// (validation and dtype buckets) that every transport shares.
import { HeedError } from '@heed/core';
import { createTensorGroup } from '../collectives.js';
import { envRankInfo, type InitOptions, type ProcessGroup } from '../group.js';
import { loadMpiAddon } from './addon.js';
import { MpiTransport } from './transport.js';

export { mpiAddonPath, mpiAvailable, MPI_SETUP_HINT } from './addon.js';

let initialised = false;

/**
 * Joins the MPI job this process was started in (`mpirun -np N node train.mjs`) as a
 * {@link ProcessGroup} with backend `'mpi'`; `initProcessGroup({ backend: 'mpi' })` calls it.
 * One group per process (MPI is initialised once).
 *
 * @example
 * ```ts
 * const group = await initMpiGroup({ timeoutMs: 30_000 });
 * await group.allReduce(grads, { op: 'mean' });
 * await group.destroy();
 * ```
 */
export async function initMpiGroup(options: InitOptions & { readonly timeoutMs: number }): Promise<ProcessGroup> {
  const op = 'initProcessGroup';
  const addon = loadMpiAddon(op);
  if (initialised) throw new HeedError(op, "backend 'mpi' is already initialised in this process (MPI allows one init); reuse the first group.");
  initialised = true;
  const env = envRankInfo();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HeedError(op, `MPI_Init did not finish within ${options.timeoutMs} ms; is this process started by mpirun, and can it reach the other hosts?`)), options.timeoutMs);
  });
  let info: { rank: number; size: number };
  try {
    info = await Promise.race([addon.init(), timeout]);
  } catch (e) {
    if (e instanceof HeedError) throw e;
    throw new HeedError(op, `MPI initialisation failed: ${e instanceof Error ? e.message : String(e)}.`);
  } finally {
    clearTimeout(timer);
  }
  if (env !== null && env.launcher === 'mpi' && (env.rank !== info.rank || env.worldSize !== info.size)) {
    throw new HeedError(op, `MPI says rank ${info.rank} of ${info.size} but OMPI_COMM_WORLD_RANK/SIZE say ${env.rank} of ${env.worldSize}; launch with Open MPI's mpirun.`);
  }
  return createTensorGroup(new MpiTransport(addon, info.rank, info.size, options.timeoutMs));
}
