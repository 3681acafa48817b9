// SPDX-License-Identifier: MIT
// Shared setup of the Heed benchmark scripts: parse --backend=cpu|webgpu (plus CPU debug flags
// --threads=N, --reference, --simd=simd|relaxed, --native = @heed/backend-native's OpenBLAS/OpenMP
// kernels; --lazy wraps the backend in core's LazyBackend; WebGPU A/B flag --busy-reads: Dawn's
// busy tick loop while a read waits, the backend's quietReads off), register and select that backend through
// Heed's public API, wait until the CPU fast path's worker threads are up (they start
// asynchronously), and describe the configuration for the RESULT records of the peers harness.
import { readFileSync } from 'node:fs';
import * as heed from '@heed/core';
import { CpuBackend } from '@heed/backend-cpu';

/** Heed's version, from @heed/core's package.json. */
export function heedVersion() {
  const url = new URL('../packages/core/package.json', import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

/**
 * Registers and selects the backend named by `args.backend` ('cpu' by default).
 * Returns { backend, meta } where meta holds the harness fields (peer, version, backend,
 * actualBackend, threads) and `flavor` describes the CPU kernels actually used.
 */
export async function setupHeed(args) {
  const want = args.backend || 'cpu';
  if (want === 'cpu') {
    const threads = args.threads ? Number(args.threads) : undefined;
    const fast = !args.reference;
    const simd = typeof args.simd === 'string' ? args.simd : undefined;
    let native;
    if (args.native) {
      const mod = await import('@heed/backend-native');
      native = mod.nativeProvider(threads ?? mod.defaultThreads()); // throws what to install when it cannot load
    }
    const factory = { name: 'cpu', priority: 1, create: () => new CpuBackend({ fast, threads, simd, native }) };
    heed.registerBackend(args.lazy ? heed.lazyBackendFactory(factory) : factory);
  } else if (want === 'webgpu') {
    let mod;
    try {
      mod = await import('@heed/backend-webgpu');
    } catch (e) {
      throw new Error(`--backend=webgpu: @heed/backend-webgpu is not available (${e?.message ?? e}); build it first.`);
    }
    // The backend finds Dawn (npm `webgpu`) itself; VK_ICD_FILENAMES picks SwiftShader here.
    process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
    const factory = mod.webgpuBackend ?? mod.default;
    if (!factory) throw new Error('@heed/backend-webgpu does not export webgpuBackend');
    heed.registerBackend(args.lazy ? heed.lazyBackendFactory(factory) : factory);
  } else {
    throw new Error(`unknown --backend=${want}; use cpu or webgpu`);
  }
  const backend = await heed.setBackend(want);
  const plain = backend.inner ?? backend; // under --lazy, the LazyBackend's inner backend
  // --busy-reads: Dawn's busy tick loop while a read waits (the backend's quietReads off), for A/B runs
  if (args['busy-reads'] && plain.runtime) plain.runtime.quietReads = false;
  let info = typeof plain.fastInfo === 'function' ? plain.fastInfo() : null;
  if (info) {
    // workers start in the background: wait (up to 3 s) until all expected threads are ready
    const expect = args.threads ? Number(args.threads) : Math.min(8, (await import('node:os')).availableParallelism());
    const t0 = performance.now();
    while (info.threads < expect && performance.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 10));
      info = plain.fastInfo();
    }
  }
  const flavor = want !== 'cpu' ? want : info ? (info.native ? 'native' : `wasm-${info.flavor}`) : 'reference';
  const meta = {
    peer: 'heed', version: heedVersion(),
    backend: (want === 'cpu' ? `cpu-${flavor}` : want) + (args.lazy ? '-lazy' : ''),
    actualBackend: heed.getBackend().name,
    threads: want === 'cpu' ? (info ? info.threads : 1) : 'gpu',
  };
  return { heed, backend, meta, info };
}

/** Waits until `t` is computed (a 1-element readback on async backends; nothing on sync ones). */
export async function sync(backend, t) {
  if (backend.capabilities?.syncRead && backend.inner === undefined) return; // a LazyBackend must compute t
  const one = heed.tidy(() => heed.narrow(heed.reshape(t, [-1]), 0, 0, 1));
  await one.data();
  one.dispose();
}
