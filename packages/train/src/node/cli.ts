// SPDX-License-Identifier: MIT
// The command line of a training script (commander): backend and CPU path, steps, quick check mode, batch
// size, learning rate, seed, output folder, resume, stop-at, checkpoint/eval cadence, quiet,
// force, and (scripts with `compiledSteps`) `--compile` / `--no-compile`. Each script adds its
// own options and passes its defaults (normal, `--quick`, and
// optional named presets such as `--large`); helpers turn failures into `error: ...` + exit 2.
// Invariants: an option the user typed always wins; otherwise `--quick` defaults beat preset
// values, which beat the normal defaults; `--help` lists every option with its default; unless
// `--out` is typed, a quick or preset run writes to its own folder (`<outDir>-quick`,
// `<outDir>-large`, `<outDir>-large-quick`), never over the normal run's folder.
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKENDS, useBackend, type BackendName } from '../backend.js';
import { CPU_PATHS, cpuPathLoaders, type CpuPath } from './cpu-path.js';
import { guardOutput } from './files.js';

/**
 * Parses a positive integer option (commander argument parser).
 *
 * @example
 * ```ts
 * program.option('--layers <n>', 'layers', parsePositiveInt);
 * ```
 */
export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer.');
  return n;
}

/**
 * Parses a non-negative integer option.
 *
 * @example
 * ```ts
 * program.option('--seed <n>', 'seed', parseNonNegativeInt, 0);
 * ```
 */
export function parseNonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a non-negative integer.');
  return n;
}

/**
 * Parses a positive finite number option.
 *
 * @example
 * ```ts
 * program.option('--lr <x>', 'learning rate', parsePositiveFloat);
 * ```
 */
export function parsePositiveFloat(v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number.');
  return n;
}

/**
 * The resolved options of a training script (camelCase), its own options included.
 *
 * @example
 * ```ts
 * const opts: TrainingArgs = parseTrainingArgs({ ... });
 * opts.quick; opts.out; opts.explicit.has('steps');
 * ```
 */
export interface TrainingArgs {
  backend: BackendName;
  /** The CPU path (`--cpu`): native kernels when they load ('auto', the default), or forced. */
  cpu: CpuPath;
  steps: number;
  quick: boolean;
  batchSize: number;
  lr: number;
  seed: number;
  /** The output folder (`--out`, else `<outDir>`, or `<outDir>-<preset>[-quick]` for preset and quick runs). */
  out: string;
  resume: boolean;
  stopAt?: number;
  checkpointEvery: number;
  evalEvery: number;
  quiet: boolean;
  /** Overwrite a model trained for more steps (see {@link guardRunOutput}). */
  force: boolean;
  /** Compiled training steps (`--compile`, the default of scripts with `compiledSteps: true`; `--no-compile` turns them off). */
  compile?: boolean;
  /** The options the user typed. */
  explicit: ReadonlySet<string>;
  /** The script's own options. */
  [option: string]: unknown;
}

/**
 * A named set of option values (`--large`).
 *
 * @example
 * ```ts
 * const large: TrainingPreset = { description: 'numbers 0..9999', values: { maxNumber: 10000, steps: 1000 } };
 * ```
 */
export interface TrainingPreset {
  description: string;
  values: Record<string, unknown>;
}

/**
 * Options of {@link parseTrainingArgs}: `defaults` and `quickDefaults` map option names
 * (camelCase) to values; `extra(program)` adds the script's own options.
 *
 * @example
 * ```ts
 * const o: TrainingArgsOptions = { name: 'char-lm', description: '...', outDir: 'out/char-lm', defaults: { steps: 600 }, quickDefaults: { steps: 20 } };
 * ```
 */
export interface TrainingArgsOptions {
  name: string;
  description: string;
  /** The default output folder of a normal run; preset and quick runs default to `<outDir>-<preset>[-quick]`. */
  outDir: string;
  defaults: Record<string, unknown>;
  quickDefaults: Record<string, unknown>;
  presets?: Record<string, TrainingPreset>;
  extra?: (program: Command) => void;
  /** The script can run compiled training steps: adds `--compile` (on by default; off with `'opt-in'`) and `--no-compile` (see `chooseStepMode`). */
  compiledSteps?: boolean | 'opt-in';
  /** Default process.argv. */
  argv?: readonly string[];
}

/**
 * Builds the script's command line with the common options and parses `argv`.
 *
 * @example
 * ```ts
 * const opts = parseTrainingArgs({
 *   name: 'char-lm', description: 'Train a small GPT', outDir: fileURLToPath(new URL('../out/char-lm/', import.meta.url)),
 *   defaults: { steps: 600, batchSize: 32, lr: 6e-3, checkpointEvery: 200, evalEvery: 100 }, quickDefaults: { steps: 20 },
 * });
 * ```
 */
export function parseTrainingArgs(o: TrainingArgsOptions): TrainingArgs {
  const { defaults, quickDefaults, presets = {} } = o;
  const base = o.outDir.replace(/[\\/]+$/, '');
  const program = new Command(o.name)
    .description(o.description)
    .addOption(new Option('--backend <name>', 'compute backend').choices(BACKENDS).default('cpu'))
    .addOption(new Option('--cpu <path>', 'CPU kernels: native (OpenBLAS, @heed/backend-native), wasm, or auto (native where it loads)').choices(CPU_PATHS).default('auto'))
    .option('--steps <n>', `training steps (quick: ${String(quickDefaults.steps)})`, parsePositiveInt, defaults.steps as number)
    .option('--quick', 'a tiny check run that finishes in well under a minute (its own default --out)', false)
    .option('--batch-size <n>', `examples per step (quick: ${String(quickDefaults.batchSize ?? defaults.batchSize)})`, parsePositiveInt, defaults.batchSize as number)
    .option('--lr <x>', 'peak learning rate (AdamW, warmup + cosine decay)', parsePositiveFloat, defaults.lr as number)
    .option('--seed <n>', 'seed of the data split, init, dropout and sampling', parseNonNegativeInt, 0)
    .option('--out <dir>', `output folder (images, checkpoint, model, summary.json) (default: "${o.outDir}"; --quick: "${base}-quick"` +
      `${Object.keys(presets).map((p) => `; --${p}: "${base}-${p}"`).join('')})`)
    .option('--force', 'overwrite a model in --out even if it was trained for more steps than this run', false)
    .option('--resume', 'continue from <out>/checkpoint.safetensors: model, optimizer, schedule, step and data order', false)
    .option('--stop-at <step>', 'stop after this step (checkpoint saved) as if interrupted; --resume continues to --steps', parsePositiveInt)
    .option('--checkpoint-every <n>', 'steps between checkpoints (and at the end)', parsePositiveInt, defaults.checkpointEvery as number)
    .option('--eval-every <n>', 'steps between validation evaluations', parsePositiveInt, defaults.evalEvery as number)
    .option('--quiet', 'no progress bar or per-step output', false);
  if (o.compiledSteps) {
    const optIn = o.compiledSteps === 'opt-in';
    program
      .option('--compile', 'run each training step as one compiled, replayed function (compile() in @heed/core; ' +
        `${optIn ? 'off by default in this script: no clear speed-up measured' : 'the default'}; ` +
        'steps stay eager, with the reason printed, where the script cannot compile them, e.g. on several ranks)', !optIn)
      .option('--no-compile', 'run eager training steps (op by op, as written)');
  }
  for (const [preset, { description: text, values }] of Object.entries(presets)) {
    const list = Object.entries(values).map(([k, v]) => `${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${String(v)}`).join(', ');
    program.option(`--${preset}`, `${text} (${list})`, false);
  }
  o.extra?.(program);
  // Show the script's defaults in --help for its own options too (values are filled in below).
  for (const option of program.options) {
    const key = option.attributeName();
    if (option.defaultValue === undefined && defaults[key] !== undefined) option.default(defaults[key]);
  }
  program.showHelpAfterError();
  program.parse(o.argv ? [...o.argv] : process.argv);
  const opts: Record<string, unknown> = program.opts();
  const typed = (key: string) => program.getOptionValueSource(key) === 'cli';
  for (const [preset, { values }] of Object.entries(presets)) {
    if (!opts[preset]) continue;
    for (const [key, value] of Object.entries(values)) if (!typed(key)) opts[key] = value;
  }
  if (opts.quick) {
    for (const [key, value] of Object.entries(quickDefaults)) if (!typed(key)) opts[key] = value;
  }
  for (const [key, value] of Object.entries(defaults)) if (opts[key] === undefined) opts[key] = value;
  const suffix = [...Object.keys(presets).filter((p) => opts[p]), ...(opts.quick ? ['quick'] : [])];
  opts.out ??= suffix.length > 0 ? `${base}-${suffix.join('-')}` : o.outDir;
  opts.explicit = new Set(Object.keys(opts).filter(typed));
  return opts as TrainingArgs;
}

/**
 * The last step of this run: `--steps` when typed (or in quick mode), else the schedule length
 * stored in the settings (so `--resume` finishes the original run), capped by `--stop-at`.
 *
 * @example
 * ```ts
 * const endStep = resolveEndStep(opts, settings);
 * ```
 */
export function resolveEndStep(opts: Pick<TrainingArgs, 'explicit' | 'quick' | 'steps' | 'stopAt'>, settings: { totalSteps: number }): number {
  const target = opts.explicit.has('steps') || opts.quick ? opts.steps : settings.totalSteps;
  return opts.stopAt ? Math.min(opts.stopAt, target) : target;
}

function fail(message: string): never {
  console.error(`error: ${message}`);
  process.exit(2);
}

/**
 * Activates `--backend` (see `useBackend`; for 'cpu', the `--cpu` path, and prints which one
 * runs unless `quiet`); on failure prints the reason and exits with status 2 instead of a
 * stack trace.
 *
 * @example
 * ```ts
 * const backend = await selectBackend(opts.backend, opts); // logs 'CPU path: native, OpenBLAS ...'
 * ```
 */
export async function selectBackend(name: BackendName, options: { cpu?: CpuPath; quiet?: boolean } = {}): Promise<BackendName> {
  const { loaders, described } = cpuPathLoaders(options.cpu ?? 'auto');
  try {
    const active = await useBackend(name, { loaders });
    if (active === 'cpu' && !options.quiet) console.log(`CPU path: ${described()}`);
    return active;
  } catch (e) {
    return fail(`--backend ${name}${name === 'cpu' ? ` --cpu ${options.cpu ?? 'auto'}` : ''}: ${(e instanceof Error ? e.message : String(e)).replace(/^useBackend: /, '')}`);
  }
}

/**
 * Before training: refuses to overwrite a model in `opts.out` trained for more than `endStep`
 * steps unless `--force` (see `guardOutput`); prints why and exits with status 2.
 *
 * @example
 * ```ts
 * await guardRunOutput(opts, endStep);
 * ```
 */
export async function guardRunOutput(opts: Pick<TrainingArgs, 'out' | 'force'>, endStep: number): Promise<void> {
  try {
    await guardOutput({ out: opts.out, steps: endStep, force: opts.force });
  } catch (e) {
    fail((e instanceof Error ? e.message : String(e)).replace(/^guardOutput: /, ''));
  }
}
