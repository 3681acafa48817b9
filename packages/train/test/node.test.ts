// SPDX-License-Identifier: MIT
// @heed/train/node: the command line (typed options win over --quick defaults, which win over
// presets and normal defaults; quick and preset runs default to their own folders), the run's
// files (checkpoint save/inspect/resume through a real folder, text files with their
// folders), the overwrite guard (refuses a shorter run over a longer-trained checkpoint or
// model, allows equal/longer runs and --force, and writes nothing when it refuses), and the
// terminal reporter's plain-line mode off a TTY.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, HeedError, registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { AdamW } from '@heed/nn';
import { CharTokenizer, GPT, saveModel } from '@heed/models';
import {
  ProgressMeter, Rng, TRAINED_STEPS_KEY, guardOutput, parseTrainingArgs, readCheckpointInfo, resolveEndStep, resumeTraining,
  runFiles, saveTrainingCheckpoint, terminalProgress, trainedSteps, writeTextFile,
} from '../src/node/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const base = {
  name: 'demo', description: 'a demo', outDir: '/tmp/out/demo/',
  defaults: { steps: 600, batchSize: 64, lr: 3e-3, checkpointEvery: 200, evalEvery: 100, width: 64 },
  quickDefaults: { steps: 40, batchSize: 32, width: 16 },
  presets: { large: { description: 'bigger', values: { width: 128, steps: 1000 } } },
  extra: (p: import('commander').Command) => p.option('--width <n>', 'model width', Number),
};
const argv = (...args: string[]) => ['node', 'train.mjs', ...args];

describe('parseTrainingArgs', () => {
  it('resolves defaults, presets, --quick and typed options in that order', () => {
    const full = parseTrainingArgs({ ...base, argv: argv() });
    expect(full).toMatchObject({ steps: 600, batchSize: 64, width: 64, quick: false, out: '/tmp/out/demo/', backend: 'cpu', force: false });
    const quick = parseTrainingArgs({ ...base, argv: argv('--quick', '--large', '--batch-size', '8') });
    expect(quick).toMatchObject({ steps: 40, batchSize: 8, width: 16, out: '/tmp/out/demo-large-quick' });
    expect(parseTrainingArgs({ ...base, argv: argv('--quick') }).out).toBe('/tmp/out/demo-quick');
    expect(parseTrainingArgs({ ...base, argv: argv('--large') }).out).toBe('/tmp/out/demo-large');
    expect([...quick.explicit]).toEqual(expect.arrayContaining(['quick', 'large', 'batchSize']));
    expect(parseTrainingArgs({ ...base, argv: argv('--large') })).toMatchObject({ steps: 1000, width: 128 });
    expect(parseTrainingArgs({ ...base, argv: argv('--quick', '--out', '/x', '--force') })).toMatchObject({ out: '/x', force: true });
  });

  it('finds the end step: typed --steps or quick, else the stored schedule, capped by --stop-at', () => {
    expect(resolveEndStep(parseTrainingArgs({ ...base, argv: argv() }), { totalSteps: 321 })).toBe(321);
    expect(resolveEndStep(parseTrainingArgs({ ...base, argv: argv('--steps', '9') }), { totalSteps: 321 })).toBe(9);
    expect(resolveEndStep(parseTrainingArgs({ ...base, argv: argv('--quick', '--stop-at', '3') }), { totalSteps: 321 })).toBe(3);
  });
});

function tinyRun() {
  const tokenizer = CharTokenizer.fromCorpus(['abcabc']);
  const generator = new Generator(0);
  const model = new GPT({ vocabSize: tokenizer.vocabSize, dModel: 8, nhead: 2, numLayers: 1, maxLen: 8, generator });
  const optimizer = new AdamW(model, { lr: 1e-3 });
  return { model, optimizer, tokenizer, generator, rng: new Rng(1), history: [], settings: { totalSteps: 8, lr: 1e-3 } };
}

describe('run files and the overwrite guard', () => {
  it('saves, inspects and resumes a checkpoint in a new folder', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'heed-train-')), 'nested', 'run');
    const files = await runFiles(out);
    expect(files.checkpoint).toBe(join(out, 'checkpoint.safetensors'));
    const run = tinyRun();
    run.rng.next();
    await saveTrainingCheckpoint(files.checkpoint, { ...run, step: 8 });
    expect((await readCheckpointInfo(files.checkpoint)).step).toBe(8);
    const r = await resumeTraining(files.checkpoint, (model, _g, s) => ({ optimizer: new AdamW(model, { lr: s.lr as number }) }));
    expect(r.step).toBe(8);
    expect(r.rngState).toBe(run.rng.state);
    expect(r.model.config).toEqual(run.model.config);
    await writeTextFile(join(out, 'figs', 'a.svg'), '<svg/>');
    expect(readFileSync(join(out, 'figs', 'a.svg'), 'utf8')).toBe('<svg/>');
  });

  it('refuses a shorter run over a longer-trained checkpoint or model unless forced', async () => {
    const out = mkdtempSync(join(tmpdir(), 'heed-train-'));
    const files = await runFiles(out);
    expect(await trainedSteps(out)).toBeNull();
    await guardOutput({ out, steps: 1 });
    const run = tinyRun();
    await saveTrainingCheckpoint(files.checkpoint, { ...run, step: 8 });
    expect(await trainedSteps(out)).toBe(8);
    const listing = readdirSync(out).sort();
    await expect(guardOutput({ out, steps: 4 })).rejects.toThrow(HeedError);
    await expect(guardOutput({ out, steps: 4 })).rejects.toThrow(/holds a model trained for 8 steps; this run of 4 steps would overwrite it.*--force/);
    expect(readdirSync(out).sort()).toEqual(listing);
    await guardOutput({ out, steps: 8 });
    await guardOutput({ out, steps: 100 });
    await guardOutput({ out, steps: 4, force: true });
    // A model file alone counts too (its extra records the steps).
    const other = mkdtempSync(join(tmpdir(), 'heed-train-'));
    await saveModel(join(other, 'model.safetensors'), run.model, { tokenizer: run.tokenizer, extra: { [TRAINED_STEPS_KEY]: 600 } });
    expect(await trainedSteps(other)).toBe(600);
    await expect(guardOutput({ out: other, steps: 40 })).rejects.toThrow(/trained for 600 steps/);
  });
});

describe('terminalProgress', () => {
  it('writes plain lines when the stream is not a TTY', () => {
    const chunks: string[] = [];
    let now = 0;
    const meter = new ProgressMeter({ total: 2, now: () => now });
    const p = terminalProgress({ total: 2, label: 'x', stream: { isTTY: false, write: (c: string) => chunks.push(c) } });
    now = 1000;
    p.update(meter.update(1, { loss: 1, tokens: 50 }));
    now = 2000;
    p.update(meter.update(2, { loss: 0.5, tokens: 50 }));
    p.log('done');
    p.stop();
    expect(chunks).toEqual(['x step 1/2  loss 1.0000  50 tok/s  1.0s\n', 'x step 2/2  loss 0.5000  50 tok/s  2.0s\n', 'done\n']);
  });
});
