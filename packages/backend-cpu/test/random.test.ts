// SPDX-License-Identifier: MIT
// The random primitive: exact agreement with core's counter-based generator, reproducibility,
// offset splitting, and distribution moments over 100k draws.
import { describe, it, expect } from 'vitest';
import { normalAt, uniformAt } from '@heed/core';
import { cpu } from './util.js';

const N = 100_000;

function moments(values: Float32Array): { mean: number; std: number } {
  let s = 0;
  for (const v of values) s += v;
  const mean = s / values.length;
  let q = 0;
  for (const v of values) q += (v - mean) ** 2;
  return { mean, std: Math.sqrt(q / values.length) };
}

describe('random', () => {
  it('draws exactly uniformAt / normalAt of seed and offset + i', () => {
    const u = cpu.readSync(cpu.random('uniform', 50, 1234, 17), 'float32', 50);
    const z = cpu.readSync(cpu.random('normal', 50, 1234, 17), 'float32', 50);
    for (let i = 0; i < 50; i++) {
      expect(u[i]).toBe(Math.fround(uniformAt(1234, 17 + i)));
      expect(z[i]).toBe(Math.fround(normalAt(1234, 17 + i)));
    }
  });

  it('is reproducible and splits by offset', () => {
    const a = cpu.readSync(cpu.random('normal', 1000, 42, 0), 'float32', 1000);
    const b = cpu.readSync(cpu.random('normal', 1000, 42, 0), 'float32', 1000);
    const tail = cpu.readSync(cpu.random('normal', 400, 42, 600), 'float32', 400);
    expect(b).toEqual(a);
    expect(tail).toEqual(a.slice(600));
    const other = cpu.readSync(cpu.random('normal', 1000, 43, 0), 'float32', 1000);
    expect(other).not.toEqual(a);
  });

  it('uniform draws lie in [0, 1) with mean 0.5 and variance 1/12', () => {
    const u = cpu.readSync(cpu.random('uniform', N, 7, 0), 'float32', N) as Float32Array;
    let min = 1;
    let max = 0;
    for (const v of u) { min = Math.min(min, v); max = Math.max(max, v); }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    const { mean, std } = moments(u);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(std - Math.sqrt(1 / 12))).toBeLessThan(0.005);
  });

  it('normal draws have mean 0 and std 1', () => {
    const z = cpu.readSync(cpu.random('normal', N, 9, 0), 'float32', N) as Float32Array;
    const { mean, std } = moments(z);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
    expect(z.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('handles size 0 and rejects bad sizes', () => {
    expect(cpu.readSync(cpu.random('uniform', 0, 1, 0), 'float32', 0).length).toBe(0);
    expect(() => cpu.random('uniform', -1, 1, 0)).toThrow(/random/);
  });
});
