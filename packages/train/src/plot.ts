// SPDX-License-Identifier: MIT
// The training figures as Vega-Lite specs, and their rendering to SVG with vega's own SVG
// renderer (no DOM or canvas needed, so the same code draws in Node and in a page): a loss
// curve with one line per series (plus a moving average of a long, noisy training curve), and
// an attention heatmap with labelled rows and columns. `@heed/train/node` writes them to files.
// Invariants: heatmap cells keep the row/column order given (duplicate token labels are
// disambiguated by their position); non-finite (and, on a log scale, non-positive) losses are
// left out instead of breaking the scale.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { LossPoint } from './loop.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * Renders a Vega-Lite spec to a standalone SVG string.
 *
 * @example
 * ```ts
 * const svg = await renderSvg({ mark: 'point', data: { values: [{ x: 1, y: 2 }] }, encoding: { x: { field: 'x' }, y: { field: 'y' } } });
 * ```
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile({ $schema: SCHEMA, ...spec } as TopLevelSpec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Options of {@link lossCurveSpec}.
 *
 * @example
 * ```ts
 * const o: LossCurveOptions = { title: 'loss', points: history, logScale: true };
 * ```
 */
export interface LossCurveOptions {
  title: string;
  points: readonly LossPoint[];
  /** Title of the y axis (default 'loss'). */
  yTitle?: string;
  /** Log-scaled y axis (default true). */
  logScale?: boolean;
  /** Width and height in pixels (default 520 x 300). */
  width?: number;
  height?: number;
}

/**
 * A loss-curve figure: one line per series (e.g. train and validation), log-scaled y.
 *
 * @example
 * ```ts
 * const svg = await renderSvg(lossCurveSpec({ title: 'loss', points: [{ step: 1, loss: 2.3, series: 'train' }] }));
 * ```
 */
export function lossCurveSpec({ title, points, yTitle = 'loss', logScale = true, width = 520, height = 300 }: LossCurveOptions): TopLevelSpec {
  const values = withSmoothedTrain(points).filter((p) => Number.isFinite(p.loss) && (!logScale || p.loss > 0));
  return {
    title, width, height, data: { values },
    mark: { type: 'line', point: values.length < 60, strokeWidth: 1.6 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: yTitle, scale: logScale ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

/**
 * Adds a `train (EMA)` series, an exponential moving average of the `train` points, when
 * there are enough of them (50) for the raw curve to be noisy.
 *
 * @example
 * ```ts
 * withSmoothedTrain([{ step: 1, loss: 2, series: 'train' }]); // unchanged (too few points)
 * ```
 */
export function withSmoothedTrain(points: readonly LossPoint[]): LossPoint[] {
  const train = points.filter((p) => p.series === 'train');
  if (train.length < 50) return [...points];
  const alpha = Math.min(0.5, 20 / train.length);
  let ema = train[0].loss;
  const smooth = train.map((p) => {
    ema = alpha * p.loss + (1 - alpha) * ema;
    return { step: p.step, loss: ema, series: 'train (EMA)' };
  });
  return [...points, ...smooth];
}

/**
 * Options of {@link heatmapSpec}: `matrix[r][c]` is the weight of query (row) r on key (column) c.
 *
 * @example
 * ```ts
 * const o: HeatmapOptions = { title: 'cross-attention', matrix: [[0.9, 0.1]], rows: ['mil'], cols: ['<de>', 'ein'] };
 * ```
 */
export interface HeatmapOptions {
  title: string;
  matrix: readonly (readonly number[])[];
  rows: readonly string[];
  cols: readonly string[];
  /** Axis titles (default 'query' and 'key'). */
  rowTitle?: string;
  colTitle?: string;
}

/**
 * The display labels of tokens: position-prefixed (so repeated tokens stay distinct cells),
 * with newlines and spaces made visible.
 *
 * @example
 * ```ts
 * tokenLabels(['a', ' b', 'a']); // ['00 a', '01 ·b', '02 a']
 * ```
 */
export function tokenLabels(tokens: readonly string[]): string[] {
  return tokens.map((t, i) => `${String(i).padStart(2, '0')} ${t.replace(/\n/g, '\\n').replace(/ /g, '·')}`);
}

/**
 * An attention heatmap (viridis, weights in [0, 1]).
 *
 * @example
 * ```ts
 * const svg = await renderSvg(heatmapSpec({ title: 'cross-attention', matrix: [[0.9, 0.1]], rows: ['mil'], cols: ['<de>', 'ein'] }));
 * ```
 */
export function heatmapSpec({ title, matrix, rows, cols, rowTitle = 'query', colTitle = 'key' }: HeatmapOptions): TopLevelSpec {
  const rowLabels = tokenLabels(rows);
  const colLabels = tokenLabels(cols);
  const values: { row: string; col: string; weight: number }[] = [];
  matrix.forEach((row, r) => row.forEach((w, c) => values.push({ row: rowLabels[r], col: colLabels[c], weight: w })));
  const cell = Math.max(14, Math.min(36, Math.floor(640 / Math.max(rows.length, cols.length, 1))));
  return {
    title, data: { values },
    width: cell * cols.length, height: cell * rows.length,
    mark: 'rect',
    encoding: {
      x: { field: 'col', type: 'ordinal', sort: colLabels, title: colTitle, axis: { labelAngle: -60 } },
      y: { field: 'row', type: 'ordinal', sort: rowLabels, title: rowTitle },
      color: { field: 'weight', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1] }, title: 'weight' },
    },
    config: { axis: { labelFontSize: 10, labelLimit: 160 } },
  };
}

/**
 * {@link lossCurveSpec} rendered to SVG.
 *
 * @example
 * ```ts
 * const svg = await lossCurveSvg({ title: 'translate-numbers', points: history });
 * ```
 */
export async function lossCurveSvg(o: LossCurveOptions): Promise<string> {
  return renderSvg(lossCurveSpec(o));
}

/**
 * {@link heatmapSpec} rendered to SVG.
 *
 * @example
 * ```ts
 * const svg = await heatmapSvg({ title: 'self-attention', matrix, rows: labels, cols: labels });
 * ```
 */
export async function heatmapSvg(o: HeatmapOptions): Promise<string> {
  return renderSvg(heatmapSpec(o));
}
