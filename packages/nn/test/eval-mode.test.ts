// SPDX-License-Identifier: MIT
// withEval: eval mode for the length of a call, restored afterwards (also on throw/reject), and
// overlapping async sections (concurrent decodes of one model) share the mode until the last
// of them ends.
import { describe, expect, it } from 'vitest';
import { registerBackend, setBackend } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { Dropout, Linear, Sequential, withEval } from '../src/index.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

describe('withEval', () => {
  it('switches a module tree to eval for a sync call and restores training mode', () => {
    const m = new Sequential(new Linear(2, 2), new Dropout(0.5));
    const seen = withEval(m, () => [...m.modules()].map((x) => x.training));
    expect(seen).toEqual([false, false, false]);
    expect([...m.modules()].map((x) => x.training)).toEqual([true, true, true]);
  });

  it('leaves a module that was already in eval mode in eval mode', async () => {
    const m = new Dropout(0.5).eval();
    await withEval(m, async () => { await tick(); });
    expect(m.training).toBe(false);
  });

  it('restores the mode when the function throws or its promise rejects', async () => {
    const m = new Dropout(0.5);
    expect(() => withEval(m, () => { throw new Error('boom'); })).toThrow('boom');
    expect(m.training).toBe(true);
    await expect(withEval(m, async () => { await tick(); throw new Error('late'); })).rejects.toThrow('late');
    expect(m.training).toBe(true);
  });

  it('keeps eval mode until the last of two overlapping async sections ends', async () => {
    const m = new Dropout(0.5);
    const modes: Record<string, boolean[]> = { a: [], b: [] };
    const section = (name: 'a' | 'b', ticks: number) => withEval(m, async () => {
      for (let i = 0; i < ticks; i++) {
        modes[name].push(m.training);
        await tick();
      }
      modes[name].push(m.training);
    });
    const a = section('a', 2);
    const b = section('b', 6); // still running after `a` has finished
    await a;
    expect(m.training).toBe(false);
    await b;
    expect(modes.a.every((t) => !t)).toBe(true);
    expect(modes.b.every((t) => !t)).toBe(true);
    expect(m.training).toBe(true);
  });
});
