// SPDX-License-Identifier: MIT
// quietly() (src/quiet-wait.ts): it settles exactly as the promise it waits for (value and
// rejection), and while a Dawn-like binding ticks from a setImmediate chain for as long as the
// promise is pending, the process uses a small fraction of the CPU a plain await does (the plain
// await spins one core for the whole wait). Also, on the real Dawn device, a read through a
// backend with quiet reads gives the same values as one without.
import { describe, expect, it } from 'vitest';
import { canWaitQuietly, quietly, QUIET_MAX_SLEEP_MS } from '../src/quiet-wait.js';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device, skipReason } from './gpu.js';

/** A promise settled after `ms` by a timer, with a Dawn-like tick loop (setImmediate chain) running until then. */
function pendingWithTicks(ms: number, fail = false): { promise: Promise<number>; ticks: () => number } {
  let ticks = 0;
  let pending = true;
  const promise = new Promise<number>((resolve, reject) => setTimeout(() => { pending = false; if (fail) reject(new Error('lost')); else resolve(42); }, ms));
  const tick = (): void => { ticks++; if (pending) setImmediate(tick); };
  setImmediate(tick);
  return { promise, ticks: () => ticks };
}

/** CPU milliseconds (user + system) this process spent while `f` ran, and the wall time. */
async function cpuDuring(f: () => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall: performance.now() - t0 };
}

describe('quietly', () => {
  it('is available in Node.js', () => {
    expect(canWaitQuietly()).toBe(true);
    expect(QUIET_MAX_SLEEP_MS).toBe(1);
  });

  it('settles with the value or the rejection of the promise', async () => {
    await expect(quietly(pendingWithTicks(20).promise)).resolves.toBe(42);
    await expect(quietly(pendingWithTicks(20, true).promise)).rejects.toThrow('lost');
    await expect(quietly(Promise.resolve('now'))).resolves.toBe('now');
  });

  it('lets the ticks run but uses far less CPU than a plain await', async () => {
    const plain = pendingWithTicks(300);
    const loud = await cpuDuring(() => plain.promise);
    const q = pendingWithTicks(300);
    const quiet = await cpuDuring(() => quietly(q.promise));
    // the plain wait spins: most of its wall time is CPU time; the quiet one mostly sleeps
    expect(loud.cpu).toBeGreaterThan(0.5 * loud.wall);
    expect(quiet.cpu).toBeLessThan(0.5 * loud.cpu);
    expect(q.ticks()).toBeGreaterThan(50); // the binding still ticked (at least every ~1 ms)
    expect(quiet.wall).toBeLessThan(300 + 50);
  });

  it('with enabled = false is the plain await', async () => {
    const p = pendingWithTicks(10).promise;
    expect(quietly(p, false)).toBe(p);
  });
});

describe.skipIf(!device)(`quiet reads on the device${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  it('reads the same values with and without quiet reads', async () => {
    const values = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i));
    const out: Float32Array[] = [];
    for (const quietReads of [true, false]) {
      const b = new WebGPUBackend(device!, {}, `webgpu-quiet-${quietReads}`);
      expect(b.runtime.quietReads).toBe(true);
      b.runtime.quietReads = quietReads;
      const x = b.upload(values, 'float32');
      const y = b.unary('exp', { data: x, dtype: 'float32', shape: [4096], strides: [1], offset: 0 }, 'float32');
      out.push(await b.read(y, 'float32', 4096) as Float32Array);
      b.free(x);
      b.free(y);
    }
    expect(out[0]).toEqual(out[1]);
    expect(out[0][1]).toBeCloseTo(Math.exp(Math.sin(1)), 5);
  });
});
