// SPDX-License-Identifier: MIT
// The terminal form of training progress: a `cli-progress` bar on a TTY (one line, redrawn:
// step, loss, tokens/s, elapsed, ETA), plain lines every ~10% when the stream is not a TTY
// (CI logs, tests; the universal lineProgress), and nothing with `quiet`.
// Invariant: `stop()` always leaves the cursor on a fresh line; `log()` never garbles the bar.
import cliProgress from 'cli-progress';
import { lineProgress, type ProgressReporter } from '../progress.js';

/**
 * The stream a terminal progress bar draws on (process.stderr, process.stdout).
 *
 * @example
 * ```ts
 * const s: TerminalStream = process.stdout;
 * ```
 */
export interface TerminalStream {
  /** True on an interactive terminal. */
  readonly isTTY?: boolean;
  write(chunk: string): unknown;
}

/**
 * Options of {@link terminalProgress}.
 *
 * @example
 * ```ts
 * const o: TerminalProgressOptions = { total: 600, label: 'translate', quiet: false };
 * ```
 */
export interface TerminalProgressOptions {
  /** The last step (the bar's length). */
  total: number;
  /** The step the run starts after (default 0). */
  start?: number;
  /** Shown before the bar (default 'train'). */
  label?: string;
  /** Print nothing. */
  quiet?: boolean;
  /** Where to draw (default process.stderr). */
  stream?: TerminalStream;
}

/**
 * A progress reporter for a terminal: a redrawn bar on a TTY, plain lines otherwise.
 *
 * @example
 * ```ts
 * await trainLoop({ ...options, progress: terminalProgress({ total: 600, label: 'translate' }) });
 * ```
 */
export function terminalProgress(o: TerminalProgressOptions): ProgressReporter {
  const stream = o.stream ?? process.stderr;
  const label = o.label ?? 'train';
  if (!stream.isTTY || o.quiet) return lineProgress({ label, quiet: o.quiet, write: (line) => stream.write(`${line}\n`) });
  // A MultiBar with one bar: its log() prints lines above the bar without garbling it.
  const multibar = new cliProgress.MultiBar({
    format: `${label} {bar} {value}/{total} | loss {loss} | {tps} tok/s | {elapsed}s elapsed | eta {eta_formatted}`,
    barsize: 24, hideCursor: true, stream: stream as NodeJS.WritableStream, etaBuffer: 50, fps: 5, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  const bar = multibar.create(o.total, o.start ?? 0, { loss: '-', tps: '-', elapsed: '0' });
  return {
    update(s) {
      bar.update(s.step, { loss: s.loss.toFixed(4), tps: String(Math.round(s.tokensPerSecond)), elapsed: s.seconds.toFixed(0) });
    },
    log(line) {
      multibar.log(`${line}\n`);
    },
    stop() {
      multibar.stop();
    },
  };
}
