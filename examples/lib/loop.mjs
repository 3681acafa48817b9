// SPDX-License-Identifier: MIT
// The training loop shared by the examples: for each step, build a batch and its loss,
// backpropagate, clip the gradient norm, take an optimizer and schedule step, record the loss,
// update the progress bar, and at the configured cadence run a validation callback and save
// a checkpoint (always at the last step).
// Invariants: one step leaves no tensor alive besides the model's and the optimizer's (the
// loss, the batch and the gradients are disposed); history rows are
// `{ step, loss, series }` and only grow; resuming at `startStep` runs steps startStep+1..endStep.
import { clipGradNorm } from '@heed/nn';
import { createProgress } from './progress.mjs';

/**
 * Runs steps `startStep + 1 .. endStep`.
 *
 * @example
 * await trainLoop({ model, optimizer, scheduler, startStep: 0, endStep: 500, history,
 *   batchLoss: () => ({ loss: model.loss(src, tgt), tokens: 4096, dispose: () => { src.dispose(); tgt.dispose(); } }) });
 * @param {{
 *   model: import('@heed/nn').Module, optimizer: { step(): void, zeroGrad(): void }, scheduler?: { step(): void },
 *   startStep: number, endStep: number, history: { step: number, loss: number, series: string }[],
 *   batchLoss: (step: number) => { loss: import('@heed/core').Tensor, tokens: number, dispose?: () => void },
 *   clipNorm?: number, label?: string, quiet?: boolean,
 *   evalEvery?: number, onEval?: (step: number, log: (line: string) => void) => Promise<void>,
 *   checkpointEvery?: number, onCheckpoint?: (step: number) => Promise<void>,
 * }} o
 * @returns {Promise<{ seconds: number, tokensPerSecond: number, lastLoss: number }>}
 */
export async function trainLoop(o) {
  const progress = createProgress({ total: o.endStep, start: o.startStep, label: o.label ?? 'train', quiet: o.quiet });
  let lastLoss = NaN;
  let trainSeconds = 0;
  let tokens = 0;
  try {
    for (let step = o.startStep + 1; step <= o.endStep; step++) {
      const t0 = performance.now();
      o.model.train();
      const batch = o.batchLoss(step);
      try {
        batch.loss.backward();
        clipGradNorm(o.model, o.clipNorm ?? 1).dispose();
        o.optimizer.step();
        o.optimizer.zeroGrad();
        o.scheduler?.step();
        lastLoss = (await batch.loss.data())[0];
      } finally {
        batch.loss.dispose();
        batch.dispose?.();
      }
      if (!Number.isFinite(lastLoss)) throw new Error(`the loss became ${lastLoss} at step ${step}; lower --lr.`);
      trainSeconds += (performance.now() - t0) / 1000;
      tokens += batch.tokens;
      o.history.push({ step, loss: lastLoss, series: 'train' });
      progress.update(step, { loss: lastLoss, tokens: batch.tokens });
      if (o.onEval && o.evalEvery && (step % o.evalEvery === 0 || step === o.endStep)) await o.onEval(step, (line) => progress.log(line));
      if (o.onCheckpoint && ((o.checkpointEvery && step % o.checkpointEvery === 0) || step === o.endStep)) await o.onCheckpoint(step);
    }
  } finally {
    progress.stop();
  }
  return { seconds: trainSeconds, tokensPerSecond: trainSeconds > 0 ? tokens / trainSeconds : 0, lastLoss };
}
