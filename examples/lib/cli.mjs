// SPDX-License-Identifier: MIT
// The command line shared by the examples (commander): backend, steps, quick CI mode, batch
// size, learning rate, seed, output directory, resume, checkpoint/eval cadence, quiet. Each
// example adds its own options and passes its defaults (normal, `--quick`, and optional
// named presets such as `--large`).
// Invariants: an option the user typed always wins; otherwise `--quick` defaults beat preset
// values, which beat the normal defaults; `--help` lists every option with its default.
import { Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { BACKENDS } from './backend.mjs';

/** @param {string} v */
export function parsePositiveInt(v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

/** @param {string} v */
export function parseNonNegativeInt(v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

/** @param {string} v */
export function parsePositiveFloat(v) {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

/**
 * Builds the example's program with the common options. `defaults` and `quickDefaults` map
 * option names (camelCase) to values; `extra(program)` adds example-specific options.
 *
 * @example
 * const opts = parseArgs({ name: 'char-lm', description: '...', defaults: { steps: 1500 }, quickDefaults: { steps: 20 }, scriptUrl: import.meta.url });
 * @param {{ name: string, description: string, defaults: Record<string, unknown>, quickDefaults: Record<string, unknown>,
 *   presets?: Record<string, { description: string, values: Record<string, unknown> }>,
 *   scriptUrl: string, extra?: (p: Command) => void, argv?: string[] }} o
 * @returns {Record<string, any>} the resolved options (camelCase), with `quick` and `out` set
 */
export function parseArgs({ name, description, defaults, quickDefaults, presets = {}, scriptUrl, extra, argv = process.argv }) {
  const program = new Command(name)
    .description(description)
    .addOption(new Option('--backend <name>', 'compute backend').choices(BACKENDS).default('cpu'))
    .option('--steps <n>', `training steps (quick: ${quickDefaults.steps})`, parsePositiveInt, defaults.steps)
    .option('--quick', 'CI mode: a tiny run that finishes in well under a minute', false)
    .option('--batch-size <n>', `examples per step (quick: ${quickDefaults.batchSize ?? defaults.batchSize})`, parsePositiveInt, defaults.batchSize)
    .option('--lr <x>', 'peak learning rate (AdamW, warmup + cosine decay)', parsePositiveFloat, defaults.lr)
    .option('--seed <n>', 'seed of the data split, init, dropout and sampling', parseNonNegativeInt, 0)
    .option('--out <dir>', 'output directory (images, checkpoint, model, summary.json)', fileURLToPath(new URL(`../out/${name}/`, scriptUrl)))
    .option('--resume', 'continue from <out>/checkpoint.safetensors: model, optimizer, schedule, step and data order', false)
    .option('--stop-at <step>', 'stop after this step (checkpoint saved) as if interrupted; --resume continues to --steps', parsePositiveInt)
    .option('--checkpoint-every <n>', 'steps between checkpoints (and at the end)', parsePositiveInt, defaults.checkpointEvery)
    .option('--eval-every <n>', 'steps between validation evaluations', parsePositiveInt, defaults.evalEvery)
    .option('--quiet', 'no progress bar or per-step output', false);
  for (const [preset, { description: text, values }] of Object.entries(presets)) {
    const list = Object.entries(values).map(([k, v]) => `${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${v}`).join(', ');
    program.option(`--${preset}`, `${text} (${list})`, false);
  }
  extra?.(program);
  // Show the example's defaults in --help for its own options too (values are filled in below).
  for (const option of program.options) {
    const key = option.attributeName();
    if (option.defaultValue === undefined && defaults[key] !== undefined) option.default(defaults[key]);
  }
  program.showHelpAfterError();
  program.parse(argv);
  const opts = program.opts();
  for (const [preset, { values }] of Object.entries(presets)) {
    if (!opts[preset]) continue;
    for (const [key, value] of Object.entries(values)) {
      if (program.getOptionValueSource(key) !== 'cli') opts[key] = value;
    }
  }
  if (opts.quick) {
    for (const [key, value] of Object.entries(quickDefaults)) {
      if (program.getOptionValueSource(key) !== 'cli') opts[key] = value;
    }
  }
  for (const [key, value] of Object.entries(defaults)) {
    if (opts[key] === undefined) opts[key] = value;
  }
  opts.explicit = new Set(Object.keys(opts).filter((k) => program.getOptionValueSource(k) === 'cli'));
  return opts;
}

/**
 * The last step of this run: `--steps` when typed (or in quick mode), else the schedule length
 * stored in the settings (so `--resume` finishes the original run), capped by `--stop-at`.
 *
 * @example
 * const endStep = resolveEndStep(opts, settings);
 * @param {Record<string, any>} opts @param {{ totalSteps: number }} settings
 */
export function resolveEndStep(opts, settings) {
  const target = opts.explicit.has('steps') || opts.quick ? opts.steps : settings.totalSteps;
  return opts.stopAt ? Math.min(opts.stopAt, target) : target;
}
