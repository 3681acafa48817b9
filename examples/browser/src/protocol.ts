// SPDX-License-Identifier: MIT
// The messages between the demo page (main.ts) and its training worker (worker.ts), as one
// discriminated union each way, plus the run settings the page's form edits.
// Invariant: every request the page sends gets exactly one reply or an `error` carrying its id.
import type { LossPoint, ProgressSnapshot } from '@heed/train';

/** Which backend the page asks for: 'auto' tries WebGPU, then the CPU. */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** The run settings the form edits (the translate-numbers settings; see ../../translate-numbers/task.mjs). */
export interface DemoSettings {
  totalSteps: number;
  batchSize: number;
  dModel: number;
  layers: number;
  lr: number;
  maxNumber: number;
  heldOut: number;
  vocabSize: number;
  seed: number;
  dropout: number;
  /** Held-out loss every this many steps. */
  evalEvery: number;
}

/** The cross-attention of the last decoder layer for one translation. */
export interface Heatmap {
  matrix: number[][];
  rows: string[];
  cols: string[];
}

/** Page -> worker. */
export type Request =
  | { type: 'init'; id: number; backend: BackendChoice; settings: DemoSettings }
  | { type: 'start'; id: number }
  | { type: 'pause'; id: number }
  | { type: 'translate'; id: number; from: string; to: string; text: string }
  | { type: 'download'; id: number }
  | { type: 'upload'; id: number; bytes: ArrayBuffer; name: string; settings: DemoSettings };

/** The worker's training state. */
export type RunState = 'empty' | 'ready' | 'training' | 'paused' | 'done';

/** Worker -> page. */
export type Reply =
  | { type: 'ready'; id: number; backend: string; backendDetail: string; parameters: number; vocabSize: number; settings: DemoSettings; step: number; history: LossPoint[] }
  | { type: 'state'; state: RunState; id?: number }
  | { type: 'progress'; snapshot: ProgressSnapshot; points: LossPoint[] }
  | { type: 'evaluated'; step: number; heldOutExactMatch: number; total: number }
  | { type: 'translation'; id: number; source: string; output: string; heatmap: Heatmap }
  | { type: 'model'; id: number; bytes: ArrayBuffer; name: string }
  | { type: 'log'; line: string }
  | { type: 'error'; id?: number; message: string };
