// SPDX-License-Identifier: MIT
// The training progress bar shared by the examples: `cli-progress` on a terminal (one line,
// redrawn: step, loss, tokens/s, ETA), plain log lines every ~10% when stdout is not a TTY
// (CI logs, tests), and nothing with `quiet`.
// Invariants: tokens/s is measured over the steps of THIS process (resumed steps excluded);
// `stop()` always leaves the cursor on a fresh line.
import cliProgress from 'cli-progress';

/**
 * Creates a progress reporter for steps `start+1 .. total`.
 *
 * @example
 * const bar = createProgress({ total: 1000, start: 0, label: 'translate' });
 * bar.update(1, { loss: 2.31, tokens: 4096 });
 * bar.stop();
 * @param {{ total: number, start?: number, label?: string, quiet?: boolean, stream?: NodeJS.WriteStream }} o
 */
export function createProgress({ total, start = 0, label = 'train', quiet = false, stream = process.stderr }) {
  const t0 = performance.now();
  let tokens = 0;
  let lastLogged = start;
  const tty = Boolean(stream.isTTY) && !quiet;
  // A MultiBar with one bar: its log() prints lines above the bar without garbling it.
  const multibar = tty
    ? new cliProgress.MultiBar({
      format: `${label} {bar} {value}/{total} | loss {loss} | {tps} tok/s | {elapsed}s elapsed | eta {eta_formatted}`,
      barsize: 24, hideCursor: true, stream, etaBuffer: 50, fps: 5, clearOnComplete: false,
    }, cliProgress.Presets.shades_classic)
    : null;
  const bar = multibar ? multibar.create(total, start, { loss: '-', tps: '-', elapsed: '0' }) : null;
  const every = Math.max(1, Math.round((total - start) / 10));
  return {
    /**
     * Reports that `step` finished with `loss` after processing `tokens` more tokens.
     * @param {number} step @param {{ loss: number, tokens?: number }} info
     */
    update(step, { loss, tokens: n = 0 }) {
      tokens += n;
      const seconds = (performance.now() - t0) / 1000;
      const tps = seconds > 0 ? Math.round(tokens / seconds) : 0;
      if (bar) {
        bar.update(step, { loss: loss.toFixed(4), tps: String(tps), elapsed: seconds.toFixed(0) });
      } else if (!quiet && (step - lastLogged >= every || step === total)) {
        lastLogged = step;
        stream.write(`${label} step ${step}/${total}  loss ${loss.toFixed(4)}  ${tps} tok/s  ${seconds.toFixed(1)}s\n`);
      }
    },
    /** Prints a message without breaking the bar. @param {string} line */
    log(line) {
      if (quiet) return;
      if (multibar) {
        multibar.log(`${line}\n`);
      } else {
        stream.write(`${line}\n`);
      }
    },
    /** Seconds since creation. */
    get seconds() {
      return (performance.now() - t0) / 1000;
    },
    /** Tokens per second so far. */
    get tokensPerSecond() {
      const s = (performance.now() - t0) / 1000;
      return s > 0 ? tokens / s : 0;
    },
    /** Finishes the bar. */
    stop() {
      multibar?.stop();
    },
  };
}
