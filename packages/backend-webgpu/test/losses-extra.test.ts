// SPDX-License-Identifier: MIT
// @heed/nn's smoothL1Loss, huberLoss, klDiv and cosineSimilarity on WebGPU against the PyTorch
// 1.13 fixtures of packages/nn (losses-sched.json): values and the gradients of both inputs,
// read back asynchronously, to 2e-5 relative (floor 1). klDiv's target gradient where the
// target is exactly 0 is 0 in Heed (PyTorch: NaN), as on CPU.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend, tensor, tidy, type Tensor } from '@heed/core';
import { cosineSimilarity, huberLoss, klDiv, smoothL1Loss } from '@heed/nn';
import { WebGPUBackend } from '@heed/backend-webgpu';
import { device } from './gpu.js';

type Num = number | 'NaN' | 'Infinity' | '-Infinity';
interface Enc { shape: number[]; data: Num[] }
interface Case { name: string; fn: keyof typeof FNS; options: Record<string, unknown>; args: Enc[]; value: Enc; upstream?: Enc; grads: Enc[] }

const FNS = {
  smoothL1Loss: (a: Tensor, b: Tensor, o: Record<string, unknown>) => smoothL1Loss(a, b, o),
  huberLoss: (a: Tensor, b: Tensor, o: Record<string, unknown>) => huberLoss(a, b, o),
  klDiv: (a: Tensor, b: Tensor, o: Record<string, unknown>) => klDiv(a, b, o),
  cosineSimilarity: (a: Tensor, b: Tensor, o: Record<string, unknown>) => cosineSimilarity(a, b, o),
} as const;

const fx = JSON.parse(readFileSync(new URL('../../nn/fixtures/losses-sched.json', import.meta.url), 'utf8')) as { losses: Case[] };
const toTensor = (e: Enc, requiresGrad = false): Tensor => tensor(Float32Array.from(e.data.map(Number)), { shape: e.shape, requiresGrad });

async function expectClose(t: Tensor | null, e: Enc, label: string, nanAs?: number): Promise<void> {
  expect(t, `${label} missing`).not.toBeNull();
  expect([...(t as Tensor).shape], `${label} shape`).toEqual(e.shape);
  const got = await (t as Tensor).data();
  e.data.forEach((w, i) => {
    const want = Number(w);
    if (Number.isNaN(want)) {
      expect(got[i], `${label}[${i}]`).toBe(nanAs);
      return;
    }
    const err = Math.abs(got[i] - want) / Math.max(1, Math.abs(want));
    if (!(err <= 2e-5)) expect.fail(`${label}[${i}]: got ${got[i]}, want ${want}`);
  });
}

describe.skipIf(!device)('nn losses on WebGPU match PyTorch 1.13', () => {
  for (const c of fx.losses) {
    it(c.name, async () => {
      registerBackend({ name: 'webgpu-losses', priority: 0, async: true, create: () => new WebGPUBackend(device!, {}, 'webgpu-losses') });
      await setBackend('webgpu-losses');
      const [a, b] = c.args.map((e) => toTensor(e, true));
      const out = FNS[c.fn](a, b, c.options);
      await expectClose(out, c.value, 'value');
      tidy(() => (c.upstream ? out.mul(toTensor(c.upstream)).sum() : out).backward());
      await expectClose(a.grad, c.grads[0], 'grad x1');
      await expectClose(b.grad, c.grads[1], 'grad x2', c.fn === 'klDiv' ? 0 : undefined);
    });
  }
});
