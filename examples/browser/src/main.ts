// SPDX-License-Identifier: MIT
// The demo page: the run form (backend, steps, batch, width, layers), start/pause, the
// progress bar with tokens/s, the live loss chart, the translation box with the attention
// heatmap of the current model, and download/upload of the model as safetensors. All
// training happens in worker.ts; charts are @heed/train's Vega-Lite specs rendered to SVG.
// URL parameters preset the form (`?steps=40&batch=16&dModel=32&layers=1&backend=cpu`), and
// `window.heedDemo` mirrors the page's state for tests and the console.
// Invariants: one request in flight per kind at most where it matters (translate); the chart
// is redrawn at most every 300 ms and never by two renders at once.
import { heatmapSpec, lossCurveSpec, renderSvg, type LossPoint, type ProgressSnapshot } from '@heed/train';
import { LANGUAGES } from '../../translate-numbers/data.mjs';
import { DEFAULT_SETTINGS } from '../../translate-numbers/task.mjs';
import type { BackendChoice, DemoSettings, Reply, Request, RunState } from './protocol.js';

/** What the page knows, mirrored on `window.heedDemo` (read by the end-to-end test). */
interface DemoView {
  state: RunState;
  backend: string;
  backendDetail: string;
  parameters: number;
  history: LossPoint[];
  snapshot: ProgressSnapshot | null;
  translation: { source: string; output: string; cells: number } | null;
  heldOutExactMatch: number | null;
  downloads: number;
  errors: string[];
  log: string[];
}

declare global {
  interface Window { heedDemo: DemoView }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const view: DemoView = {
  state: 'empty', backend: '', backendDetail: '', parameters: 0, history: [], snapshot: null, translation: null,
  heldOutExactMatch: null, downloads: 0, errors: [], log: [],
};
window.heedDemo = view;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
let nextId = 1;
/** A request without its id (Omit distributed over the union). */
type Unsent = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;
const send = (request: Unsent, transfer: Transferable[] = []) => {
  const id = nextId++;
  worker.postMessage({ ...request, id } as Request, transfer);
  return id;
};

function log(line: string): void {
  view.log.push(line);
  const pre = $<HTMLPreElement>('log');
  pre.textContent = view.log.slice(-30).join('\n');
  pre.scrollTop = pre.scrollHeight;
}

// ---- the form ----
const params = new URLSearchParams(location.search);
const inputs = {
  backend: $<HTMLSelectElement>('backend'), steps: $<HTMLInputElement>('steps'), batch: $<HTMLInputElement>('batch'),
  dModel: $<HTMLSelectElement>('dmodel'), layers: $<HTMLSelectElement>('layers'),
};
for (const [key, el] of Object.entries(inputs)) {
  const v = params.get(key);
  if (v === null) continue;
  if (el instanceof HTMLSelectElement && ![...el.options].some((o) => o.value === v)) el.add(new Option(v, v));
  el.value = v;
}

function settingsFromForm(): DemoSettings {
  const int = (el: HTMLInputElement | HTMLSelectElement, min: number, max: number, fallback: number) => {
    const n = Math.round(Number(el.value));
    return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
  };
  const totalSteps = int(inputs.steps, 1, 100_000, DEFAULT_SETTINGS.totalSteps);
  return {
    ...DEFAULT_SETTINGS,
    totalSteps,
    batchSize: int(inputs.batch, 1, 1024, DEFAULT_SETTINGS.batchSize),
    dModel: int(inputs.dModel, 8, 512, DEFAULT_SETTINGS.dModel),
    layers: int(inputs.layers, 1, 6, DEFAULT_SETTINGS.layers),
    evalEvery: Math.max(1, Math.round(totalSteps / 12)),
  };
}

// ---- charts ----
let chartBusy = false;
let chartDirty = false;
let lastChart = 0;
async function drawLoss(): Promise<void> {
  if (chartBusy) { chartDirty = true; return; }
  const wait = 300 - (performance.now() - lastChart);
  if (wait > 0) { chartDirty = true; setTimeout(() => { if (chartDirty) { chartDirty = false; void drawLoss(); } }, wait); return; }
  chartBusy = true;
  try {
    const points = view.history;
    const svg = points.length === 0 ? '' : await renderSvg(lossCurveSpec({ title: 'token cross-entropy', points, width: 560, height: 240 }));
    $('loss-chart').innerHTML = svg;
  } finally {
    chartBusy = false;
    lastChart = performance.now();
    if (chartDirty) { chartDirty = false; void drawLoss(); }
  }
}

// ---- progress ----
const fmtSeconds = (s: number) => (!Number.isFinite(s) ? '–' : s < 90 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
function showProgress(s: ProgressSnapshot): void {
  view.snapshot = s;
  $('bar-fill').style.width = `${(100 * s.fraction).toFixed(1)}%`;
  $('progress-text').textContent = `step ${s.step}/${s.total} · loss ${s.loss.toFixed(3)} · ` +
    `${Math.round(s.tokensPerSecond).toLocaleString('en')} tokens/s · ${fmtSeconds(s.seconds)} elapsed · eta ${fmtSeconds(s.etaSeconds)}`;
}

// ---- translation ----
const fromSel = $<HTMLSelectElement>('from');
const toSel = $<HTMLSelectElement>('to');
for (const [code, lang] of Object.entries(LANGUAGES as Record<string, { name: string }>)) {
  fromSel.add(new Option(lang.name, code));
  toSel.add(new Option(lang.name, code));
}
fromSel.value = params.get('from') ?? 'de';
toSel.value = params.get('to') ?? 'es';
let translating = false;
let lastTranslate = 0;
function translate(): void {
  if (translating || view.state === 'empty') return;
  const text = $<HTMLInputElement>('sentence').value;
  if (!text.trim()) return;
  translating = true;
  lastTranslate = performance.now();
  send({ type: 'translate', from: fromSel.value, to: toSel.value, text });
}
$('translate-button').addEventListener('click', translate);
$('sentence').addEventListener('keydown', (e) => { if (e.key === 'Enter') translate(); });

// ---- buttons ----
const startButton = $<HTMLButtonElement>('start');
function newModel(): void {
  view.history = [];
  view.snapshot = null;
  view.heldOutExactMatch = null;
  $('loss-chart').innerHTML = '';
  $('eval').textContent = '';
  $('bar-fill').style.width = '0';
  $('progress-text').textContent = 'building the tokenizer and the model…';
  setState('empty');
  send({ type: 'init', backend: inputs.backend.value as BackendChoice, settings: settingsFromForm() });
}
$('reset').addEventListener('click', newModel);
startButton.addEventListener('click', () => send({ type: view.state === 'training' ? 'pause' : 'start' }));
$('download').addEventListener('click', () => send({ type: 'download' }));
$<HTMLInputElement>('upload').addEventListener('change', async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  const bytes = await file.arrayBuffer();
  setState('empty');
  send({ type: 'upload', bytes, name: file.name, settings: settingsFromForm() }, [bytes]);
  (e.target as HTMLInputElement).value = '';
});

function setState(state: RunState): void {
  view.state = state;
  document.body.dataset.state = state;
  startButton.disabled = state === 'empty' || state === 'done';
  startButton.textContent = state === 'training' ? 'Pause' : state === 'paused' ? 'Resume' : state === 'done' ? 'Done' : 'Start';
  for (const id of ['translate-button', 'download']) $<HTMLButtonElement>(id).disabled = state === 'empty';
}

// ---- replies ----
worker.onmessage = (event: MessageEvent<Reply>) => {
  const m = event.data;
  switch (m.type) {
    case 'ready':
      view.backend = m.backend;
      view.backendDetail = m.backendDetail;
      view.parameters = m.parameters;
      view.history = [...m.history];
      $('backend-label').textContent = `${m.backend} · ${m.backendDetail}`;
      $('model-label').textContent = `${m.parameters.toLocaleString('en')} parameters · BPE vocabulary ${m.vocabSize} · ` +
        `d=${m.settings.dModel}, ${m.settings.layers}+${m.settings.layers} layers · ${m.settings.totalSteps} steps × ${m.settings.batchSize}`;
      $('progress-text').textContent = `step ${m.step}/${m.settings.totalSteps} · press Start`;
      log(`ready on ${m.backend} (${m.backendDetail})`);
      void drawLoss();
      translate();
      break;
    case 'state':
      setState(m.state);
      if (m.state === 'paused' || m.state === 'done') translate();
      break;
    case 'progress':
      view.history.push(...m.points);
      showProgress(m.snapshot);
      void drawLoss();
      if (performance.now() - lastTranslate > 3000) translate();
      break;
    case 'evaluated':
      view.heldOutExactMatch = m.heldOutExactMatch;
      $('eval').textContent = `held-out exact match after ${m.step} steps: ${(100 * m.heldOutExactMatch).toFixed(1)}% of ${m.total} translations of numbers never seen in training`;
      log(`trained ${m.step} steps in ${fmtSeconds(view.snapshot?.seconds ?? NaN)}; held-out exact match ${(100 * m.heldOutExactMatch).toFixed(1)}%`);
      break;
    case 'translation': {
      translating = false;
      const cells = m.heatmap.matrix.reduce((n, row) => n + row.length, 0);
      view.translation = { source: m.source, output: m.output, cells };
      $('translation').textContent = m.output || '(nothing yet)';
      void renderSvg(heatmapSpec({
        title: `cross-attention, last decoder layer: ${m.output || '…'}`, ...m.heatmap,
        rowTitle: 'generated token', colTitle: 'source token',
      })).then((svg) => { $('heatmap').innerHTML = svg; });
      break;
    }
    case 'model': {
      const url = URL.createObjectURL(new Blob([m.bytes], { type: 'application/octet-stream' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = m.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      view.downloads++;
      log(`downloaded ${m.name} (${(m.bytes.byteLength / 1024).toFixed(0)} KiB)`);
      break;
    }
    case 'log':
      log(m.line);
      break;
    case 'error':
      translating = false;
      view.errors.push(m.message);
      log(`error: ${m.message}`);
      if (view.state === 'empty' && m.id !== undefined) $('progress-text').textContent = `error: ${m.message}`;
      break;
    default: {
      const never: never = m;
      log(`unknown reply ${JSON.stringify(never)}`);
    }
  }
};
worker.onerror = (e) => { view.errors.push(e.message); log(`worker error: ${e.message}`); };

setState('empty');
newModel();
