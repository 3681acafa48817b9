// SPDX-License-Identifier: MIT
// Test helpers: finds a WebGPU adapter (Dawn on SwiftShader when there is no GPU) once per test
// file, or reports why not so that suites skip with a clear reason; plus small utilities to
// build strided views on a backend and compare read-backs with reference values.
import { expect } from 'vitest';
import type { DType, DataId, StridedView } from '@heed/core';
import { dawnFlags, type WebGPUBackend } from '@heed/backend-webgpu';

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp/xdg-runtime';

/** Kept referenced for the whole run: Dawn tears devices down when its instance is collected. */
export let gpuInstance: GPU | null = null;
/** Why the WebGPU suites are skipped (null when a device was found). */
export let skipReason: string | null = null;

/** A WebGPU device for tests, or null (tests then skip) with the reason printed. */
export async function testDevice(): Promise<GPUDevice | null> {
  try {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(process.env.XDG_RUNTIME_DIR!, { recursive: true });
    const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: object };
    Object.assign(globalThis, dawn.globals);
    gpuInstance = dawn.create(dawnFlags()); // as Heed's own Dawn instance: robustness off unless HEED_WEBGPU_ROBUSTNESS=1
    const adapter = await gpuInstance.requestAdapter();
    if (!adapter) {
      skipReason = 'requestAdapter() returned null (no GPU; install Debian chromium + libvulkan1 for SwiftShader, VK_ICD_FILENAMES)';
      console.warn(`[webgpu tests] skipped: ${skipReason}`);
      return null;
    }
    const requiredFeatures: GPUFeatureName[] = adapter.features.has('subgroups') ? ['subgroups'] : [];
    return await adapter.requestDevice({ requiredFeatures, requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
  } catch (e) {
    skipReason = `no WebGPU: ${e instanceof Error ? e.message : String(e)}`;
    console.warn(`[webgpu tests] skipped: ${skipReason}`);
    return null;
  }
}

/** The shared test device (null when WebGPU is unavailable). */
export const device = await testDevice();

/** A strided view of `data` (row-major strides unless given). */
export function view(data: DataId, dtype: DType, shape: readonly number[], strides?: readonly number[], offset = 0): StridedView {
  const s = strides ?? shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return { data, dtype, shape, strides: s, offset };
}

/** Uploads `values` and returns a row-major view of them with `shape`. */
export function put(be: WebGPUBackend, values: ArrayLike<number>, dtype: DType, shape: readonly number[] = [values.length]): StridedView {
  const arr = dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
  return view(be.upload(arr, dtype), dtype, shape);
}

/** Reads `size` elements as plain numbers. */
export async function get(be: WebGPUBackend, id: DataId, dtype: DType, size: number): Promise<number[]> {
  return Array.from(await be.read(id, dtype, size));
}

/** Element-wise closeness with NaN == NaN and matching infinities. */
export function expectClose(got: readonly number[], want: readonly number[], label: string, rtol = 2e-6, atol = 1e-6): void {
  expect(got.length, `${label}: length`).toBe(want.length);
  want.forEach((w, i) => {
    const g = got[i];
    if (Number.isNaN(w)) { expect(Number.isNaN(g), `${label}[${i}]: got ${g}, want NaN`).toBe(true); return; }
    if (!Number.isFinite(w)) { expect(g, `${label}[${i}]`).toBe(w); return; }
    const err = Math.abs(g - w);
    if (!(err <= atol + rtol * Math.abs(w))) expect.fail(`${label}[${i}]: got ${g}, want ${w} (err ${err.toExponential(2)})`);
  });
}

/** Deterministic pseudo-random floats in [lo, hi) (independent of Heed's generator). */
export function seeded(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.fround(lo + ((s >>> 8) / 16777216) * (hi - lo));
  });
}

/** Double-precision erf (series below 2.5, continued fraction above): the test's own reference. */
export function erfRef(x: number): number {
  if (x === 0 || Number.isNaN(x)) return x;
  const ax = Math.abs(x);
  let r: number;
  if (ax >= 6) r = 1;
  else if (ax < 2.5) {
    let term = ax, sum = ax;
    for (let n = 1; n < 200 && term > sum * 1e-17; n++) { term *= (2 * ax * ax) / (2 * n + 1); sum += term; }
    r = (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum;
  } else {
    let f = ax;
    for (let k = 60; k >= 1; k--) f = ax + (k * 0.5) / f;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}
