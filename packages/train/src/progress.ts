// SPDX-License-Identifier: MIT
// Training progress, platform-free: a meter that turns step reports into fraction done,
// tokens/s and ETA, the reporter interface the training loop talks to, and a reporter that
// prints plain lines (CI logs, a browser console, a <pre>). The terminal bar lives in
// `@heed/train/node`; a page draws its own bar from the same meter snapshots.
// Invariants: tokens/s is measured over the steps of THIS run (steps before `start`, e.g.
// resumed ones, are excluded); time paused between `pause()` and `resume()` is not counted.

/**
 * One reading of a {@link ProgressMeter}.
 *
 * @example
 * ```ts
 * const s: ProgressSnapshot = meter.update(10, { loss: 2.1, tokens: 4096 });
 * `${Math.round(100 * s.fraction)}% ${Math.round(s.tokensPerSecond)} tok/s`;
 * ```
 */
export interface ProgressSnapshot {
  /** The last finished step. */
  readonly step: number;
  /** The step the run started after (0, or the step it resumed from). */
  readonly start: number;
  /** The last step of the run. */
  readonly total: number;
  /** `step / total`, in [0, 1]. */
  readonly fraction: number;
  /** The last reported loss (NaN before the first step). */
  readonly loss: number;
  /** Tokens processed in this run. */
  readonly tokens: number;
  /** Seconds of this run (pauses excluded). */
  readonly seconds: number;
  /** `tokens / seconds` (0 before any time passed). */
  readonly tokensPerSecond: number;
  /** Estimated seconds to `total` at this run's pace (NaN before the first step). */
  readonly etaSeconds: number;
}

/**
 * What one finished step reports.
 *
 * @example
 * ```ts
 * const info: StepInfo = { loss: 2.31, tokens: 4096 };
 * ```
 */
export interface StepInfo {
  /** The step's training loss. */
  readonly loss: number;
  /** Tokens the step processed (source + target ids, say); default 0. */
  readonly tokens?: number;
}

/**
 * Measures a run of steps `start + 1 .. total`: fraction, tokens/s, ETA.
 *
 * @example
 * ```ts
 * const meter = new ProgressMeter({ total: 100 });
 * const s = meter.update(1, { loss: 2.3, tokens: 512 });
 * s.tokensPerSecond;
 * ```
 */
export class ProgressMeter {
  /** The last step of the run. */
  readonly total: number;
  /** The step the run started after (0, or the resumed step). */
  readonly start: number;
  private readonly now: () => number;
  private t0: number;
  private pausedAt: number | null = null;
  private last: ProgressSnapshot;

  constructor(o: { total: number; start?: number; now?: () => number }) {
    this.total = o.total;
    this.start = o.start ?? 0;
    this.now = o.now ?? (() => performance.now());
    this.t0 = this.now();
    this.last = this.snapshot(this.start, NaN, 0);
  }

  /**
   * Records that `step` finished; returns the new reading.
   *
   * @example
   * ```ts
   * meter.update(5, { loss: 1.9, tokens: 1024 }).etaSeconds;
   * ```
   */
  update(step: number, info: StepInfo): ProgressSnapshot {
    this.last = this.snapshot(step, info.loss, this.last.tokens + (info.tokens ?? 0));
    return this.last;
  }

  /**
   * The latest reading (with the clock read now).
   *
   * @example
   * ```ts
   * meter.current.seconds;
   * ```
   */
  get current(): ProgressSnapshot {
    return this.snapshot(this.last.step, this.last.loss, this.last.tokens);
  }

  /**
   * Stops the clock (e.g. the user paused training).
   *
   * @example
   * ```ts
   * meter.pause(); // ... later
   * meter.resume();
   * ```
   */
  pause(): void {
    if (this.pausedAt === null) this.pausedAt = this.now();
  }

  /**
   * Restarts the clock after {@link ProgressMeter.pause}.
   *
   * @example
   * ```ts
   * meter.resume();
   * ```
   */
  resume(): void {
    if (this.pausedAt === null) return;
    this.t0 += this.now() - this.pausedAt;
    this.pausedAt = null;
  }

  private snapshot(step: number, loss: number, tokens: number): ProgressSnapshot {
    const seconds = Math.max(0, ((this.pausedAt ?? this.now()) - this.t0) / 1000);
    const done = step - this.start;
    const span = this.total - this.start;
    return {
      step, start: this.start, total: this.total, loss, tokens, seconds,
      fraction: this.total > 0 ? Math.min(1, Math.max(0, step / this.total)) : 1,
      tokensPerSecond: seconds > 0 ? tokens / seconds : 0,
      etaSeconds: done > 0 ? (seconds / done) * Math.max(0, span - done) : NaN,
    };
  }
}

/**
 * What the training loop reports to: a terminal bar, log lines, a page's widgets.
 *
 * @example
 * ```ts
 * const reporter: ProgressReporter = {
 *   update: (s) => { bar.style.width = `${100 * s.fraction}%`; },
 *   log: (line) => console.log(line),
 *   stop: () => undefined,
 * };
 * ```
 */
export interface ProgressReporter {
  /** A step finished (`snapshot` from the loop's meter). */
  update(snapshot: ProgressSnapshot): void;
  /** A message (e.g. a validation result) that must not garble the progress display. */
  log(line: string): void;
  /** The run ended (normally or not). */
  stop(): void;
}

/**
 * A reporter that writes plain lines: every ~10% of the run (and at the last step), plus
 * every {@link ProgressReporter.log} message; nothing with `quiet`.
 *
 * @example
 * ```ts
 * const reporter = lineProgress({ label: 'translate', write: (l) => console.log(l) });
 * ```
 */
export function lineProgress(o: { label?: string; write: (line: string) => void; quiet?: boolean; every?: number }): ProgressReporter {
  const label = o.label ?? 'train';
  let lastLogged: number | null = null;
  return {
    update(s) {
      if (o.quiet) return;
      lastLogged ??= s.start;
      const every = o.every ?? Math.max(1, Math.round((s.total - s.start) / 10));
      if (s.step - lastLogged >= every || s.step === s.total) {
        lastLogged = s.step;
        o.write(formatProgress(label, s));
      }
    },
    log(line) {
      if (!o.quiet) o.write(line);
    },
    stop() {},
  };
}

/**
 * The one-line text form of a reading: `label step 40/600  loss 1.2345  12345 tok/s  3.2s`.
 *
 * @example
 * ```ts
 * formatProgress('translate', meter.current);
 * ```
 */
export function formatProgress(label: string, s: ProgressSnapshot): string {
  return `${label} step ${s.step}/${s.total}  loss ${s.loss.toFixed(4)}  ${Math.round(s.tokensPerSecond)} tok/s  ${s.seconds.toFixed(1)}s`;
}
