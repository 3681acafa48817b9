// SPDX-License-Identifier: MIT
// Picks the WebGPU adapter of a rank: local rank r takes entry point r mod n of the n given
// (one per GPU: navigator.gpu with a power preference in a browser, one Dawn instance per
// `adapter=<name>` in Node). With as many entry points as ranks every rank gets its own GPU;
// with fewer, ranks share an adapter, each with its own device. WebGPU cannot list adapters,
// so the caller names them. Structural types: this package needs no WebGPU types or backend.
import { HeedError } from '@heed/core';

/**
 * A WebGPU entry point, as far as {@link adapterForRank} uses it (`navigator.gpu`, or what
 * Dawn's `create([...flags])` returns).
 *
 * @example
 * ```ts
 * const source: AdapterSource<GPUAdapter> = navigator.gpu;
 * ```
 */
export interface AdapterSource<A> {
  /** WebGPU's `GPU.requestAdapter`: the entry point's adapter, or null when it has none. */
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<A | null>;
}

/**
 * The adapter {@link adapterForRank} chose, with the index of its entry point.
 *
 * @example
 * ```ts
 * const { adapter, index } = await adapterForRank(localRank, [navigator.gpu]);
 * ```
 */
export interface AdapterChoice<A> {
  /** The adapter (pass it as `createWebGPUBackend({ adapter })`). */
  readonly adapter: A;
  /** Which of the entry points it came from: `localRank % sources.length`. */
  readonly index: number;
}

/**
 * Options of {@link adapterForRank}.
 *
 * @example
 * ```ts
 * const options: AdapterForRankOptions = { powerPreference: 'high-performance' };
 * ```
 */
export interface AdapterForRankOptions {
  /** Passed to `requestAdapter` (browsers with an integrated and a discrete GPU). */
  readonly powerPreference?: 'low-power' | 'high-performance';
}

/**
 * Requests the WebGPU adapter of local rank `localRank` (the rank on this machine: a threads
 * rank, or `envRankInfo().localRank` under mpirun/torchrun) from entry point
 * `localRank % sources.length`, so ranks spread over the GPUs round-robin and share them when
 * there are fewer GPUs than ranks (each rank still gets its own device from
 * `createWebGPUBackend({ adapter })`). Throws a HeedError on a bad rank, no entry points, or an
 * entry point without an adapter.
 *
 * @example
 * ```ts
 * // Node, two GPUs named by Dawn (`create(['adapter=foo'])` prints the names):
 * const sources = ['NVIDIA H200 #0', 'NVIDIA H200 #1'].map((name) => create([`adapter=${name}`]));
 * const { adapter } = await adapterForRank(group.rank, sources);
 * const backend = await createWebGPUBackend({ adapter });
 * ```
 */
export async function adapterForRank<A>(localRank: number, sources: readonly AdapterSource<A>[], options: AdapterForRankOptions = {}): Promise<AdapterChoice<A>> {
  if (!Number.isInteger(localRank) || localRank < 0) {
    throw new HeedError('adapterForRank', `localRank must be a non-negative integer, got ${String(localRank)}. Pass the rank on this machine (group.rank for threads ranks, envRankInfo().localRank under mpirun).`);
  }
  if (!Array.isArray(sources) || sources.length === 0) {
    throw new HeedError('adapterForRank', 'sources must be a non-empty array of WebGPU entry points (e.g. [navigator.gpu], or one Dawn create([`adapter=<name>`]) per GPU).');
  }
  const index = localRank % sources.length;
  const source = sources[index];
  if (typeof source?.requestAdapter !== 'function') {
    throw new HeedError('adapterForRank', `sources[${index}] has no requestAdapter method; pass WebGPU entry points (navigator.gpu, or Dawn's create([...]) result).`);
  }
  const request = options.powerPreference === undefined ? undefined : { powerPreference: options.powerPreference };
  const adapter = await source.requestAdapter(request);
  if (adapter === null || adapter === undefined) {
    throw new HeedError('adapterForRank', `rank ${localRank}: sources[${index}].requestAdapter() returned no adapter. Check that entry point's GPU ` +
      '(in Node: the Dawn adapter name, or VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json for SwiftShader).');
  }
  return { adapter, index };
}
