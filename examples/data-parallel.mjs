// SPDX-License-Identifier: MIT
// How an example script runs data-parallel: `--ranks N` starts N worker threads on the same
// script (@heed/distributed's spawnThreads; each rank its own CPU backend with cores / N
// threads), `mpirun -np N node train.mjs` makes every process a rank of an MPI group (rank and
// world size from the environment), and a plain run is one rank of a 1-rank group, so every
// mode runs the same training code. Also the per-rank helpers the scripts share: the slice of
// a global batch a rank trains on, a float64 all-reduce of host numbers, a per-rank dropout seed
// and keeping the ranks' dropout counters in step, the compiled-step blocker of a multi-rank
// run, and the tests' fault injection.
// Invariants: only the script's `main` decides what rank 0 alone does (files, printing); a rank
// that fails makes the whole run exit 1 with the error naming that rank.
import { pathToFileURL } from 'node:url';
import { registerBackend } from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';
import { createSingleGroup, envRankInfo, inThreadsWorker, initProcessGroup, runWorker } from '@heed/distributed';
import { cpuThreadsPerRank, spawnThreads } from '@heed/distributed/node';

/**
 * Runs `main(opts, group)` as every rank of this launch. `parseArgs(argv)` parses the command
 * line (the workers get the launcher's argv); `opts.ranks` is the number of thread ranks.
 *
 * @example
 * await runDataParallel((argv) => parseTrainingArgs({ ...spec, argv }), async (opts, group) => { ... });
 * @param {(argv: string[]) => { ranks: number, backend: string }} parseArgs
 * @param {(opts: any, group: import('@heed/distributed').ProcessGroup) => Promise<void>} main
 */
export async function runDataParallel(parseArgs, main) {
  if (await inThreadsWorker()) {
    await runWorker(async (group, data, info) => {
      const opts = parseArgs(data.argv);
      useCpuThreads(opts.backend, info.cpuThreads);
      await main(opts, group);
      await flushStdio(); // the launcher terminates the workers once all have returned
      return null;
    });
    return;
  }
  const opts = parseArgs(process.argv);
  const env = envRankInfo();
  if (env?.launcher === 'mpi' && env.worldSize > 1) {
    if (opts.ranks > 1) exitWith(`--ranks ${opts.ranks} cannot be combined with mpirun (the ranks come from mpirun -np).`, 2);
    const group = await initProcessGroup({ backend: 'mpi' });
    useCpuThreads(opts.backend, Number(process.env.HEED_CPU_THREADS) || cpuThreadsPerRank(env.localWorldSize));
    try {
      await main(opts, group);
    } finally {
      await group.destroy();
    }
    return;
  }
  if (opts.ranks > 1) {
    if (opts.backend !== 'cpu') exitWith(`--ranks runs CPU ranks (one CPU backend per worker thread); got --backend ${opts.backend}.`, 2);
    try {
      await spawnThreads(opts.ranks, pathToFileURL(process.argv[1]), { workerData: { argv: process.argv } });
    } catch (e) {
      exitWith(`${e.name}: ${e.message}`, 1);
    }
    return;
  }
  await main(opts, createSingleGroup());
}

/** Registers a CPU backend with `threads` fast-path threads (so N ranks do not oversubscribe the cores). */
function useCpuThreads(backend, threads) {
  if (backend === 'cpu' && threads > 0) registerBackend({ name: 'cpu', priority: 1, create: () => new CpuBackend({ threads }) });
}

/** Resolves once a worker's buffered stdout/stderr has reached the main thread (a write's callback waits for its ack). */
async function flushStdio() {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write('', resolve))));
}

function exitWith(message, code) {
  console.error(`error: ${message}`);
  process.exit(code);
}

/**
 * The items `[from, to)` of a global batch of `size` that `rank` of `worldSize` trains on
 * (contiguous, sizes differing by at most one).
 *
 * @example
 * rankSlice(32, 1, 4); // [8, 16]
 * @param {number} size @param {number} rank @param {number} worldSize
 */
export function rankSlice(size, rank, worldSize) {
  return [Math.floor((rank * size) / worldSize), Math.floor(((rank + 1) * size) / worldSize)];
}

/**
 * Sums host numbers over all ranks (float64, rank order; the identity on one rank).
 *
 * @example
 * const [globalTokens] = await allReduceNumbers(group, [localTokens]);
 * @param {import('@heed/distributed').ProcessGroup} group @param {number[]} values
 */
export async function allReduceNumbers(group, values) {
  const buf = Float64Array.from(values);
  if (group.worldSize > 1) await group.allReduceBuffer(buf, 'sum');
  return Array.from(buf);
}

/**
 * The dropout seed of `rank`, derived from the run's seed: rank 0 keeps it (a 1-rank run is
 * unchanged), other ranks get distinct, reproducible streams.
 *
 * @example
 * if (group.rank > 0) generator.seed = rankSeed(generator.seed, group.rank);
 * @param {number} seed @param {number} rank
 */
export function rankSeed(seed, rank) {
  return rank === 0 ? seed : (seed ^ Math.imul(rank, 0x9e3779b1)) >>> 0;
}

/**
 * Keeps the ranks' dropout counters in step after a backward pass: each rank's counter advanced
 * by its own shard's shapes, and all continue from the largest, so rank 0's checkpoint resumes
 * every rank's stream where an unbroken run is (a no-op on one rank).
 *
 * @example
 * afterBackward: async () => { await ddp.finishGradSync(); await syncStreamOffsets(group, generator); },
 * @param {import('@heed/distributed').ProcessGroup} group @param {import('@heed/core').Generator} generator
 */
export async function syncStreamOffsets(group, generator) {
  if (group.worldSize === 1) return;
  const offset = Float64Array.of(generator.offset);
  await group.allReduceBuffer(offset, 'max');
  generator.offset = offset[0];
}

/**
 * The step-mode blocker of a run on more than one rank (for @heed/train's `chooseStepMode`):
 * DistributedDataParallel all-reduces the gradients between backward and the update, which a
 * compiled step does not leave room for.
 *
 * @example
 * const stepMode = chooseStepMode({ compile: opts.compile, blockers: [ranksBlocker(group.worldSize)] });
 * @param {number} worldSize
 * @returns {{ when: boolean, reason: string }}
 */
export function ranksBlocker(worldSize) {
  return { when: worldSize > 1, reason: `${worldSize} ranks: the gradient all-reduce runs between backward and the update` };
}

/**
 * Fault injection for the tests: with `HEED_EXAMPLE_FAIL_RANK=r` in the environment, rank `r`
 * throws in the second step of the run (`step === startStep + 2`).
 *
 * @example
 * batchLoss: (step) => { failIfAsked(group.rank, step, startStep); ... },
 * @param {number} rank @param {number} step @param {number} startStep
 */
export function failIfAsked(rank, step, startStep) {
  const env = process.env.HEED_EXAMPLE_FAIL_RANK;
  if (env !== undefined && Number(env) === rank && step === startStep + 2) {
    throw new Error(`rank ${rank} fails on purpose at step ${step} (HEED_EXAMPLE_FAIL_RANK)`);
  }
}
