// SPDX-License-Identifier: MIT
// The training loop: for each step, build a batch and its loss, backpropagate, clip the
// gradient norm, take an optimizer and schedule step, record the loss, report progress, and
// at the configured cadence run a validation callback and save a checkpoint (always at the
// last step). Hooks let a caller yield between steps (a Web Worker answering messages),
// pause, or stop early.
// Invariants: one step leaves no tensor alive besides the model's and the optimizer's (the
// loss, the batch and the gradients are disposed); history rows are `{ step, loss, series }`
// and only grow; resuming at `startStep` runs steps startStep+1..endStep; a stop requested by
// `shouldStop` happens between steps, never inside one.
// With `compiled`, loss + backward + clipping + the optimizer's capturable step + zeroGrad run
// as one `compile()`d function of the batch's tensors and the optimizer's step scalars
// (`stepScalars()`, taken before each step, so a scheduled lr replays); the batch is built
// outside it and the scheduler steps after it, as in the eager loop.
import { HeedError, compile, type CompileOptions, type CompileStats, type CompiledFunction, type Tensor } from '@heed/core';
import { clipGradNorm, disposeStepScalars, type Module, type StepScalars } from '@heed/nn';
import { ProgressMeter, type ProgressReporter, type ProgressSnapshot } from './progress.js';

/**
 * One point of a loss curve: `series` is e.g. `'train'` or `'held-out'`.
 *
 * @example
 * ```ts
 * const p: LossPoint = { step: 100, loss: 1.23, series: 'train' };
 * ```
 */
export interface LossPoint {
  step: number;
  loss: number;
  series: string;
}

/**
 * What `batchLoss` returns for one step: the loss tensor (the loop calls `backward` and
 * disposes it), the number of tokens it covered (for tokens/s) and a cleanup for the batch.
 *
 * @example
 * ```ts
 * const b: BatchLoss = { loss: model.loss(src, tgt), tokens: src.size + tgt.size, dispose: () => { src.dispose(); tgt.dispose(); } };
 * ```
 */
export interface BatchLoss {
  loss: Tensor;
  tokens: number;
  dispose?: () => void;
}

/**
 * One step's batch for a compiled step: the tensors passed to {@link CompiledTrainStep.loss}
 * (the compiled function's arguments; their shapes and dtypes pick its trace), the tokens it
 * covers and a cleanup.
 *
 * @example
 * ```ts
 * const b: CompiledBatch = { inputs: [src, tgt], tokens: src.size + tgt.size, dispose: () => { src.dispose(); tgt.dispose(); } };
 * ```
 */
export interface CompiledBatch {
  inputs: Tensor[];
  tokens: number;
  dispose?: () => void;
}

/**
 * A training step for {@link trainLoop} to compile (`compile()` from `@heed/core`): `batch`
 * builds the tensors outside the compiled function; `loss` (inside it) must not read values
 * back to the host. The optimizer must have `stepScalars()` (every `@heed/nn` optimizer does).
 *
 * @example
 * ```ts
 * const compiled: CompiledTrainStep = {
 *   batch: () => { const { src, tgt } = makeBatch(); return { inputs: [src, tgt], tokens: src.size + tgt.size }; },
 *   loss: (src, tgt) => model.loss(src, tgt),
 * };
 * ```
 */
export interface CompiledTrainStep {
  /** Builds the batch of `step` (or a Promise of it). */
  batch: (step: number) => CompiledBatch | Promise<CompiledBatch>;
  /** The loss of the batch's tensors (runs inside the compiled step). */
  loss: (...inputs: Tensor[]) => Tensor;
  /** Options of `compile` (default: `{ onNotCompiled: 'warn' }`). */
  options?: CompileOptions;
}

/**
 * The optimizer {@link trainLoop} steps: `step` then `zeroGrad` after each backward; a compiled
 * step also needs `stepScalars()` (see `Optimizer.stepScalars` in `@heed/nn`).
 *
 * @example
 * ```ts
 * const o: TrainLoopOptimizer = new AdamW(model, { lr: 1e-3 });
 * ```
 */
export interface TrainLoopOptimizer {
  step(scalars?: StepScalars): void;
  zeroGrad(): void;
  stepScalars?(): StepScalars;
}

/**
 * Options of {@link trainLoop}.
 *
 * @example
 * ```ts
 * const o: TrainLoopOptions = { model, optimizer, startStep: 0, endStep: 100, history: [], batchLoss: () => makeBatch() };
 * ```
 */
export interface TrainLoopOptions {
  /** The model (set to training mode before every step). */
  model: Module;
  /** Any optimizer (`step` then `zeroGrad` after each backward). */
  optimizer: TrainLoopOptimizer;
  /** A learning-rate schedule stepped once per step. */
  scheduler?: { step(): void };
  /** The step already done (0, or the checkpoint's step when resuming). */
  startStep: number;
  /** The last step to run. */
  endStep: number;
  /** Loss history; the loop appends `{ step, loss, series: 'train' }` after each step. */
  history: LossPoint[];
  /** Builds the batch of `step` and returns its loss (or a Promise of it, e.g. awaiting a DataLoader's next batch). Needed unless `compiled` is given. */
  batchLoss?: (step: number) => BatchLoss | Promise<BatchLoss>;
  /** Run each step as one compiled function instead (see {@link CompiledTrainStep}); `batchLoss` and `afterBackward` are then not used / not allowed. */
  compiled?: CompiledTrainStep;
  /**
   * Awaited right after `backward()`, before clipping: data-parallel training passes
   * `() => ddp.finishGradSync()` so every rank clips and steps on the all-reduced gradients.
   */
  afterBackward?: (step: number) => void | Promise<void>;
  /** Turns the step's loss value into the one recorded (data-parallel: the all-reduced sum of every rank's share). */
  reduceLoss?: (loss: number, step: number) => number | Promise<number>;
  /** Maximum global gradient norm (default 1). */
  clipNorm?: number;
  /** Where progress goes (nothing by default). */
  progress?: ProgressReporter;
  /** The meter to measure with (default: a new one over startStep..endStep). */
  meter?: ProgressMeter;
  /** Run `onEval` every this many steps and at the last step. */
  evalEvery?: number;
  /** Validation: may push rows to `history`; `log` prints without garbling the progress bar. */
  onEval?: (step: number, log: (line: string) => void) => void | Promise<void>;
  /** Run `onCheckpoint` every this many steps; it always runs after the last step too. */
  checkpointEvery?: number;
  /** Saves a checkpoint of `step`. */
  onCheckpoint?: (step: number) => void | Promise<void>;
  /** Called (and awaited) after every step: a place to yield to the event loop or wait while paused. */
  onStep?: (step: number, snapshot: ProgressSnapshot) => void | Promise<void>;
  /** Checked before every step: true ends the loop early (no final checkpoint). */
  shouldStop?: () => boolean;
}

/**
 * What {@link trainLoop} returns.
 *
 * @example
 * ```ts
 * const { lastStep, tokensPerSecond }: TrainLoopResult = await trainLoop(options);
 * ```
 */
export interface TrainLoopResult {
  /** Seconds spent in training steps (evaluation and checkpoints excluded). */
  seconds: number;
  /** Tokens per second of training step time. */
  tokensPerSecond: number;
  /** The loss of the last step run (NaN if none ran). */
  lastLoss: number;
  /** The last step run (`startStep` if none ran). */
  lastStep: number;
  /** True when `shouldStop` ended the loop before `endStep`. */
  stopped: boolean;
  /** What the compiled step did (traces, replays, why a signature stayed eager), with `compiled`. */
  compileStats?: CompileStats;
}

/**
 * Whether something done "every `every` steps and at the end" is due at `step`: checkpoints
 * and evaluations use it. `every` 0 or undefined means only at the end when `atEnd`.
 *
 * @example
 * ```ts
 * isDue(200, 200, 600); // true
 * isDue(601, 200, 601); // true (the last step)
 * isDue(150, 200, 600); // false
 * ```
 */
export function isDue(step: number, every: number | undefined, endStep: number, atEnd = true): boolean {
  return (every !== undefined && every > 0 && step % every === 0) || (atEnd && step === endStep);
}

/**
 * Runs steps `startStep + 1 .. endStep` (see {@link TrainLoopOptions}).
 *
 * @example
 * ```ts
 * await trainLoop({
 *   model, optimizer, scheduler, startStep: 0, endStep: 500, history,
 *   batchLoss: () => ({ loss: model.loss(src, tgt), tokens: src.size + tgt.size }),
 * });
 * ```
 */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainLoopResult> {
  const runStep = o.compiled ? compiledRunner(o, o.compiled) : eagerRunner(o);
  const meter = o.meter ?? new ProgressMeter({ total: o.endStep, start: o.startStep });
  const log = (line: string) => o.progress?.log(line);
  let lastLoss = NaN;
  let lastStep = o.startStep;
  let trainSeconds = 0;
  let tokens = 0;
  let stopped = false;
  try {
    for (let step = o.startStep + 1; step <= o.endStep; step++) {
      if (o.shouldStop?.()) {
        stopped = true;
        break;
      }
      const t0 = performance.now();
      o.model.train();
      const r = await runStep.run(step);
      lastLoss = r.loss;
      if (o.reduceLoss) lastLoss = await o.reduceLoss(lastLoss, step);
      if (!Number.isFinite(lastLoss)) {
        throw new HeedError('trainLoop', `the loss became ${lastLoss} at step ${step}; lower the learning rate (or check the data).`);
      }
      trainSeconds += (performance.now() - t0) / 1000;
      tokens += r.tokens;
      lastStep = step;
      o.history.push({ step, loss: lastLoss, series: 'train' });
      const snapshot = meter.update(step, { loss: lastLoss, tokens: r.tokens });
      o.progress?.update(snapshot);
      if (o.onEval && isDue(step, o.evalEvery, o.endStep, Boolean(o.evalEvery))) await o.onEval(step, log);
      if (o.onCheckpoint && isDue(step, o.checkpointEvery, o.endStep)) await o.onCheckpoint(step);
      await o.onStep?.(step, snapshot);
    }
  } finally {
    o.progress?.stop();
  }
  const result: TrainLoopResult = { seconds: trainSeconds, tokensPerSecond: trainSeconds > 0 ? tokens / trainSeconds : 0, lastLoss, lastStep, stopped };
  if (runStep.stats) result.compileStats = { ...runStep.stats, notCompiled: [...runStep.stats.notCompiled] };
  return result;
}

interface StepRunner {
  /** Runs one step (model already in training mode): its loss value and tokens. */
  run(step: number): Promise<{ loss: number; tokens: number }>;
  readonly stats?: Readonly<CompileStats>;
}

function eagerRunner(o: TrainLoopOptions): StepRunner {
  const batchLoss = o.batchLoss;
  if (!batchLoss) throw new HeedError('trainLoop', 'needs batchLoss (or compiled: { batch, loss }) to build each step.');
  return {
    async run(step) {
      const batch = await batchLoss(step);
      try {
        batch.loss.backward();
        await o.afterBackward?.(step);
        clipGradNorm(o.model, o.clipNorm ?? 1).dispose();
        o.optimizer.step();
        o.optimizer.zeroGrad();
        o.scheduler?.step();
        return { loss: (await batch.loss.data())[0], tokens: batch.tokens };
      } finally {
        batch.loss.dispose();
        batch.dispose?.();
      }
    },
  };
}

function compiledRunner(o: TrainLoopOptions, c: CompiledTrainStep): StepRunner {
  const opt = o.optimizer;
  const stepScalars = opt.stepScalars?.bind(opt);
  if (!stepScalars) throw new HeedError('trainLoop', 'a compiled step needs an optimizer with stepScalars() (every @heed/nn optimizer has it); pass one, or use batchLoss.');
  if (o.afterBackward) throw new HeedError('trainLoop', 'afterBackward cannot run inside a compiled step (it is awaited between backward and the update); drop compiled, or the hook.');
  const clipNorm = o.clipNorm ?? 1;
  const fn: CompiledFunction<[Tensor[], StepScalars], Tensor> = compile((inputs: Tensor[], scalars: StepScalars) => {
    const loss = c.loss(...inputs);
    loss.backward();
    clipGradNorm(o.model, clipNorm).dispose();
    opt.step(scalars);
    opt.zeroGrad();
    const value = loss.detach();
    loss.dispose();
    return value;
  }, { onNotCompiled: 'warn', ...c.options });
  return {
    get stats() { return fn.stats; },
    async run(step) {
      const batch = await c.batch(step);
      try {
        const scalars = stepScalars();
        let loss: Tensor;
        try {
          loss = fn(batch.inputs, scalars);
        } finally {
          disposeStepScalars(scalars);
        }
        try {
          o.scheduler?.step();
          return { loss: (await loss.data())[0], tokens: batch.tokens };
        } finally {
          loss.dispose();
        }
      } finally {
        batch.dispose?.();
      }
    },
  };
}
