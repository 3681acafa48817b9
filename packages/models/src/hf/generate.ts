// SPDX-License-Identifier: MIT
// Text generation for the Hugging Face causal LMs (GPT2LMHeadModel, LlamaForCausalLM, any
// `CausalLM`) with HF generate()'s semantics and option names in camelCase: greedy or sampling
// (temperature / top-k / top-p / min-p from a seedable core Generator), repetition penalty,
// one or several eos tokens, min/max lengths, left-padded batches, kv-cache, streaming.
// Invariants: settings resolve as HF does (options > the model's generationConfig > HF's global
// defaults: max_length 20, top_k 50, ...); position ids come from the attention mask
// (cumsum - 1, 0 at padding) and grow by one per step; an all-ones mask is not passed (HF drops
// it); finished rows get the pad id; the prefix of every returned row is the input; each step
// frees its inputs, logits and the previous cache, so nothing leaks (also when a step throws
// or a stream is abandoned); the model runs in eval mode under noGrad.
import { HeedError, Tensor, checkInt, checkNumber, checkOptions, noGrad, tensor, type Generator, type OptionKeys } from '@heed/core';
import { withEval } from '@heed/nn';
import { argmaxRow, uniforms } from '../generation/sampling.js';
import { disposeCache, type CausalLM, type PastKeyValues } from './cache.js';
import type { GenerationConfig } from './config.js';
import { processLogits, sampleScores, type LogitsProcessorSettings } from './logits-process.js';

/**
 * Options of {@link generate} (HF `generate()` keyword arguments in camelCase). Each one left
 * undefined comes from the model's `generationConfig`, then from HF's global defaults.
 *
 * @example
 * ```ts
 * const o: HFGenerateOptions = { maxNewTokens: 40, doSample: true, temperature: 0.8, topP: 0.95, generator: new Generator(1) };
 * ```
 */
export interface HFGenerateOptions {
  /** New tokens to generate at most (takes precedence over maxLength). */
  maxNewTokens?: number;
  /** Total length (prompt width + new tokens) at most (default 20). */
  maxLength?: number;
  /** Eos is suppressed until this many new tokens. */
  minNewTokens?: number;
  /** Eos is suppressed until the total length reaches this. */
  minLength?: number;
  /** Sample (true) or take the most likely token (false, default). */
  doSample?: boolean;
  /** Softmax temperature when sampling (> 0, default 1). */
  temperature?: number;
  /** Sample among the k most likely tokens (0 = all; default 50). */
  topK?: number;
  /** Sample from the smallest set of tokens with probability >= topP (default 1 = all). */
  topP?: number;
  /** Drop tokens less likely than minP times the most likely one (default off). */
  minP?: number;
  /** HF's repetition penalty: scores of tokens already in the row are divided (positive) or multiplied (negative) by it. */
  repetitionPenalty?: number;
  /** Stop token(s): a row ends when it generates any of them; null: none. */
  eosTokenId?: number | readonly number[] | null;
  /** Fills finished rows (default: the config's, else the first eos id). */
  padTokenId?: number | null;
  /** `[B, T]` 0/1 mask of `inputIds` (0 = padding; pad left). Default: inferred from padTokenId like HF. */
  attentionMask?: Tensor;
  /** Reuse the kv-cache between steps (default true); false recomputes the whole sequence each step. */
  useCache?: boolean;
  /** The random stream for sampling (default: core's global generator). */
  generator?: Generator;
  /** Called after each step with the new token of every row (the pad id for finished rows). */
  onToken?: (tokenIds: number[], step: number) => void;
}

/**
 * One generation step, as {@link streamGenerate} yields it and `onToken` sees it.
 *
 * @example
 * ```ts
 * for await (const { tokenIds, step } of streamGenerate(model, ids, { maxNewTokens: 5 })) console.log(step, tokenIds);
 * ```
 */
export interface GenerationStep {
  /** The new token of each row (the pad id for rows already finished). */
  tokenIds: number[];
  /** 0 for the first new token. */
  step: number;
  /** Per row: has it generated a stop token (now or before)? */
  finished: boolean[];
}

const OPTION_KEYS: OptionKeys<HFGenerateOptions> = {
  maxNewTokens: true, maxLength: true, minNewTokens: true, minLength: true, doSample: true, temperature: true, topK: true,
  topP: true, minP: true, repetitionPenalty: true, eosTokenId: true, padTokenId: true, attentionMask: true, useCache: true,
  generator: true, onToken: true,
};

/** HF's global defaults (GenerationConfig._get_default_generation_params) for the fields used here. */
const HF_DEFAULTS = { max_length: 20, min_length: 0, do_sample: false, use_cache: true, temperature: 1, top_k: 50, top_p: 1, repetition_penalty: 1 };

/** The settings of one run after options, generationConfig and HF defaults are merged and checked. */
interface Resolved {
  maxLength: number;
  useCache: boolean;
  eos: number[];
  pad: number | null;
  processors: LogitsProcessorSettings;
  generator?: Generator;
  onToken?: (tokenIds: number[], step: number) => void;
}

const OP = 'generate';

function configNumber(config: GenerationConfig, key: string): number | undefined {
  const v = config[key];
  return typeof v === 'number' ? v : undefined;
}

function tokenList(name: string, value: unknown): number[] {
  if (value === null || value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.map((v, i) => checkInt(OP, Array.isArray(value) ? `${name}[${i}]` : name, v, { min: 0 }));
}

function resolve(model: CausalLM, T: number, options: HFGenerateOptions): Resolved {
  const o = checkOptions(OP, options, OPTION_KEYS);
  const gen: GenerationConfig = model.generationConfig ?? {};
  const pick = <K extends 'max_length' | 'temperature' | 'top_k' | 'top_p' | 'repetition_penalty'>(opt: number | undefined, key: K): number => opt ?? configNumber(gen, key) ?? HF_DEFAULTS[key];
  let maxLength: number;
  if (o.maxNewTokens !== undefined) maxLength = T + checkInt(OP, 'maxNewTokens', o.maxNewTokens, { min: 1 });
  else if (o.maxLength !== undefined) maxLength = checkInt(OP, 'maxLength', o.maxLength, { min: 1 });
  else if (configNumber(gen, 'max_new_tokens') !== undefined) maxLength = T + checkInt(OP, 'generationConfig.max_new_tokens', gen.max_new_tokens, { min: 1 });
  else maxLength = checkInt(OP, 'maxLength', pick(undefined, 'max_length'), { min: 1 });
  if (maxLength <= T) {
    throw new HeedError(OP, `maxLength ${maxLength} leaves no room after the ${T} input positions; pass maxNewTokens (new tokens) or a maxLength above ${T}.`);
  }
  const eos = tokenList('eosTokenId', o.eosTokenId !== undefined ? o.eosTokenId : gen.eos_token_id !== undefined ? gen.eos_token_id : model.config.eos_token_id);
  const padField = o.padTokenId !== undefined ? o.padTokenId : gen.pad_token_id !== undefined ? gen.pad_token_id : model.config.pad_token_id;
  const padList = tokenList('padTokenId', padField);
  const pad = padList.length > 0 ? padList[0] : eos.length > 0 ? eos[0] : null; // HF: pad falls back to eos[0]
  const doSample = o.doSample ?? (typeof gen.do_sample === 'boolean' ? gen.do_sample : HF_DEFAULTS.do_sample);
  if (typeof doSample !== 'boolean') throw new HeedError(OP, `doSample must be a boolean, got ${String(doSample)}.`);
  const useCache = o.useCache ?? (typeof gen.use_cache === 'boolean' ? gen.use_cache : HF_DEFAULTS.use_cache);
  if (typeof useCache !== 'boolean') throw new HeedError(OP, `useCache must be a boolean, got ${String(useCache)}.`);
  const minP = o.minP ?? configNumber(gen, 'min_p');
  const processors: LogitsProcessorSettings = {
    doSample,
    temperature: checkNumber(OP, 'temperature', pick(o.temperature, 'temperature'), { min: Number.MIN_VALUE }),
    topK: checkInt(OP, 'topK', pick(o.topK, 'top_k'), { min: 0 }),
    topP: checkNumber(OP, 'topP', pick(o.topP, 'top_p'), { min: 0, max: 1 }),
    minP: minP === undefined ? undefined : checkNumber(OP, 'minP', minP, { min: 0, max: 1 }),
    repetitionPenalty: checkNumber(OP, 'repetitionPenalty', pick(o.repetitionPenalty, 'repetition_penalty'), { min: Number.MIN_VALUE }),
    minLength: checkInt(OP, 'minLength', o.minLength ?? configNumber(gen, 'min_length') ?? HF_DEFAULTS.min_length, { min: 0 }),
    minNewTokens: checkInt(OP, 'minNewTokens', o.minNewTokens ?? configNumber(gen, 'min_new_tokens') ?? 0, { min: 0 }),
    eosTokenIds: eos,
  };
  if (o.onToken !== undefined && typeof o.onToken !== 'function') throw new HeedError(OP, `onToken must be a function (tokenIds, step) => void, got ${typeof o.onToken}.`);
  return { maxLength, useCache, eos, pad, processors, generator: o.generator, onToken: o.onToken };
}

/** Host copy of an int32 `[B, T]` tensor as rows (awaits the read). */
async function rowsOf(t: Tensor): Promise<number[][]> {
  const [B, T] = t.shape;
  const data = await t.data();
  return Array.from({ length: B }, (_, b) => Array.from(data.subarray(b * T, (b + 1) * T), Number));
}

function int32(rows: readonly (readonly number[])[], backend: string): Tensor {
  const B = rows.length;
  const T = rows[0].length;
  const flat = new Int32Array(B * T);
  rows.forEach((r, b) => flat.set(r, b * T));
  return tensor(flat, { shape: [B, T], dtype: 'int32', backend });
}

/** The state of one generation: host copies of ids, mask and positions, and the cache; step inputs go to `backend` (inputIds'). */
class Run {
  private past: PastKeyValues | undefined;
  private step = 0;
  private done = false;
  private readonly unfinished: boolean[];
  private readonly padded: boolean;

  constructor(
    private readonly model: CausalLM,
    private readonly s: Resolved,
    private readonly rows: number[][],
    private readonly mask: number[][],
    private readonly positions: number[][],
    private readonly promptLength: number,
    private readonly backend: string,
  ) {
    this.unfinished = rows.map(() => true);
    this.padded = mask.some((r) => r.includes(0));
  }

  /** Runs one forward and picks the next token of every row; null when generation has ended. */
  async next(): Promise<GenerationStep | null> {
    if (this.done) return null;
    const { model, s, rows } = this;
    const B = rows.length;
    const incremental = s.useCache && this.past !== undefined;
    const width = incremental ? 1 : rows[0].length;
    const ids = int32(rows.map((r) => r.slice(r.length - width)), this.backend);
    const positionIds = int32(this.positions.map((r) => r.slice(r.length - width)), this.backend);
    const attentionMask = this.padded ? int32(this.mask, this.backend) : undefined;
    let logits: Tensor | undefined;
    let scores: Float32Array;
    try {
      const out = withEval(model, () => noGrad(() => model.forward(ids, { attentionMask, positionIds, pastKeyValues: this.past, useCache: s.useCache })));
      logits = out.logits;
      if (out.pastKeyValues !== this.past) disposeCache(this.past);
      this.past = s.useCache ? out.pastKeyValues : (disposeCache(out.pastKeyValues), undefined);
      if (s.useCache && this.past === undefined) throw new HeedError(OP, 'the model returned no pastKeyValues for useCache: true; pass useCache: false.');
      const [lb, lt] = logits.shape;
      if (logits.rank !== 3 || lb !== B || lt !== width) {
        throw new HeedError(OP, `the model's logits must be [${B}, ${width}, vocab], got [${logits.shape.join(', ')}].`);
      }
      const last = logits.narrow(1, width - 1, 1);
      try {
        scores = (await last.data()) as Float32Array;
      } finally {
        last.dispose();
      }
    } catch (e) {
      this.dispose();
      throw e;
    } finally {
      ids.dispose();
      positionIds.dispose();
      attentionMask?.dispose();
      logits?.dispose();
    }
    const V = scores.length / B;
    const draws = s.processors.doSample ? await uniforms(B, s.generator) : null;
    const hasEos = s.eos.length > 0;
    const tokenIds: number[] = [];
    for (let b = 0; b < B; b++) {
      let token: number;
      if (hasEos && !this.unfinished[b]) token = s.pad ?? 0;
      else {
        const row = processLogits(scores.slice(b * V, (b + 1) * V), { ids: rows[b], promptLength: this.promptLength }, s.processors);
        token = draws ? sampleScores(row, draws[b]) : argmaxRow(row);
        if (s.eos.includes(token)) this.unfinished[b] = false;
      }
      tokenIds.push(token);
      rows[b].push(token);
      this.mask[b].push(1);
      const p = this.positions[b];
      p.push(p[p.length - 1] + 1);
    }
    const step = this.step++;
    if (rows[0].length >= s.maxLength || (hasEos && !this.unfinished.includes(true))) this.finish();
    return { tokenIds, step, finished: this.unfinished.map((u) => !u) };
  }

  private finish(): void {
    this.done = true;
    this.dispose();
  }

  /** The input and every generated token, int32 `[B, length]`. */
  sequences(): Tensor {
    return int32(this.rows, this.backend);
  }

  /** Frees the cache (idempotent). */
  dispose(): void {
    disposeCache(this.past);
    this.past = undefined;
    this.done = true;
  }
}

async function start(model: CausalLM, inputIds: Tensor, options: HFGenerateOptions): Promise<Run> {
  if (!(inputIds instanceof Tensor) || inputIds.dtype !== 'int32' || inputIds.rank !== 2 || inputIds.shape[0] < 1 || inputIds.shape[1] < 1) {
    const got = inputIds instanceof Tensor ? `${inputIds.dtype} [${inputIds.shape.join(', ')}]` : typeof inputIds;
    throw new HeedError(OP, `inputIds must be an int32 tensor [batch, length] with batch, length >= 1, got ${got}; e.g. tensor([[5, 17]], { dtype: 'int32' }).`);
  }
  const [B, T] = inputIds.shape;
  const s = resolve(model, T, options);
  const rows = await rowsOf(inputIds);
  let mask: number[][];
  const m = options.attentionMask;
  if (m !== undefined) {
    if (!(m instanceof Tensor) || m.rank !== 2 || m.shape[0] !== B || m.shape[1] !== T) {
      throw new HeedError(OP, `attentionMask must be a [${B}, ${T}] tensor like inputIds, got ${m instanceof Tensor ? `[${m.shape.join(', ')}]` : typeof m}.`);
    }
    const data = await m.data();
    mask = rows.map((_, b) => Array.from(data.subarray(b * T, (b + 1) * T), (v) => (Number(v) !== 0 ? 1 : 0)));
  } else {
    // HF: infer the mask from the pad id when it occurs in the input and is not an eos id.
    const pad = s.pad;
    const infer = pad !== null && !s.eos.includes(pad) && rows.some((r) => r.includes(pad));
    mask = rows.map((r) => r.map((id) => (infer && id === pad ? 0 : 1)));
  }
  const positions = mask.map((r) => {
    let c = 0;
    return r.map((v) => (c += v, v === 0 ? 0 : c - 1));
  });
  return new Run(model, s, rows, mask, positions, T, inputIds.backend.name);
}

/**
 * Generates continuations of `inputIds` (int32 `[B, T]`, left-padded with `attentionMask`)
 * with Hugging Face `generate()` semantics. Returns the input followed by the new tokens,
 * int32 `[B, T + new]` (finished rows padded with the pad id), like HF's output `sequences`.
 *
 * @example
 * ```ts
 * const model = await GPT2LMHeadModel.fromPretrained('./checkpoints/gpt2');
 * const out = await generate(model, tensor([[464, 3290]], { dtype: 'int32' }), { maxNewTokens: 20 });
 * const tokens = await out.data(); // greedy, like HF model.generate(ids, max_new_tokens=20)
 * ```
 */
export async function generate(model: CausalLM, inputIds: Tensor, options: HFGenerateOptions = {}): Promise<Tensor> {
  const run = await start(model, inputIds, options);
  const onToken = options.onToken;
  try {
    for (let step = await run.next(); step !== null; step = await run.next()) onToken?.(step.tokenIds, step.step);
    return run.sequences();
  } finally {
    run.dispose();
  }
}

/**
 * Generation as an async iterator: yields each step's new tokens as they are chosen.
 * Breaking out of the loop frees the kv-cache. `onToken` is ignored here.
 *
 * @example
 * ```ts
 * for await (const { tokenIds } of streamGenerate(model, ids, { maxNewTokens: 50 })) process.stdout.write(tok.decode(tokenIds));
 * ```
 */
export async function* streamGenerate(model: CausalLM, inputIds: Tensor, options: HFGenerateOptions = {}): AsyncGenerator<GenerationStep, void, undefined> {
  const run = await start(model, inputIds, options);
  try {
    for (let step = await run.next(); step !== null; step = await run.next()) yield step;
  } finally {
    run.dispose();
  }
}
