// SPDX-License-Identifier: MIT
// The examples' step modes (built packages, child processes): translate-numbers and char-lm
// train with compiled steps unless `--no-compile` is given (sentiment only with `--compile`: no
// clear speed-up measured), say so in their startup line, and the eager run's per-step quick-run losses equal the compiled run's within
// the tolerance of the compile tests (toBeCloseTo(.., 5): 5e-6; translate-numbers and sentiment
// pad compiled batches to fixed lengths, masked). Where a compiled step cannot run (two
// ranks; dropout unless --compile is typed) the script falls back to eager steps with the reason
// printed instead of failing.
// Skipped, with a message, when the packages are not built.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const needed = ['core', 'backend-cpu', 'nn', 'models', 'train'].map((p) => join(root, 'packages', p, 'dist', 'index.js'));
const missing = needed.filter((p) => !existsSync(p));
if (missing.length > 0) console.warn(`[examples] skipping the compiled-step tests: the packages are not built (missing ${missing.join(', ')}). Run \`npm run build\`.`);

const STEPS = 8;
/** Short runs: 8 steps (3 eager calls of compile's warm-up and recordings, then 5 replays), few evaluations. */
const QUICK: Record<string, string[]> = {
  'translate-numbers': ['--quick', '--steps', String(STEPS), '--eval-every', '100', '--eval-limit', '2'],
  'char-lm': ['--quick', '--steps', String(STEPS), '--eval-every', '100'],
  sentiment: ['--quick', '--steps', String(STEPS), '--eval-every', '100', '--dropout', '0', '--compile'],
};

interface Summary { trainLosses: number[]; compiled: { replays: number; traces: number; notCompiled: string[] } | null }

function train(example: string, args: string[]): { stdout: string; summary: Summary } {
  const out = mkdtempSync(join(tmpdir(), `heed-${example}-`));
  const r = spawnSync(process.execPath, [join(root, 'examples', example, 'train.mjs'), ...args, '--quiet', '--out', out], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' },
  });
  if (r.status !== 0) throw new Error(`${example} ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return { stdout: r.stdout, summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as Summary };
}

describe.skipIf(missing.length > 0)('examples: compiled steps by default, --no-compile for eager ones', () => {
  for (const example of Object.keys(QUICK)) {
    it(`${example}: the ${example === 'sentiment' ? '--compile' : 'default'} run replays a compiled step; --no-compile runs eager steps with the same losses`, () => {
      const compiled = train(example, QUICK[example]);
      expect(compiled.stdout).toMatch(/^step: compiled \((one|two) traces?: .*; trace cache 8; --no-compile for eager steps\)$/m);
      // sentiment's two padded lengths: a trace needs two consecutive batches of its length.
      expect(compiled.summary.compiled).toMatchObject(example === 'sentiment' ? { notCompiled: [] } : { traces: 1, replays: STEPS - 3, notCompiled: [] });
      expect(compiled.summary.compiled?.replays).toBeGreaterThan(0);
      const eager = train(example, [...QUICK[example], '--no-compile']);
      expect(eager.stdout).toMatch(/^step: eager \(--no-compile\)$/m);
      expect(eager.summary.compiled).toBeNull();
      expect(compiled.summary.trainLosses).toHaveLength(STEPS);
      compiled.summary.trainLosses.forEach((loss, i) => expect(loss, `step ${i + 1}`).toBeCloseTo(eager.summary.trainLosses[i], 5));
    });
  }

  it('sentiment runs eager steps by default and says so; translate-numbers with dropout falls back to eager steps unless --compile is typed', () => {
    const r = train('sentiment', ['--quick', '--steps', '2', '--eval-every', '100']);
    expect(r.stdout).toMatch(/^step: eager \(the default here, no clear speed-up measured; --compile for compiled steps\)$/m);
    expect(r.summary.compiled).toBeNull();
    const tn = ['--quick', '--steps', '4', '--eval-every', '100', '--eval-limit', '2', '--dropout', '0.1'];
    const dropout = train('translate-numbers', tn);
    expect(dropout.stdout).toMatch(/^step: eager \(dropout 0\.1: a replay does not advance the dropout generator's host counter/m);
    expect(dropout.summary.compiled).toBeNull();
    const forced = train('translate-numbers', [...tn, '--compile']);
    expect(forced.stdout).toMatch(/^step: compiled /m);
    expect(forced.summary.compiled).not.toBeNull();
  });

  it('char-lm on 2 ranks falls back to eager steps and prints why', () => {
    const r = train('char-lm', ['--quick', '--steps', '2', '--eval-every', '100', '--ranks', '2']);
    expect(r.stdout).toMatch(/^step: eager \(2 ranks: the gradient all-reduce runs between backward and the update\)$/m);
    expect(r.summary.compiled).toBeNull();
  });
});
