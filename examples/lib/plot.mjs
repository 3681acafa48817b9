// SPDX-License-Identifier: MIT
// Figures of the examples, drawn with Vega-Lite (compiled to Vega, rendered headless to SVG
// by vega's own SVG renderer; no browser or canvas needed): a loss curve with one line per
// series (plus a moving average of a noisy training curve), and an attention heatmap with
// labelled rows and columns.
// Invariants: output is a standalone SVG file; heatmap cells keep the row/column order given
// (duplicate token labels are disambiguated by their position).
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as vega from 'vega';
import { compile } from 'vega-lite';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * Renders a Vega-Lite spec to an SVG string.
 *
 * @example
 * const svg = await renderSvg({ mark: 'point', data: { values: [{ x: 1, y: 2 }] }, encoding: { x: { field: 'x' }, y: { field: 'y' } } });
 * @param {object} spec a Vega-Lite spec
 * @returns {Promise<string>}
 */
export async function renderSvg(spec) {
  const view = new vega.View(vega.parse(compile({ $schema: SCHEMA, ...spec }).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * Writes an SVG string to `path`, creating the directory.
 *
 * @example
 * await writeSvg('examples/out/x/loss.svg', svg);
 * @param {string} path @param {string} svg
 */
export async function writeSvg(path, svg) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, svg);
}

/**
 * A loss-curve figure: one line per series (e.g. train and validation), log-scaled y.
 *
 * @example
 * await writeSvg(path, await lossCurveSvg({ title: 'loss', points: [{ step: 1, loss: 2.3, series: 'train' }] }));
 * @param {{ title: string, points: { step: number, loss: number, series: string }[], yTitle?: string, logScale?: boolean }} o
 */
export async function lossCurveSvg({ title, points, yTitle = 'loss', logScale = true }) {
  const values = withSmoothedTrain(points).filter((p) => Number.isFinite(p.loss) && (!logScale || p.loss > 0));
  return renderSvg({
    title, width: 520, height: 300, data: { values },
    mark: { type: 'line', point: values.length < 60, strokeWidth: 1.6 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'loss', type: 'quantitative', title: yTitle, scale: logScale ? { type: 'log' } : { zero: false } },
      color: { field: 'series', type: 'nominal', title: null },
    },
  });
}

/**
 * Adds a `train (EMA)` series, an exponential moving average of the `train` points, when
 * there are enough of them for the raw curve to be noisy.
 *
 * @example
 * withSmoothedTrain([{ step: 1, loss: 2, series: 'train' }]); // unchanged (too few points)
 * @param {{ step: number, loss: number, series: string }[]} points
 */
export function withSmoothedTrain(points) {
  const train = points.filter((p) => p.series === 'train');
  if (train.length < 50) return points;
  const alpha = Math.min(0.5, 20 / train.length);
  let ema = train[0].loss;
  const smooth = train.map((p) => {
    ema = alpha * p.loss + (1 - alpha) * ema;
    return { step: p.step, loss: ema, series: 'train (EMA)' };
  });
  return [...points, ...smooth];
}

/**
 * An attention heatmap: `matrix[r][c]` = weight of query (row) r on key (column) c.
 *
 * @example
 * await writeSvg(path, await heatmapSvg({ title: 'cross-attention', matrix: [[0.9, 0.1]], rows: ['mil'], cols: ['<de>', 'ein'] }));
 * @param {{ title: string, matrix: number[][], rows: string[], cols: string[], rowTitle?: string, colTitle?: string }} o
 */
export async function heatmapSvg({ title, matrix, rows, cols, rowTitle = 'query', colTitle = 'key' }) {
  const label = (tokens) => tokens.map((t, i) => `${String(i).padStart(2, '0')} ${t.replace(/\n/g, '\\n').replace(/ /g, '·')}`);
  const rowLabels = label(rows);
  const colLabels = label(cols);
  const values = [];
  matrix.forEach((row, r) => row.forEach((w, c) => values.push({ row: rowLabels[r], col: colLabels[c], weight: w })));
  const cell = Math.max(14, Math.min(36, Math.floor(640 / Math.max(rows.length, cols.length))));
  return renderSvg({
    title, data: { values },
    width: cell * cols.length, height: cell * rows.length,
    mark: 'rect',
    encoding: {
      x: { field: 'col', type: 'ordinal', sort: colLabels, title: colTitle, axis: { labelAngle: -60 } },
      y: { field: 'row', type: 'ordinal', sort: rowLabels, title: rowTitle },
      color: { field: 'weight', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1] }, title: 'weight' },
    },
    config: { axis: { labelFontSize: 10, labelLimit: 160 } },
  });
}
