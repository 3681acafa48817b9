// SPDX-License-Identifier: MIT
// --cpu: the loaders of each CPU path register a backend named 'cpu' whose kernels are the
// requested ones (native OpenBLAS where it loads; WASM when asked), and say which path runs.
import { describe, expect, it } from 'vitest';
import { cpuPathLoaders } from '@heed/train/node';
import { CpuBackend } from '@heed/backend-cpu';

describe('cpuPathLoaders', () => {
  it("'wasm' gives the WASM backend", async () => {
    const { loaders, described } = cpuPathLoaders('wasm');
    const f = await loaders.cpu();
    expect(f.name).toBe('cpu');
    const b = f.create() as CpuBackend;
    expect(b.fastInfo()?.native ?? null).toBeNull();
    expect(described()).toBe('WASM SIMD (--cpu wasm)');
  });

  it("'auto' and 'native' give the native kernels under the name 'cpu' (OpenBLAS is installed here)", async () => {
    for (const path of ['auto', 'native'] as const) {
      const { loaders, described } = cpuPathLoaders(path);
      const f = await loaders.cpu();
      expect(f.name).toBe('cpu');
      const b = (await f.create()) as CpuBackend;
      expect(b.fastInfo()?.native).toMatch(/^OpenBLAS/);
      expect(described()).toMatch(/^native, OpenBLAS \d/);
    }
  });
});
