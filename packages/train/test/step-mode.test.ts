// SPDX-License-Identifier: MIT
// Step mode of a training script: `parseTrainingArgs({ compiledSteps: true })` turns compiled
// steps on by default (`'opt-in'`: off), `--no-compile` off, and records a typed `--compile`; scripts without
// compiledSteps have no such option. `chooseStepMode` compiles only when asked and no blocker
// applies, and its startup line names the mode and (for eager steps) the first blocker's reason.
// `stepReport` gives a finished run's steps/s and, for compiled steps, the replay line.
import { describe, expect, it } from 'vitest';
import { chooseStepMode, parseTrainingArgs, stepReport } from '../src/node/index.js';

const base = {
  name: 'demo', description: 'a demo', outDir: '/tmp/out/demo/',
  defaults: { steps: 600, batchSize: 64, lr: 3e-3, checkpointEvery: 200, evalEvery: 100 },
  quickDefaults: { steps: 40 },
};
const argv = (...args: string[]) => ['node', 'train.mjs', ...args];

describe('--compile / --no-compile', () => {
  it('defaults to compiled steps in scripts with compiledSteps; --no-compile turns them off; a typed --compile is explicit', () => {
    const on = parseTrainingArgs({ ...base, compiledSteps: true, argv: argv('--quick') });
    expect(on.compile).toBe(true);
    expect(on.explicit.has('compile')).toBe(false);
    expect(parseTrainingArgs({ ...base, compiledSteps: true, argv: argv('--no-compile') }).compile).toBe(false);
    const typed = parseTrainingArgs({ ...base, compiledSteps: true, argv: argv('--compile') });
    expect(typed.compile).toBe(true);
    expect(typed.explicit.has('compile')).toBe(true);
    expect(parseTrainingArgs({ ...base, argv: argv() }).compile).toBeUndefined();
  });

  it("keeps compiled steps off by default in an 'opt-in' script, on with a typed --compile", () => {
    expect(parseTrainingArgs({ ...base, compiledSteps: 'opt-in', argv: argv() }).compile).toBe(false);
    expect(parseTrainingArgs({ ...base, compiledSteps: 'opt-in', argv: argv('--compile') }).compile).toBe(true);
    expect(chooseStepMode({ compile: false, off: 'the default here; --compile for compiled steps', blockers: [] }).line).toBe('step: eager (the default here; --compile for compiled steps)');
  });
});

describe('chooseStepMode', () => {
  it('compiles when asked and unblocked, printing the detail and the cache size', () => {
    expect(chooseStepMode({ compile: true, blockers: [{ when: false, reason: 'never' }], detail: 'one trace: fixed windows' })).toEqual({
      compiled: true, line: 'step: compiled (one trace: fixed windows; trace cache 8; --no-compile for eager steps)',
    });
    expect(chooseStepMode({ compile: true, blockers: [], maxTraces: 3 }).line).toBe('step: compiled (trace cache 3; --no-compile for eager steps)');
  });

  it('runs eager steps with --no-compile, or with the first blocker that applies', () => {
    expect(chooseStepMode({ compile: false, blockers: [{ when: true, reason: '2 ranks' }] })).toEqual({ compiled: false, line: 'step: eager (--no-compile)' });
    const blocked = chooseStepMode({ compile: true, blockers: [{ when: false, reason: 'a' }, { when: true, reason: '2 ranks' }, { when: true, reason: 'dropout' }] });
    expect(blocked).toEqual({ compiled: false, line: 'step: eager (2 ranks)' });
  });
});

describe('stepReport', () => {
  const stats = { traces: 2, replays: 7, eagerCalls: 3, cached: 1, evictions: 1, notCompiled: [] as string[] };

  it('gives steps per second, and no compiled line for eager steps', () => {
    expect(stepReport({ seconds: 4 }, 10)).toEqual({ stepsPerSecond: 2.5 });
  });

  it('says how many compiled steps replayed, with the cache counts when asked and why signatures stayed eager', () => {
    expect(stepReport({ seconds: 2, compileStats: stats }, 10).compiledLine).toBe('compiled step: 7 of 10 steps replayed, 2 trace(s)');
    expect(stepReport({ seconds: 2, compileStats: stats }, 10, { cacheCounts: true }).compiledLine)
      .toBe('compiled step: 7 of 10 steps replayed, 2 traces (1 cached, 1 evicted)');
    const eager = { ...stats, notCompiled: ['a host read', 'a shape'] };
    expect(stepReport({ seconds: 2, compileStats: eager }, 10).compiledLine).toBe('compiled step: 7 of 10 steps replayed, 2 trace(s); eager: a host read; a shape');
  });
});
