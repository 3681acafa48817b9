// SPDX-License-Identifier: MIT
// The summarization example: its data (seeded, five languages, held-out reports distinct from
// training, the headline's facts taken from the key sentence, which is often not the first
// sentence) and the script end to end as a child process on the BUILT packages: `--quick`
// writes its ROUGE scores (the lead baseline recomputed here from the data), figures,
// checkpoint and model; `--resume` continues exactly; `--help` lists the options.
// The script tests skip, with a message, when the packages are not built.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng, corpusRouge, rougeTokens } from '@heed/train';
// @ts-expect-error: a plain JavaScript module of the example
import { CODES, ENTITIES, KINDS, buildDataset, leadSentence, makeReport } from '../summarize/data.mjs';

interface Report { text: string; headline: string; lang: string; kind: string; keyIndex: number; sentences: string[] }
const build = buildDataset as (o: { trainSize: number; testSize: number; seed: number }) => { train: Report[]; test: Report[] };
const lead = leadSentence as (r: Report) => string;
const entities = ENTITIES as { cities: string[]; teams: string[]; companies: string[] };

const root = fileURLToPath(new URL('../../', import.meta.url));
const needed = ['core', 'backend-cpu', 'nn', 'models', 'train'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
const missing = needed.filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`[summarize] skipping the script tests: the packages are not built (missing ${missing.join(', ')}).`);
const run = describe.skipIf(missing.length > 0);

interface Result { status: number | null; stdout: string; stderr: string; seconds: number }
function runScript(args: string[], timeoutMs = 90_000): Result {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'examples', 'summarize', 'train.mjs'), ...args], {
    cwd: root, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}
function expectOk(r: Result): void {
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}
const tmp = () => mkdtempSync(join(tmpdir(), 'heed-summarize-'));
type Rouge = { rouge1: number; rouge2: number; rougeL: number };
interface Summary { example: string; backend: string; steps: number; finalTrainLoss: number; rouge: Rouge; leadBaseline: Rouge; rougeLMargin: number; testSize: number; wallSeconds: number }
const summaryOf = (out: string) => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary;

describe('summarize data', () => {
  it('is seeded, covers five languages and four kinds, and holds out distinct reports', () => {
    const a = build({ trainSize: 600, testSize: 100, seed: 0 });
    const b = build({ trainSize: 600, testSize: 100, seed: 0 });
    expect(b).toEqual(a);
    expect(build({ trainSize: 600, testSize: 100, seed: 1 }).train[0].text).not.toBe(a.train[0].text);
    expect(CODES).toEqual(['id', 'de', 'pt', 'it', 'es']);
    const trainTexts = new Set(a.train.map((r) => r.text));
    expect(a.test.every((r) => !trainTexts.has(r.text))).toBe(true);
    expect(new Set(a.test.map((r) => r.text)).size).toBe(100);
    for (const c of CODES as string[]) expect(a.train.some((r) => r.lang === c)).toBe(true);
    for (const k of KINDS as string[]) expect(a.train.some((r) => r.kind === k)).toBe(true);
  });

  it('puts the facts of the headline in the key sentence, which is the first sentence only sometimes', () => {
    const rng = new Rng(11);
    let first = 0;
    const n = 400;
    for (let i = 0; i < n; i++) {
      const r = (makeReport as (rng: Rng, lang: string, kind: string) => Report)(rng, (CODES as string[])[i % 5], (KINDS as string[])[i % 4]);
      expect(r.sentences.join(' ')).toBe(r.text);
      const key = r.sentences[r.keyIndex];
      expect(key).toBeDefined();
      // Every number and named entity of the headline occurs in the key sentence.
      const keyTokens = rougeTokens(key).join(' ');
      for (const w of r.headline.match(/\d+/g) ?? []) expect(` ${keyTokens} `).toContain(` ${w} `);
      const names = [...entities.cities, ...entities.teams, ...entities.companies].filter((e) => r.headline.includes(e));
      expect(names.length).toBeGreaterThan(0);
      for (const e of names) expect(key).toContain(e);
      if (r.keyIndex === 0) first++;
    }
    expect(first / n).toBeGreaterThan(0.1);
    expect(first / n).toBeLessThan(0.4);
  });
});

run('summarize script (--quick)', () => {
  it('trains, reports ROUGE against the lead baseline and writes its files in under 60 s', () => {
    const out = tmp();
    const r = runScript(['--quick', '--out', out]);
    expectOk(r);
    expect(r.seconds).toBeLessThan(60);
    const s = summaryOf(out);
    expect(s).toMatchObject({ example: 'summarize', backend: 'cpu', steps: 20, testSize: 40 });
    expect(Number.isFinite(s.finalTrainLoss)).toBe(true);
    // The lead baseline, recomputed from the data the script uses (quick: 400 / 40 reports, seed 0).
    const { test } = build({ trainSize: 400, testSize: 40, seed: 0 });
    const want = corpusRouge(test.map(lead), test.map((t) => t.headline));
    expect(s.leadBaseline.rouge1).toBeCloseTo(100 * want.rouge1.f1, 9);
    expect(s.leadBaseline.rouge2).toBeCloseTo(100 * want.rouge2.f1, 9);
    expect(s.leadBaseline.rougeL).toBeCloseTo(100 * want.rougeL.f1, 9);
    for (const v of Object.values(s.rouge)) expect(v >= 0 && v <= 100).toBe(true);
    expect(s.rougeLMargin).toBeCloseTo(s.rouge.rougeL - s.leadBaseline.rougeL, 9);
    for (const file of ['loss.svg', 'attention.svg']) expect(readFileSync(join(out, file), 'utf8')).toMatch(/^<svg[\s\S]*<rect/);
    for (const file of ['checkpoint.safetensors', 'model.safetensors']) expect(existsSync(join(out, file))).toBe(true);
    expect(r.stdout).toContain('lead sentence baseline');
  }, 90_000);

  it('--resume continues exactly (stop at 3 of 6, resume to 6 = 6 at once)', () => {
    const args = ['--quick', '--train-size', '100', '--test-size', '10', '--steps', '6'];
    const straight = tmp();
    expectOk(runScript([...args, '--checkpoint-every', '3', '--out', straight]));
    const resumed = tmp();
    expectOk(runScript([...args, '--stop-at', '3', '--out', resumed]));
    const r = runScript([...args, '--resume', '--out', resumed]);
    expectOk(r);
    expect(r.stdout).toContain('resumed from');
    expect(summaryOf(resumed).finalTrainLoss).toBe(summaryOf(straight).finalTrainLoss);
    expect(readFileSync(join(resumed, 'model.safetensors')).equals(readFileSync(join(straight, 'model.safetensors')))).toBe(true);
  }, 120_000);

  it('documents its options with --help', () => {
    const r = runScript(['--help']);
    expectOk(r);
    for (const flag of ['--backend', '--steps', '--quick', '--resume', '--out', '--lr', '--batch-size', '--beam-size', '--model', '--tokenizer']) expect(r.stdout).toContain(flag);
  }, 30_000);
});
