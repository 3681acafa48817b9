// SPDX-License-Identifier: MIT
// Rng: the mulberry32 stream (first value for seed 42 is the widely published 0.6011037519201636;
// the rest were recorded from the examples' original rng.mjs before it moved here, so the
// examples' data order is unchanged), int/shuffle, state round trip, bad input.
// ProgressMeter / lineProgress: tokens/s, fraction and ETA against hand-computed values on an
// injected clock; paused time is excluded; resumed steps are not counted; lines every ~10%.
import { describe, expect, it } from 'vitest';
import { HeedError } from '@heed/core';
import { ProgressMeter, Rng, formatProgress, lineProgress } from '../src/index.js';

describe('Rng', () => {
  it('produces the mulberry32 stream', () => {
    const r = new Rng(42);
    expect(Array.from({ length: 5 }, () => r.next())).toEqual([
      0.6011037519201636, 0.44829055899754167, 0.8524657934904099, 0.6697340414393693, 0.17481389874592423,
    ]);
    expect(r.state).toBe(567894515);
    const r2 = new Rng(7);
    expect(Array.from({ length: 8 }, () => r2.int(10))).toEqual([0, 0, 9, 6, 5, 4, 4, 2]);
    expect(new Rng(1).shuffle([1, 2, 3, 4, 5, 6, 7, 8])).toEqual([3, 2, 7, 8, 5, 4, 1, 6]);
    expect(new Rng(0 ^ 0x5eed).shuffle(Array.from({ length: 10 }, (_, i) => i))).toEqual([5, 4, 6, 1, 3, 8, 0, 9, 2, 7]);
  });

  it('resumes exactly from its state and rejects bad input', () => {
    const a = new Rng(3);
    a.next();
    const b = new Rng(0);
    b.state = JSON.parse(JSON.stringify(a.state)) as number;
    expect([b.next(), b.next()]).toEqual([a.next(), a.next()]);
    expect(() => new Rng(1.5)).toThrow(HeedError);
    expect(() => a.int(0)).toThrow(/positive integer/);
  });
});

describe('ProgressMeter', () => {
  it('measures tokens/s, fraction and ETA over this run only, excluding pauses', () => {
    let now = 1000;
    const meter = new ProgressMeter({ total: 110, start: 10, now: () => now });
    expect(meter.current.etaSeconds).toBeNaN();
    now += 2000;
    let s = meter.update(11, { loss: 2.5, tokens: 300 });
    expect(s).toMatchObject({ step: 11, start: 10, total: 110, loss: 2.5, tokens: 300, seconds: 2, tokensPerSecond: 150 });
    expect(s.fraction).toBeCloseTo(0.1, 12);
    expect(s.etaSeconds).toBeCloseTo(2 * 99, 9); // 1 step in 2 s, 99 to go
    meter.pause();
    now += 60_000; // paused a minute
    expect(meter.current.seconds).toBe(2);
    meter.resume();
    now += 2000;
    s = meter.update(12, { loss: 2.0, tokens: 500 });
    expect(s.seconds).toBe(4);
    expect(s.tokensPerSecond).toBe(200);
    expect(s.etaSeconds).toBeCloseTo(2 * 98, 9);
  });

  it('lineProgress writes about every 10% and at the last step, plus log lines; nothing when quiet', () => {
    const lines: string[] = [];
    let now = 0;
    const meter = new ProgressMeter({ total: 20, now: () => now });
    const p = lineProgress({ label: 'demo', write: (l) => lines.push(l) });
    const quiet: string[] = [];
    const q = lineProgress({ write: (l) => quiet.push(l), quiet: true });
    for (let step = 1; step <= 20; step++) {
      now += 100;
      const s = meter.update(step, { loss: 1 / step, tokens: 10 });
      p.update(s);
      q.update(s);
    }
    p.log('eval done');
    q.log('eval done');
    expect(lines.length).toBe(11); // steps 2, 4, ..., 20 and the log line
    expect(lines[0]).toBe('demo step 2/20  loss 0.5000  100 tok/s  0.2s');
    expect(lines.at(-2)).toBe(formatProgress('demo', meter.current));
    expect(lines.at(-1)).toBe('eval done');
    expect(quiet).toEqual([]);
  });
});
