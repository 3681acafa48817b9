// SPDX-License-Identifier: MIT
// The examples' step modes (built packages, child processes): translate-numbers and char-lm
// train with compiled steps unless `--no-compile` is given (sentiment only with `--compile`: no
// clear speed-up measured), say so in their startup line, and the eager run's per-step quick-run losses equal the compiled run's within
// the tolerance of the compile tests (toBeCloseTo(.., 5): 5e-6; translate-numbers and sentiment
// pad compiled batches to fixed lengths, masked). Where a compiled step cannot run (two
// ranks) the script falls back to eager steps with the reason printed instead of failing.
// Dropout runs compiled: a compiled run with dropout stopped and resumed (new processes, the
// checkpoint's dropout counter) gives the uninterrupted compiled run's losses bit for bit.
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

interface Summary {
  trainLosses: number[];
  compiled: { replays: number; traces: number; notCompiled: string[] } | null;
  dropoutStreams?: { seed: number; endOffset: number }[];
}

function train(example: string, args: string[], out = mkdtempSync(join(tmpdir(), `heed-${example}-`))): { stdout: string; summary: Summary } {
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

  it('sentiment runs eager steps by default and says so', () => {
    const r = train('sentiment', ['--quick', '--steps', '2', '--eval-every', '100']);
    expect(r.stdout).toMatch(/^step: eager \(the default here, no clear speed-up measured; --compile for compiled steps\)$/m);
    expect(r.summary.compiled).toBeNull();
  });

  // Stopped after `stop` steps and resumed: the resumed process traces again and replays at
  // least twice, so its replays must draw the dropout masks from the checkpoint's counter on.
  const RESUMED: Record<string, { args: string[]; stop: number }> = {
    'translate-numbers': { args: ['--quick', '--steps', '10', '--eval-every', '100', '--eval-limit', '2', '--dropout', '0.1'], stop: 5 },
    sentiment: { args: ['--quick', '--train-size', '100', '--steps', '16', '--eval-every', '100', '--dropout', '0.1', '--compile'], stop: 6 },
  };
  for (const [example, { args, stop }] of Object.entries(RESUMED)) {
    it(`${example} with dropout 0.1 trains compiled, and a compiled run stopped after step ${stop} and resumed equals the unbroken one`, () => {
      const whole = train(example, args);
      expect(whole.stdout).toMatch(/^step: compiled /m);
      expect(whole.summary.compiled).toMatchObject({ notCompiled: [] });
      const out = mkdtempSync(join(tmpdir(), `heed-${example}-resumed-`));
      train(example, [...args, '--stop-at', String(stop)], out);
      const resumed = train(example, [...args, '--resume'], out);
      expect(resumed.summary.compiled?.replays).toBeGreaterThanOrEqual(2);
      expect(resumed.summary.trainLosses).toEqual(whole.summary.trainLosses);
      // translate-numbers reports its dropout stream: the resumed run ends at the same counter.
      const ends = (s: Summary) => s.dropoutStreams?.map((d) => [d.seed, d.endOffset]);
      if (example === 'translate-numbers') expect(ends(resumed.summary)).toEqual(ends(whole.summary));
    });
  }

  it('char-lm on 2 ranks falls back to eager steps and prints why', () => {
    const r = train('char-lm', ['--quick', '--steps', '2', '--eval-every', '100', '--ranks', '2']);
    expect(r.stdout).toMatch(/^step: eager \(2 ranks: the gradient all-reduce runs between backward and the update\)$/m);
    expect(r.summary.compiled).toBeNull();
  });
});
