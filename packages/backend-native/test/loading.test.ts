// SPDX-License-Identifier: MIT
// Loading the native path: what loaded (OpenBLAS build, kernel family, threading), the
// factory's name and description, and the errors a user without OpenBLAS gets (a HeedError that
// says what to install), checked in a child process so this process keeps its loaded library.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createNativeCpuBackend, loadAddon, nativeCpuBackend, nativeProvider, bestCpuBackend } from '@heed/backend-native';
import { existsSync } from 'node:fs';
import { arch, platform } from 'node:process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/index.js', import.meta.url)); // built by `npm test` before vitest runs

describe('native path loading', () => {
  it('loads OpenBLAS and describes it', () => {
    const { library } = loadAddon();
    expect(library.blas).toMatch(/^OpenBLAS \d+\.\d+/);
    expect(['openmp', 'pthreads', 'sequential']).toContain(library.parallel);
    expect(nativeProvider(2).name).toMatch(/^OpenBLAS \d+\.\d+\.\d+ \(.+\), 2 threads$/);
  });

  it('makes a cpu-native factory and backends that report the native path', () => {
    const f = nativeCpuBackend({ threads: 1 });
    expect(f.name).toBe('cpu-native');
    const b = createNativeCpuBackend({ threads: 2 });
    expect(b.fastInfo()?.native).toMatch(/OpenBLAS/);
    expect(bestCpuBackend().native).toBe(true);
  });

  it('without OpenBLAS: a HeedError naming what to install; bestCpuBackend falls back to WASM', () => {
    const script = `
      const m = await import(${JSON.stringify(entry)});
      try { m.createNativeCpuBackend(); console.log('NO ERROR'); } catch (e) { console.log(e.name + ': ' + e.message); }
      const best = m.bestCpuBackend();
      console.log('BEST ' + best.native + ' ' + best.factory.name + ' ' + best.path.slice(0, 9));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, HEED_OPENBLAS: '/nonexistent/libopenblas.so.0' }, encoding: 'utf8',
    });
    expect(out).toMatch(/HeedError: backend-native: OpenBLAS was not found/);
    expect(out).toMatch(/apt-get install libopenblas0-openmp/);
    expect(out).toMatch(/BEST false cpu WASM SIMD/);
  });

  const prebuilt = fileURLToPath(new URL(`../prebuilds/${platform}-${arch}/heed_native.node`, import.meta.url));
  it.runIf(existsSync(prebuilt))('the committed prebuilt binary loads and computes (what users without a compiler get)', () => {
    const script = `
      const m = await import(${JSON.stringify(entry)});
      const core = await import('@heed/core');
      const b = m.createNativeCpuBackend({ threads: 2 });
      const a = b.upload(new Float32Array([1, 2, 3, 4, 5, 6]), 'float32');
      const v = (shape, strides) => ({ data: a, dtype: 'float32', shape, strides, offset: 0 });
      const c = b.matmul(v([1, 2, 3], [6, 3, 1]), v([1, 3, 2], [6, 1, 3]));
      console.log(m.loadAddon().library.addon + ' ' + Array.from(b.readSync(c, 'float32', 4)).join(','));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, HEED_NATIVE_ADDON: prebuilt }, encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    expect(out.trim()).toBe(`${prebuilt} 14,32,32,77`);
  });
});
