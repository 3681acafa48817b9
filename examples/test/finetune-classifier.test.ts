// SPDX-License-Identifier: MIT
// The finetune-classifier example, offline, as a child process on the BUILT packages: a tiny
// random-weight BERT checkpoint (engineer B's masked-LM fixture: the classification head is
// new, as when fine-tuning bert-base-uncased) with engineer T's WordPiece tokenizer fixture
// restricted to the model's vocabulary. With random tiny weights the accuracy means nothing,
// so the test checks that training lowers the (eval-mode) loss on a small training set it sees
// every epoch, that the model saved with savePretrained has a 2-label head and reloads to the same
// logits, that `--resume` continues bit for bit, and the errors for a missing `--model` and a
// tokenizer larger than the model's embedding. Skipped, with a message, when not built.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectOk, fixtures, missingBuilds, modelFixture, restrictedTokenizer, runExample, tmp } from './finetune-fixtures.js';

const missing = missingBuilds(['core', 'backend-cpu', 'nn', 'models', 'train']);
if (missing.length > 0) console.warn(`[finetune-classifier] skipping: the packages are not built (missing ${missing.join(', ')}).`);
const run = describe.skipIf(missing.length > 0);

interface Summary {
  example: string; backend: string; steps: number; architecture: string; trainSetLossBefore: number; trainSetLossAfter: number;
  testAccuracy: number; reloadMaxAbsDiff: number; finalTrainLoss: number;
}
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;

run('finetune-classifier (tiny BERT fixture, offline)', () => {
  const bert = modelFixture('bert-mlm');
  const tokenizer = restrictedTokenizer('bert', bert.vocabSize);
  // 16 training sentences = 2 batches per epoch, 12 steps = 6 epochs of the same sentences.
  const base = ['--quick', '--model', bert.dir, '--tokenizer', tokenizer, '--train-size', '16', '--test-size', '16', '--batch-size', '8', '--lr', '1e-2'];

  it('fine-tunes: the training loss falls, the saved model has a 2-label head and reloads exactly', () => {
    const out = tmp('finetune');
    const r = runExample('finetune-classifier', [...base, '--steps', '12', '--out', out]);
    expectOk(r);
    expect(r.seconds).toBeLessThan(60);
    const s = summaryOf(out);
    expect(s).toMatchObject({ example: 'finetune-classifier', backend: 'cpu', steps: 12, architecture: 'BertForSequenceClassification' });
    // The new head starts at ln 2 (HF's init, std 0.02); the loss on the training sentences, in
    // eval mode (no dropout), falls as the model fits them (0.6925 -> 0.646 here).
    expect(s.trainSetLossBefore).toBeCloseTo(Math.LN2, 1);
    expect(s.trainSetLossAfter).toBeLessThan(s.trainSetLossBefore - 0.02);
    expect(s.testAccuracy >= 0 && s.testAccuracy <= 1).toBe(true);
    expect(s.reloadMaxAbsDiff).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'model', 'config.json'), 'utf8')) as { architectures: string[]; id2label?: Record<string, string>; num_labels?: number };
    expect(config.architectures).toEqual(['BertForSequenceClassification']);
    expect(Object.keys(config.id2label ?? {}).length || config.num_labels).toBe(2);
    for (const f of ['model.safetensors', 'tokenizer.json']) expect(existsSync(join(out, 'model', f))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'model', 'tokenizer.json'), 'utf8'))).toEqual(JSON.parse(readFileSync(join(tokenizer, 'tokenizer.json'), 'utf8')));
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg/);
    expect(r.stdout).toContain('test accuracy');
  }, 90_000);

  it('--resume continues exactly (stop at 3 of 6, resume to 6 = 6 at once)', () => {
    const args = [...base, '--steps', '6', '--checkpoint-every', '3'];
    const straight = tmp('finetune');
    expectOk(runExample('finetune-classifier', [...args, '--out', straight]));
    const resumed = tmp('finetune');
    expectOk(runExample('finetune-classifier', [...args, '--stop-at', '3', '--out', resumed]));
    const r = runExample('finetune-classifier', [...args, '--resume', '--out', resumed]);
    expectOk(r);
    expect(r.stdout).toContain('resumed from');
    expect(summaryOf(resumed).finalTrainLoss).toBe(summaryOf(straight).finalTrainLoss);
    expect(readFileSync(join(resumed, 'model', 'model.safetensors')).equals(readFileSync(join(straight, 'model', 'model.safetensors')))).toBe(true);
  }, 120_000);

  it('needs --model, and refuses a tokenizer larger than the model embedding', () => {
    const none = runExample('finetune-classifier', ['--quick']);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/--model <dir> is required/);
    const big = runExample('finetune-classifier', ['--quick', '--model', bert.dir, '--tokenizer', join(fixtures, 'hf-tokenizers', 'bert'), '--out', tmp('finetune')]);
    expect(big.status).toBe(2);
    expect(big.stderr).toMatch(/tokenizer .* has \d+ tokens but the model's embedding has 120 rows/);
    const help = runExample('finetune-classifier', ['--help']);
    expectOk(help);
    for (const flag of ['--model', '--tokenizer', '--steps', '--resume', '--backend', '--max-length']) expect(help.stdout).toContain(flag);
  }, 60_000);
});
