// SPDX-License-Identifier: MIT
// The consumer project's workload, run in Node and in the browser bundles of the consumer
// test: a small MLP (@heed/nn layers, AdamW, mseLoss) trained for a few steps from seeded
// inputs, a safetensors round trip of its weights, and a @heed/models tokenizer. It is
// written as an outside user would, importing only the published package entries.
import { Generator, randn, tidy, type Tensor } from '@heed/core';
import { AdamW, GELU, Linear, Sequential, loadSafetensors, mseLoss, saveSafetensors } from '@heed/nn';
import { CharTokenizer } from '@heed/models';

/** What every run reports; the consumer test compares runs with each other. */
export interface WorkloadResult {
  /** The loss before each optimizer step. */
  readonly losses: number[];
  /** Sum of the first layer's weights after loading them back from safetensors bytes. */
  readonly reloadedSum: number;
  /** Ids of 'heed' under a tokenizer built from a small corpus. */
  readonly tokens: number[];
}

/** Trains for `steps` steps on the current backend. */
export async function workload(steps = 12): Promise<WorkloadResult> {
  const g = new Generator(2024);
  const x = randn([64, 8], { generator: g });
  const w = randn([8, 1], { generator: g });
  const y = tidy(() => x.matmul(w).tanh());
  const model = new Sequential(new Linear(8, 16, { generator: g }), new GELU(), new Linear(16, 1, { generator: g }));
  const opt = new AdamW(model, { lr: 0.02 });
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss: Tensor = tidy(() => mseLoss(model.forward(x), y));
    loss.backward();
    losses.push(await loss.item());
    loss.dispose();
    opt.step();
    opt.zeroGrad();
  }
  const bytes = await saveSafetensors(model.stateDict());
  const { tensors } = loadSafetensors(bytes);
  const first = tensors.get('0.weight');
  if (!first) throw new Error('safetensors round trip lost 0.weight');
  const sum = first.sum();
  const reloadedSum = await sum.item();
  sum.dispose();
  for (const t of tensors.values()) t.dispose();
  const tokens = CharTokenizer.fromCorpus(['the heed', 'framework']).encode('heed');
  for (const t of [x, w, y]) t.dispose();
  model.dispose();
  return { losses, reloadedSum, tokens };
}
