// SPDX-License-Identifier: MIT
// Test helpers of the hf-bert / hf-bart suites: the fixtures written by
// scripts/fixtures/gen_hf_encoder_fixtures.py (tiny HF checkpoints + expected.json), tensors
// from their {shape, data} records, and the 1e-4 relative comparison against HF's values.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { tensor, type DType, type Tensor } from '@heed/core';

/** A tensor record of expected.json. */
export interface Enc { shape: number[]; data: number[] }

/** Directory of one fixture checkpoint (`bert-cls`, `bert-mlm`, `bart`). */
export function fixtureDir(name: string): string {
  return fileURLToPath(new URL(`./fixtures/hf-models/${name}`, import.meta.url));
}

/** The parsed expected.json of a fixture checkpoint. */
export function readExpected<T>(name: string): T {
  return JSON.parse(readFileSync(`${fixtureDir(name)}/expected.json`, 'utf8')) as T;
}

/** A tensor from a record (int32 unless `dtype` says otherwise), on the default backend. */
export function fromEnc(e: Enc, dtype: DType = 'int32'): Tensor {
  const data = dtype === 'float32' ? Float32Array.from(e.data) : Int32Array.from(e.data);
  return tensor(data, { shape: e.shape, dtype });
}

/** The relative tolerance of the HF parity targets. */
export const RTOL = 1e-4;

/**
 * Asserts `t` has `want`'s shape and every value within `rtol * (|w| + 0.01 * max|want|)`:
 * relative, with a floor at 1% of the tensor's scale for values near zero (float32 rounding of
 * HF's own sums is larger than 1e-4 of a value 1000 times smaller than its neighbours).
 * Returns the worst error relative to the tensor's scale (max |g - w| / max |w|).
 */
export async function expectRel(t: Tensor, want: Enc, label: string, rtol = RTOL): Promise<number> {
  expect([...t.shape], `${label}: shape`).toEqual(want.shape);
  const got = await t.data();
  const scale = want.data.reduce((m, w) => Math.max(m, Math.abs(w)), 0);
  let worst = 0;
  want.data.forEach((w, i) => {
    const err = Math.abs(got[i] - w);
    worst = Math.max(worst, err);
    if (!(err <= rtol * (Math.abs(w) + 0.01 * scale))) expect.fail(`${label}[${i}]: got ${got[i]}, want ${w} (err ${err.toExponential(2)}, scale ${scale})`);
  });
  return worst / scale;
}
