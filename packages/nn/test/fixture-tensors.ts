// SPDX-License-Identifier: MIT
// Shared by the nn PyTorch-parity tests: decodes a fixture tensor (shape, dtype, values with
// "nan"/"inf" as strings) into a CPU tensor, and compares a tensor against a fixture within
// atol + rtol * |want|, tracking the largest absolute error seen (the tests report it).
import { expect } from 'vitest';
import { tensor, type Tensor } from '@heed/core';

/** A value in a fixture: a number, or a string for non-finite values. */
export type Num = number | string | boolean;

/** A tensor as the fixture generators write it. */
export interface Enc { shape: number[]; dtype: 'float32' | 'bool' | 'int32'; data: Num[] }

/** The fixture tensor as a Heed tensor on the current backend. */
export function toTensor(e: Enc, requiresGrad = false): Tensor {
  const values = e.data.map((v) => Number(v));
  const data = e.dtype === 'bool' ? Uint8Array.from(values) : e.dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  return tensor(data, { shape: e.shape, dtype: e.dtype, requiresGrad });
}

/** Compares tensors against fixtures (sync reads: CPU backend) and remembers the worst error. */
export class FixtureChecker {
  /** Largest absolute error over every compared element so far. */
  maxAbs = 0;

  /** Fails the test unless `t` has the fixture's shape and dtype and every value is within tolerance. */
  readonly expectClose = (t: Tensor | null, e: Enc, label: string, tol = 1e-5): void => {
    expect(t, `${label} missing`).not.toBeNull();
    expect([...(t as Tensor).shape], `${label} shape`).toEqual(e.shape);
    expect((t as Tensor).dtype, `${label} dtype`).toBe(e.dtype);
    this.compare((t as Tensor).dataSync(), e, label, tol);
  };

  /** The same check through an asynchronous read (backends without sync reads, e.g. WebGPU). */
  readonly expectCloseRead = async (t: Tensor | null | undefined, e: Enc, label: string, tol = 1e-5): Promise<void> => {
    expect(t, `${label} missing`).toBeTruthy();
    expect([...(t as Tensor).shape], `${label} shape`).toEqual(e.shape);
    expect((t as Tensor).dtype, `${label} dtype`).toBe(e.dtype);
    this.compare(await (t as Tensor).data(), e, label, tol);
  };

  private compare(got: ArrayLike<number>, e: Enc, label: string, tol: number): void {
    e.data.forEach((w, i) => {
      const want = Number(w);
      const err = Math.abs(got[i] - want);
      this.maxAbs = Math.max(this.maxAbs, err);
      if (!(err <= tol + tol * Math.abs(want))) expect.fail(`${label}[${i}]: got ${got[i]}, want ${want} (err ${err})`);
    });
  }
}
