// SPDX-License-Identifier: MIT
// Figures: the loss-curve spec keeps only plottable points and adds the EMA series (checked
// against a hand-computed average) once the curve is long; the heatmap SVG has one cell per
// matrix entry in the given order, labels disambiguated by position. Backends: useBackend
// activates a backend, falls back along a preference list (reporting why), reuses a
// registered backend instead of re-registering it, and names every failure.
import { describe, expect, it } from 'vitest';
import { HeedError, getBackend, listBackends, removeBackend, type BackendFactory } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { heatmapSpec, heatmapSvg, lossCurveSpec, lossCurveSvg, tokenLabels, useBackend, withSmoothedTrain, type BackendLoaders, type LossPoint } from '../src/index.js';

const valuesOf = (spec: { data?: unknown }) => (spec.data as { values: LossPoint[] }).values;

describe('figures', () => {
  it('loss curve: drops non-finite and (log scale) non-positive losses', async () => {
    const points: LossPoint[] = [
      { step: 1, loss: 2, series: 'train' }, { step: 2, loss: NaN, series: 'train' }, { step: 3, loss: 0, series: 'train' },
      { step: 3, loss: 1.5, series: 'held-out' },
    ];
    expect(valuesOf(lossCurveSpec({ title: 't', points })).map((p) => p.step)).toEqual([1, 3]);
    expect(valuesOf(lossCurveSpec({ title: 't', points, logScale: false })).map((p) => p.loss)).toEqual([2, 0, 1.5]);
    const svg = await lossCurveSvg({ title: 'loss', points });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('held-out');
  });

  it('adds an EMA of the training curve from 50 points on', () => {
    const short = Array.from({ length: 49 }, (_, i) => ({ step: i + 1, loss: 1, series: 'train' }));
    expect(withSmoothedTrain(short)).toEqual(short);
    const long = Array.from({ length: 100 }, (_, i) => ({ step: i + 1, loss: i % 2 === 0 ? 2 : 1, series: 'train' }));
    const ema = withSmoothedTrain(long).filter((p) => p.series === 'train (EMA)');
    expect(ema.length).toBe(100);
    // alpha = min(0.5, 20/100) = 0.2; ema0 = 2; ema1 = 0.2*1 + 0.8*2 = 1.8; ema2 = 0.2*2 + 0.8*1.8 = 1.84
    expect(ema[0].loss).toBeCloseTo(2, 12);
    expect(ema[1].loss).toBeCloseTo(1.8, 12);
    expect(ema[2].loss).toBeCloseTo(1.84, 12);
  });

  it('heatmap: one cell per entry, in order, with position-prefixed labels', async () => {
    expect(tokenLabels(['a', ' b', 'a', '\n'])).toEqual(['00 a', '01 ·b', '02 a', '03 \\n']);
    const matrix = [[0.9, 0.1, 0], [0.2, 0.3, 0.5]];
    const spec = heatmapSpec({ title: 'h', matrix, rows: ['x', 'x'], cols: ['a', 'b', 'c'] });
    const values = (spec.data as { values: { row: string; col: string; weight: number }[] }).values;
    expect(values).toEqual([
      { row: '00 x', col: '00 a', weight: 0.9 }, { row: '00 x', col: '01 b', weight: 0.1 }, { row: '00 x', col: '02 c', weight: 0 },
      { row: '01 x', col: '00 a', weight: 0.2 }, { row: '01 x', col: '01 b', weight: 0.3 }, { row: '01 x', col: '02 c', weight: 0.5 },
    ]);
    const svg = await heatmapSvg({ title: 'h', matrix, rows: ['x', 'x'], cols: ['a', 'b', 'c'] });
    const cells = [...svg.matchAll(/aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="rect mark"/g)].map((m) => m[1]);
    expect(cells.length).toBe(6);
    expect(cells[5]).toBe('key: 02 c; query: 01 x; weight: 0.5');
  });
});

describe('useBackend', () => {
  const failing = (why: string): (() => Promise<BackendFactory>) => async () => ({ name: 'webgpu', priority: 2, async: true, create: async () => { throw new Error(why); } });

  it('falls back along a preference list, reporting why, and reuses registered backends', async () => {
    const fallbacks: string[] = [];
    const loaders: BackendLoaders = { cpu: async () => cpuBackend, webgpu: failing('no adapter') };
    const name = await useBackend(['webgpu', 'cpu'], { loaders, onFallback: (n, reason) => fallbacks.push(`${n}: ${reason}`) });
    expect(name).toBe('cpu');
    expect(getBackend().name).toBe('cpu');
    expect(fallbacks).toEqual([expect.stringMatching(/^webgpu: the webgpu backend failed to start \(no adapter\)/)]);
    const before = getBackend();
    let loads = 0;
    await useBackend('cpu', { loaders: { ...loaders, cpu: async () => { loads++; return cpuBackend; } } });
    expect(loads).toBe(0); // already registered: not loaded or re-registered
    expect(getBackend()).toBe(before);
    expect(listBackends()).toContain('webgpu');
  });

  it('names every failure, and rejects unknown or missing names', async () => {
    removeBackend('webgpu');
    const missing = async (): Promise<BackendFactory> => { throw new Error('not installed'); };
    const err = await useBackend(['webgpu'], { loaders: { cpu: async () => cpuBackend, webgpu: missing } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeedError);
    expect((err as Error).message).toMatch(/^useBackend: could not load the webgpu backend \(not installed\); install @heed\/backend-webgpu/);
    expect(listBackends()).not.toContain('webgpu');
    removeBackend('cpu');
    const both = await useBackend(['webgpu', 'cpu'], { loaders: { cpu: missing, webgpu: failing('no adapter') } }).catch((e: unknown) => e);
    expect((both as Error).message).toMatch(/failed to start \(no adapter\).*could not load the cpu backend \(not installed\)/);
    await expect(useBackend('tpu' as never)).rejects.toThrow(/unknown backend 'tpu'; use one of: cpu, webgpu/);
    await expect(useBackend([])).rejects.toThrow(HeedError);
  });
});
