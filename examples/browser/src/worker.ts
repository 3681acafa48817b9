// SPDX-License-Identifier: MIT
// The demo's training worker: owns the backend, the translate-numbers run (tokenizer, model,
// optimizer, data RNG) and the training loop (@heed/train's trainLoop), so the page stays
// responsive. Between two steps it posts progress and runs the page's requests (translate
// with an attention map, download); pause waits inside the loop's onStep hook; a new run or an
// uploaded model first ends the loop.
// Invariants: requests run one at a time, in order, and only between steps, never inside one;
// a request that replaces the run (new model, upload) first ends the loop; a replaced run is
// disposed (no tensors left behind); every request gets one reply.
import { Generator, getBackend, noGrad, type Tensor } from '@heed/core';
import { deserializeModel, padBatch, serializeModel, type Seq2SeqTransformer, type Tokenizer } from '@heed/models';
import { ProgressMeter, Rng, attachGenerator, trainLoop, useBackend, type BackendName, type LossPoint } from '@heed/train';
import { DIRECTIONS, LANGUAGES, sampleExample, splitNumbers, targetText } from '../../translate-numbers/data.mjs';
import { createRun, encodeBatch, encodeSource, makeOptimizer, trainingBatch } from '../../translate-numbers/task.mjs';
import type { BackendChoice, DemoSettings, Heatmap, Reply, Request, RunState } from './protocol.js';

/** The worker's global scope (declared here: the DOM and WebWorker libs cannot both be loaded). */
declare const self: {
  postMessage(message: Reply, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  readonly crossOriginIsolated: boolean;
};

interface Run {
  settings: DemoSettings;
  model: Seq2SeqTransformer;
  tokenizer: Tokenizer;
  optimizer: ReturnType<typeof makeOptimizer>['optimizer'];
  scheduler: ReturnType<typeof makeOptimizer>['scheduler'];
  generator: Generator;
  rng: Rng;
  train: number[];
  heldOut: number[];
  step: number;
  history: LossPoint[];
  valSrc: Tensor;
  valTgt: Tensor;
}

const MAX_DECODE = 24;
let run: Run | null = null;
let state: RunState = 'empty';
let paused = false;
let stopRequested = false;
let loop: Promise<void> | null = null;
let wake: (() => void) | null = null;
/** A queued request; `exclusive` ones replace the run, so the training loop must end first. */
interface Job { run: () => Promise<void>; exclusive: boolean }
const jobs: Job[] = [];
let draining = false;

const post = (reply: Reply, transfer: Transferable[] = []) => self.postMessage(reply, transfer);
const setState = (s: RunState, id?: number) => { state = s; post({ type: 'state', state: s, id }); };
const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Runs queued requests one by one: between training steps (`inLoop`), where an exclusive one
 * asks the loop to end instead (it then runs after the loop), or at once when no loop runs.
 */
async function drain(inLoop = false): Promise<void> {
  if (draining) return;
  draining = true;
  try {
    while (jobs.length > 0) {
      if (inLoop && jobs[0].exclusive) {
        stopRequested = true;
        return;
      }
      await jobs.shift()!.run();
    }
  } finally {
    draining = false;
  }
}

function submit(run: () => Promise<void>, exclusive = false): void {
  jobs.push({ run, exclusive });
  if (loop) wake?.();
  else void drain();
}

function disposeRun(): void {
  if (!run) return;
  run.model.dispose();
  run.optimizer.dispose();
  run.valSrc.dispose();
  run.valTgt.dispose();
  run = null;
}

async function startBackend(choice: BackendChoice): Promise<{ name: BackendName; detail: string }> {
  const fallbacks: string[] = [];
  const name = await useBackend(choice === 'auto' ? ['webgpu', 'cpu'] : choice, {
    onFallback: (n, reason) => fallbacks.push(`${n} unavailable (${reason})`),
  });
  const backend = getBackend() as unknown as { software?: boolean; fastInfo?: () => { flavor: string; threads: number } | null };
  let detail: string;
  if (name === 'cpu') {
    // The fast path's Web Workers start asynchronously: wait a moment for them when threads are possible.
    const t0 = performance.now();
    while (self.crossOriginIsolated && (backend.fastInfo?.()?.threads ?? 1) < 2 && performance.now() - t0 < 3000) await macrotask();
    const info = backend.fastInfo?.();
    detail = info ? `WASM ${info.flavor === 'relaxed' ? 'relaxed SIMD' : 'SIMD'}, ${info.threads} thread${info.threads === 1 ? '' : 's'}` : 'JavaScript kernels';
    if (!self.crossOriginIsolated) detail += ' (page not cross-origin isolated: no threads)';
  } else {
    detail = backend.software ? 'software adapter' : 'GPU adapter';
  }
  if (fallbacks.length > 0) detail += `; ${fallbacks.join('; ')}`;
  return { name, detail };
}

/** The parts of a run that come from createRun (new) or from a file (upload). */
type RunParts = Pick<Run, 'model' | 'tokenizer' | 'generator'> & Partial<Pick<Run, 'optimizer' | 'scheduler' | 'rng'>>;

/** Completes a run: data split, optimizer and schedule (fresh unless given), data RNG, validation batch. */
function makeRun(settings: DemoSettings, parts: RunParts): Run {
  const { train, heldOut } = splitNumbers({ maxNumber: settings.maxNumber, heldOut: settings.heldOut, seed: settings.seed });
  const { optimizer, scheduler } = parts.optimizer && parts.scheduler
    ? { optimizer: parts.optimizer, scheduler: parts.scheduler }
    : makeOptimizer(parts.model, parts.generator, settings);
  const valRng = new Rng(12345);
  const { src, tgt } = encodeBatch(parts.tokenizer, Array.from({ length: 64 }, () => sampleExample(heldOut, valRng)));
  return {
    settings, model: parts.model, tokenizer: parts.tokenizer, generator: parts.generator, optimizer, scheduler,
    rng: parts.rng ?? new Rng(settings.seed + 1), train, heldOut, step: 0, history: [], valSrc: src, valTgt: tgt,
  };
}

async function ready(id: number, backend: { name: string; detail: string }): Promise<void> {
  const r = run!;
  post({
    type: 'ready', id, backend: backend.name, backendDetail: backend.detail, parameters: r.model.numParameters(),
    vocabSize: r.tokenizer.vocabSize, settings: r.settings, step: r.step, history: r.history,
  });
  setState('ready');
}

let backendInfo = { name: 'cpu', detail: '' };

async function init(id: number, choice: BackendChoice, settings: DemoSettings): Promise<void> {
  stopRequested = false;
  disposeRun();
  backendInfo = await startBackend(choice);
  const fresh = createRun(settings);
  run = makeRun(settings, { ...fresh, model: fresh.model as Seq2SeqTransformer });
  await ready(id, backendInfo);
}

async function heldOutLoss(r: Run): Promise<number> {
  r.model.eval();
  const loss = noGrad(() => r.model.loss(r.valSrc, r.valTgt));
  const value = (await loss.data())[0];
  loss.dispose();
  return value;
}

/** Greedy exact match on up to 100 held-out translations (every direction). */
async function evaluate(r: Run): Promise<void> {
  const items = new Rng(99).shuffle(r.heldOut.flatMap((n) => DIRECTIONS.map(([from, to]: [string, string]) => ({ n, from, to })))).slice(0, 100);
  const outs = await r.model.greedyDecode(items.map((e) => encodeSource(r.tokenizer, e)), { maxLen: MAX_DECODE });
  const correct = outs.filter((ids, i) => r.tokenizer.decode(ids) === targetText(items[i].n, items[i].to)).length;
  post({ type: 'evaluated', step: r.step, heldOutExactMatch: correct / items.length, total: items.length });
}

async function trainRun(r: Run): Promise<void> {
  setState('training');
  const meter = new ProgressMeter({ total: r.settings.totalSteps, start: r.step });
  let sent = r.history.length;
  let lastPost = 0;
  const flush = (force: boolean) => {
    const now = performance.now();
    if (!force && now - lastPost < 100) return;
    lastPost = now;
    post({ type: 'progress', snapshot: meter.current, points: r.history.slice(sent) });
    sent = r.history.length;
  };
  try {
    await trainLoop({
      model: r.model, optimizer: r.optimizer, scheduler: r.scheduler, startStep: r.step, endStep: r.settings.totalSteps,
      history: r.history, meter,
      batchLoss: () => trainingBatch(r.model, r.tokenizer, r.train, r.rng, r.settings.batchSize),
      evalEvery: r.settings.evalEvery,
      onEval: async (step) => { r.history.push({ step, loss: await heldOutLoss(r), series: 'held-out' }); },
      onStep: async (step) => {
        r.step = step;
        flush(step === r.settings.totalSteps);
        await macrotask(); // let the page's messages in
        await drain(true);
        while (paused && !stopRequested) {
          meter.pause();
          if (state !== 'paused') { flush(true); setState('paused'); }
          await new Promise<void>((resolve) => { wake = resolve; });
          wake = null;
          await drain(true);
        }
        meter.resume();
        if (state === 'paused' && !stopRequested) setState('training');
      },
      shouldStop: () => stopRequested,
    });
  } catch (e) {
    post({ type: 'error', message: `training stopped: ${e instanceof Error ? e.message : String(e)}` });
    setState('paused');
    return;
  }
  flush(true);
  if (r.step >= r.settings.totalSteps) {
    await evaluate(r);
    setState('done');
  } else if (!stopRequested) {
    setState('paused');
  }
}

function start(id: number): void {
  if (state === 'paused' && loop) {
    paused = false;
    wake?.();
    return;
  }
  if (!run || loop || state === 'done') {
    post({ type: 'error', id, message: state === 'done' ? 'training is finished; make a new model to train again.' : 'no model to train yet.' });
    return;
  }
  paused = false;
  const r = run;
  loop = trainRun(r).finally(() => { loop = null; void drain(); });
}

async function translate(id: number, from: string, to: string, text: string): Promise<void> {
  const r = run;
  if (!r) throw new Error('no model yet.');
  const langs = LANGUAGES as Record<string, { tag: string }>;
  if (!langs[from] || !langs[to]) throw new Error(`unknown language '${!langs[from] ? from : to}'.`);
  const source = `${langs[from].tag} ${langs[to].tag} ${text.trim().toLowerCase()}`;
  const srcIds = r.tokenizer.encode(source).slice(0, r.model.config.maxLen);
  const [outIds] = await r.model.greedyDecode([srcIds], { maxLen: Math.min(MAX_DECODE, r.model.config.maxLen - 1) });
  const tgtIn = [r.tokenizer.bosId, ...outIds];
  const src = padBatch([srcIds], r.tokenizer.padId);
  const tgt = padBatch([tgtIn], r.tokenizer.padId);
  const maps = r.model.attentionMaps(src, tgt);
  src.dispose();
  tgt.dispose();
  let matrix: number[][];
  try {
    matrix = ((await maps.cross[maps.cross.length - 1].array()) as number[][][])[0];
  } finally {
    for (const t of [...maps.cross, ...maps.encoder]) t.dispose();
  }
  const heatmap: Heatmap = { matrix, rows: tgtIn.map((i) => r.tokenizer.idToToken(i)), cols: srcIds.map((i) => r.tokenizer.idToToken(i)) };
  post({ type: 'translation', id, source, output: r.tokenizer.decode(outIds), heatmap });
}

async function download(id: number): Promise<void> {
  const r = run;
  if (!r) throw new Error('no model yet.');
  const extra = { demo: { ...r.settings }, trainedSteps: r.step, backend: backendInfo.name };
  const bytes = await serializeModel(r.model, { tokenizer: r.tokenizer, extra });
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  post({ type: 'model', id, bytes: buffer, name: `heed-translate-numbers-${r.step}-steps.safetensors` }, [buffer]);
}

async function upload(id: number, bytes: ArrayBuffer, name: string, base: DemoSettings): Promise<void> {
  stopRequested = false;
  const loaded = deserializeModel(new Uint8Array(bytes));
  if (loaded.kind !== 'seq2seq' || !loaded.tokenizer) {
    loaded.model.dispose();
    throw new Error(`${name} is a '${loaded.kind}' model${loaded.tokenizer ? '' : ' without a tokenizer'}; this demo needs a translate-numbers seq2seq model with its tokenizer.`);
  }
  const extra = (loaded.extra ?? {}) as { demo?: Partial<DemoSettings>; trainedSteps?: number };
  disposeRun();
  const settings: DemoSettings = { ...base, ...(extra.demo ?? {}), dModel: loaded.model.config.dModel, layers: loaded.model.config.numEncoderLayers };
  const generator = new Generator(settings.seed);
  attachGenerator(loaded.model, generator);
  run = makeRun(settings, { model: loaded.model, tokenizer: loaded.tokenizer, generator });
  post({ type: 'log', line: `loaded ${name} (${loaded.model.numParameters().toLocaleString('en')} parameters, trained ${extra.trainedSteps ?? '?'} steps); Start fine-tunes it with a fresh optimizer.` });
  await ready(id, backendInfo);
}

self.onmessage = (event: MessageEvent<Request>) => {
  const m = event.data;
  const guard = (job: () => Promise<void>) => async () => {
    try {
      await job();
    } catch (e) {
      post({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
    }
  };
  switch (m.type) {
    case 'init': submit(guard(() => init(m.id, m.backend, m.settings)), true); break;
    case 'upload': submit(guard(() => upload(m.id, m.bytes, m.name, m.settings)), true); break;
    case 'start': start(m.id); break;
    case 'pause': paused = true; break;
    case 'translate': submit(guard(() => translate(m.id, m.from, m.to, m.text))); break;
    case 'download': submit(guard(() => download(m.id))); break;
    default: {
      const never: never = m;
      post({ type: 'error', message: `unknown request ${JSON.stringify(never)}` });
    }
  }
};
