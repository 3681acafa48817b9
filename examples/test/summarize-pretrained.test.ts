// SPDX-License-Identifier: MIT
// `summarize/train.mjs --model DIR`, offline, as a child process on the BUILT packages: fine-tunes
// engineer B's tiny random-weight BART checkpoint fixture (AutoModelForSeq2SeqLM) with engineer
// T's WordPiece tokenizer fixture restricted to the model's 96-token vocabulary (AutoTokenizer).
// With random tiny weights ROUGE means nothing, so the test checks that training lowers the
// loss on a small training set seen every epoch, that ROUGE of generate() and the lead
// baseline (recomputed here from the data) are reported, and that the model saved with
// savePretrained reloads to the same logits; `--resume` continues bit for bit. Skipped, with a message, when not built.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusRouge } from '@heed/train';
// @ts-expect-error: a plain JavaScript module of the example
import { buildDataset, leadSentence } from '../summarize/data.mjs';
import { expectOk, missingBuilds, modelFixture, restrictedTokenizer, runExample, tmp } from './finetune-fixtures.js';

const missing = missingBuilds(['core', 'backend-cpu', 'nn', 'models', 'train']);
if (missing.length > 0) console.warn(`[summarize --model] skipping: the packages are not built (missing ${missing.join(', ')}).`);
const run = describe.skipIf(missing.length > 0);

type Rouge = { rouge1: number; rouge2: number; rougeL: number };
interface Summary {
  example: string; mode: string; backend: string; steps: number; architecture: string; trainLossFirstEpoch: number; trainLossLastEpoch: number;
  rouge: Rouge; leadBaseline: Rouge; reloadMaxAbsDiff: number;
}
interface Report { text: string; headline: string; sentences: string[] }

run('summarize --model (tiny BART fixture, offline)', () => {
  it('fine-tunes BART: the training loss falls, ROUGE and the lead baseline are reported, the saved model reloads exactly', () => {
    const bart = modelFixture('bart');
    const tokenizer = restrictedTokenizer('bert', bart.vocabSize);
    const out = tmp('summarize-bart');
    // 16 training reports = 2 batches per epoch, 12 steps = 6 epochs of the same reports.
    const r = runExample('summarize', ['--quick', '--model', bart.dir, '--tokenizer', tokenizer, '--train-size', '16', '--test-size', '8',
      '--batch-size', '8', '--steps', '12', '--lr', '3e-3', '--out', out]);
    expectOk(r);
    expect(r.seconds).toBeLessThan(60);
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;
    expect(s).toMatchObject({ example: 'summarize', mode: 'pretrained', backend: 'cpu', steps: 12, architecture: 'BartForConditionalGeneration' });
    expect(s.trainLossLastEpoch).toBeLessThan(s.trainLossFirstEpoch * 0.9);
    const { test } = (buildDataset as (o: object) => { test: Report[] })({ trainSize: 16, testSize: 8, seed: 0 });
    const lead = corpusRouge(test.map(leadSentence as (r: Report) => string), test.map((t) => t.headline));
    expect(s.leadBaseline.rougeL).toBeCloseTo(100 * lead.rougeL.f1, 9);
    for (const v of Object.values(s.rouge)) expect(v >= 0 && v <= 100).toBe(true);
    expect(s.reloadMaxAbsDiff).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'model', 'config.json'), 'utf8')) as { architectures: string[]; vocab_size: number };
    expect(config.architectures).toEqual(['BartForConditionalGeneration']);
    expect(config.vocab_size).toBe(bart.vocabSize);
    for (const f of ['model.safetensors', 'tokenizer.json']) expect(existsSync(join(out, 'model', f))).toBe(true);
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
    expect(r.stdout).toContain('lead sentence baseline');
  }, 90_000);

  it('--resume continues exactly (stop at 3 of 6, resume to 6 = 6 at once), also with beam search', () => {
    const bart = modelFixture('bart');
    const args = ['--quick', '--model', bart.dir, '--tokenizer', restrictedTokenizer('bert', bart.vocabSize), '--train-size', '16', '--test-size', '4',
      '--batch-size', '8', '--steps', '6', '--lr', '3e-3', '--checkpoint-every', '3'];
    const straight = tmp('summarize-bart');
    expectOk(runExample('summarize', [...args, '--out', straight]));
    const resumed = tmp('summarize-bart');
    expectOk(runExample('summarize', [...args, '--stop-at', '3', '--out', resumed]));
    const r = runExample('summarize', [...args, '--resume', '--beam-size', '2', '--out', resumed]);
    expectOk(r);
    expect(r.stdout).toContain('resumed from');
    expect(r.stdout).toContain('beam 2');
    expect(readFileSync(join(resumed, 'model', 'model.safetensors')).equals(readFileSync(join(straight, 'model', 'model.safetensors')))).toBe(true);
  }, 120_000);
});
