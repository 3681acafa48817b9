// SPDX-License-Identifier: MIT
// Entry point of the CPU fast path (WASM SIMD kernels + worker threads). `acquireFastRuntime`
// returns the process-wide runtime for a set of options, creating it on first use; when the
// platform cannot run it (no WASM SIMD, no memory) it warns once and returns null, and the
// backend keeps using the reference kernels. Environment overrides (Node only, read when a
// backend is created): HEED_CPU_FAST=0 forces the reference kernels, HEED_CPU_THREADS=n sets
// the thread count, HEED_CPU_SIMD=simd|relaxed picks a build.
import { FastRuntime, type FastOptions } from './runtime.js';

export { FastRuntime, type FastOptions } from './runtime.js';
export { HeapBuffer } from './buffer.js';
export { fastMatmul, gemmBlocking } from './matmul.js';
export { fastConv2d } from './conv.js';
export { fastBinary, fastCopy, fastFill, fastGelu, fastUnary, fastUpload } from './elementwise.js';
export { fastAdam, fastLayerNorm, fastReduce, fastSoftmax } from './rows.js';

const runtimes = new Map<string, FastRuntime | null>();
let warned = false;

/**
 * Reads a HEED_CPU_* environment variable in Node (undefined elsewhere).
 *
 * @example
 * ```ts
 * envFlag('HEED_CPU_FAST'); // '0' when the user set HEED_CPU_FAST=0
 * ```
 */
export function envFlag(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name];
}

/**
 * Options after applying the HEED_CPU_THREADS / HEED_CPU_SIMD environment overrides.
 *
 * @example
 * ```ts
 * resolveFastOptions({}); // { threads: undefined, simd: 'auto' } unless the env says otherwise
 * ```
 */
export function resolveFastOptions(opts: FastOptions): FastOptions {
  const envThreads = Number(envFlag('HEED_CPU_THREADS'));
  const envSimd = envFlag('HEED_CPU_SIMD');
  return {
    threads: opts.threads ?? (Number.isFinite(envThreads) && envThreads > 0 ? envThreads : undefined),
    simd: opts.simd ?? (envSimd === 'simd' || envSimd === 'relaxed' ? envSimd : 'auto'),
    spin: opts.spin,
  };
}

/**
 * The shared fast-path runtime for `opts`, or null (after a one-time warning) when this
 * platform cannot run it.
 *
 * @example
 * ```ts
 * const rt = acquireFastRuntime({ threads: 2 });
 * if (rt) console.log(rt.flavor, rt.threads);
 * ```
 */
export function acquireFastRuntime(opts: FastOptions = {}): FastRuntime | null {
  const resolved = resolveFastOptions(opts);
  const key = `${resolved.threads ?? 'auto'}|${resolved.simd}|${resolved.spin ?? ''}`;
  if (runtimes.has(key)) return runtimes.get(key) ?? null;
  let rt: FastRuntime | null = null;
  try {
    rt = FastRuntime.create(resolved);
  } catch (e) {
    if (!warned) {
      warned = true;
      console.warn(`@heed/backend-cpu: the WASM fast path is unavailable (${e instanceof Error ? e.message : String(e)}); using the reference kernels.`);
    }
  }
  runtimes.set(key, rt);
  return rt;
}
