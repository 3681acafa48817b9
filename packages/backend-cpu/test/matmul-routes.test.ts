// SPDX-License-Identifier: MIT
// Where float32 matmuls run (CpuFastInfo.matmuls): on a native provider when it takes the call,
// else on the WASM GEMM (no provider, or the provider declined the layout); with the fast path
// off there is no fastInfo at all. The providers here are JS stubs over the bound heap: one
// computes the product (a float64 triple loop with the strides it is given), one declines.
import { describe, expect, it } from 'vitest';
import { CpuBackend, type NativeKernels } from '@heed/backend-cpu';
import type { StridedView } from '@heed/core';

/** A stub provider computing `c = a @ b` over the heap with the given element strides (epilogues declined). */
function stubKernels(declineTransposedA: boolean): NativeKernels {
  let heap: Float32Array = new Float32Array(0);
  return {
    bind: (h) => { heap = h; },
    matmul: (batch, m, n, k, a, as0, as1, as2, b, bs0, bs1, bs2, c, epi) => {
      if (epi !== 0 || (declineTransposedA && as2 !== 1)) return false;
      const [pa, pb, pc] = [a >> 2, b >> 2, c >> 2];
      for (let t = 0; t < batch; t++) {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += heap[pa + t * as0 + i * as1 + p * as2] * heap[pb + t * bs0 + p * bs1 + j * bs2];
            heap[pc + (t * m + i) * n + j] = s;
          }
        }
      }
      return true;
    },
  };
}

/** [1, 3, 2] @ [1, 2, 2] with a row-major A, and the same A read through a transposed view. */
function operands(be: CpuBackend): { a: StridedView; at: StridedView; b: StridedView } {
  const ad = be.upload(Float32Array.from([1, 2, 3, 4, 5, 6]), 'float32'); // A = [[1,2],[3,4],[5,6]]
  const atd = be.upload(Float32Array.from([1, 3, 5, 2, 4, 6]), 'float32'); // A^T stored, viewed as A
  const bd = be.upload(Float32Array.from([1, 0, 2, 1]), 'float32'); // B = [[1,0],[2,1]]
  return {
    a: { data: ad, dtype: 'float32', shape: [1, 3, 2], strides: [6, 2, 1], offset: 0 },
    at: { data: atd, dtype: 'float32', shape: [1, 3, 2], strides: [6, 1, 3], offset: 0 },
    b: { data: bd, dtype: 'float32', shape: [1, 2, 2], strides: [4, 2, 1], offset: 0 },
  };
}
const PRODUCT = [5, 2, 11, 4, 17, 6];

describe('CpuFastInfo.matmuls', () => {
  it('counts native calls and WASM fallbacks (a declined transposed operand), with the same values', () => {
    const be = new CpuBackend({ threads: 1, native: { name: 'stub', kernels: stubKernels(true) } });
    const { a, at, b } = operands(be);
    expect(be.fastInfo()?.matmuls).toEqual({ native: 0, wasm: 0 });
    expect(Array.from(be.readSync(be.matmul(a, b), 'float32', 6))).toEqual(PRODUCT);
    expect(be.fastInfo()?.matmuls).toEqual({ native: 1, wasm: 0 });
    expect(Array.from(be.readSync(be.matmul(at, b), 'float32', 6))).toEqual(PRODUCT);
    expect(be.fastInfo()?.matmuls).toEqual({ native: 1, wasm: 1 });
  });

  it('counts every call as WASM without a provider, and has no fastInfo with the fast path off', () => {
    const be = new CpuBackend({ threads: 1 });
    const { a, at, b } = operands(be);
    be.matmul(a, b);
    be.matmul(at, b);
    expect(be.fastInfo()?.matmuls).toEqual({ native: 0, wasm: 2 });
    const ref = new CpuBackend({ fast: false });
    const r = operands(ref);
    expect(Array.from(ref.readSync(ref.matmul(r.at, r.b), 'float32', 6))).toEqual(PRODUCT);
    expect(ref.fastInfo()).toBeNull();
  });
});
