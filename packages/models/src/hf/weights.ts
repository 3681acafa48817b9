// SPDX-License-Identifier: MIT
// Checkpoint weights in Hugging Face's layout: `model.safetensors`, or shards listed by
// `model.safetensors.index.json` (`weight_map`: tensor name -> shard file). Floats of any
// safetensors dtype (F16, BF16, ...) load as float32 through nn's one safetensors decoder;
// PyTorch pickles (`pytorch_model.bin`) are refused with the conversion to run. Writing uses the
// same names (one file, or shards of at most `maxShardSize` bytes with their index).
// Invariants: a load either returns every tensor or throws having disposed what it created; a
// tensor named twice (two shards, or an index that disagrees with its shards) is an error.
import { HeedError, type Tensor } from '@heed/core';
import { loadSafetensors, saveSafetensors, type FloatDType } from '@heed/nn';
import { openSource, removeSourceFiles, writeSourceFile, type PretrainedSource, type SourceReader } from './source.js';

/**
 * The single-file weights name.
 *
 * @example `await openSource(dir).read(WEIGHTS_NAME); // the safetensors bytes, or null`
 */
export const WEIGHTS_NAME = 'model.safetensors';
/**
 * The index of sharded weights (`weight_map`: tensor name -> shard file).
 *
 * @example `JSON.parse(await openSource(dir).readText(WEIGHTS_INDEX_NAME) ?? '{}').weight_map;`
 */
export const WEIGHTS_INDEX_NAME = 'model.safetensors.index.json';
/** Weight files Heed does not read, with what they are (for the error). */
const FOREIGN_WEIGHTS: readonly (readonly [string, string])[] = [
  ['pytorch_model.bin', 'a PyTorch pickle'],
  ['pytorch_model.bin.index.json', 'sharded PyTorch pickles'],
  ['tf_model.h5', 'TensorFlow weights'],
  ['flax_model.msgpack', 'Flax weights'],
];

/**
 * Options of {@link loadWeights}.
 *
 * @example
 * ```ts
 * await loadWeights('./checkpoints/gpt2', { backend: 'cpu' });
 * ```
 */
export interface LoadWeightsOptions {
  /** Backend of the loaded tensors (default: the default backend). */
  backend?: string;
}

/**
 * Options of {@link saveWeights}.
 *
 * @example
 * ```ts
 * await saveWeights('./out', model.stateDict(), { maxShardSize: 5_000_000_000 });
 * ```
 */
export interface SaveWeightsOptions {
  /** How float32 tensors are stored (default F32: exact). */
  floatDType?: FloatDType;
  /**
   * Largest shard in bytes (tensor data): above it the weights are split into
   * `model-0000i-of-0000n.safetensors` with an index, like HF's `max_shard_size`. Default: one file.
   */
  maxShardSize?: number;
}

function disposeAll(tensors: Map<string, Tensor>): void {
  for (const t of tensors.values()) t.dispose();
}

async function noWeightsError(src: SourceReader, op: string): Promise<never> {
  for (const [name, what] of FOREIGN_WEIGHTS) {
    if ((await src.read(name)) !== null) {
      throw new HeedError(op, `'${src.location}' has ${name} (${what}) but no ${WEIGHTS_NAME}; Heed reads safetensors only ` +
        '(unpickling can run arbitrary code). Convert it once in Python with transformers: ' +
        `\`AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)\` (use the model's own class, e.g. ` +
        'AutoModelForCausalLM, to keep its head), which writes model.safetensors.');
    }
  }
  throw new HeedError(op, `'${src.location}' has neither ${WEIGHTS_NAME} nor ${WEIGHTS_INDEX_NAME}; ` +
    'a Hugging Face checkpoint folder holds config.json and model.safetensors (as written by save_pretrained).');
}

function parseIndex(text: string, where: string, op: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HeedError(op, `'${where}' is not valid JSON (${(e as Error).message}).`);
  }
  const map = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new HeedError(op, `'${where}' has no "weight_map" object (tensor name -> shard file).`);
  }
  const out = new Map<string, string>();
  for (const [name, file] of Object.entries(map)) {
    if (typeof file !== 'string' || file.length === 0 || file.includes('..') || file.startsWith('/')) {
      throw new HeedError(op, `'${where}': the shard of '${name}' must be a file name in the folder, got ${JSON.stringify(file)}.`);
    }
    out.set(name, file);
  }
  return out;
}

/**
 * Reads the weights of a Hugging Face checkpoint (single file or sharded) as float32 / int32
 * tensors under the file's names. The caller owns (and disposes) the returned tensors.
 *
 * @example
 * ```ts
 * const weights = await loadWeights('./checkpoints/gpt2');
 * weights.get('transformer.wte.weight')?.shape; // [50257, 768]
 * ```
 */
export async function loadWeights(source: PretrainedSource | SourceReader, options: LoadWeightsOptions = {}, op = 'fromPretrained'): Promise<Map<string, Tensor>> {
  const src = typeof source === 'object' && !(source instanceof URL) ? source : openSource(source, op);
  const single = await src.read(WEIGHTS_NAME);
  if (single !== null) return loadSafetensors(single, { backend: options.backend }).tensors;
  const indexText = await src.readText(WEIGHTS_INDEX_NAME);
  if (indexText === null) return noWeightsError(src, op);
  const where = `${src.location}/${WEIGHTS_INDEX_NAME}`;
  const index = parseIndex(indexText, where, op);
  const out = new Map<string, Tensor>();
  try {
    for (const file of [...new Set(index.values())]) {
      const bytes = await src.read(file);
      if (bytes === null) throw new HeedError(op, `'${where}' lists the shard '${file}', which is not in '${src.location}'.`);
      const { tensors } = loadSafetensors(bytes, { backend: options.backend });
      for (const [name, t] of tensors) {
        const listed = index.get(name);
        if (out.has(name) || listed !== file) {
          disposeAll(tensors);
          throw new HeedError(op, `tensor '${name}' is in shard '${file}' but ${out.has(name) ? 'was already loaded from another shard' : `the index puts it in ${listed === undefined ? 'no shard' : `'${listed}'`}`}; the checkpoint is inconsistent.`);
        }
        out.set(name, t);
      }
    }
    const absent = [...index.keys()].filter((k) => !out.has(k));
    if (absent.length > 0) throw new HeedError(op, `'${where}' lists tensors that are in no shard: ${absent.slice(0, 10).join(', ')}${absent.length > 10 ? `, ... (${absent.length})` : ''}.`);
  } catch (e) {
    disposeAll(out);
    throw e;
  }
  return out;
}

const shardName = (i: number, n: number): string => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;

/**
 * Writes tensors as HF checkpoint weights in `dir` (Node.js): `model.safetensors`, or shards and
 * `model.safetensors.index.json` when they exceed `maxShardSize`. Returns the files written.
 * The metadata `{format: 'pt'}` is what transformers expects.
 *
 * @example
 * ```ts
 * await saveWeights('./out', new Map([['lm_head.weight', w]])); // ['model.safetensors']
 * ```
 */
export async function saveWeights(dir: string, tensors: Map<string, Tensor>, options: SaveWeightsOptions = {}, op = 'savePretrained'): Promise<string[]> {
  const metadata = { format: 'pt' };
  const floatDType = options.floatDType ?? 'F32';
  const max = options.maxShardSize;
  if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) throw new HeedError(op, `maxShardSize must be a positive integer (bytes), got ${max}.`);
  const bytesOf = (t: Tensor): number => t.size * (t.dtype === 'float32' ? (floatDType === 'F32' ? 4 : 2) : t.dtype === 'int32' ? 4 : 1);
  // Greedy in state-dict order, like transformers' shard splitter: a new shard when the next tensor would overflow.
  const shards: [string, Tensor][][] = [[]];
  let size = 0;
  let total = 0;
  for (const entry of tensors) {
    const n = bytesOf(entry[1]);
    total += n;
    if (max !== undefined && size + n > max && shards[shards.length - 1].length > 0) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(entry);
    size += n;
  }
  if (shards.length === 1) {
    await writeSourceFile(dir, WEIGHTS_NAME, await saveSafetensors(tensors, metadata, { floatDType }), op);
    await removeStaleWeights(dir, [WEIGHTS_NAME], op);
    return [WEIGHTS_NAME];
  }
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const file = shardName(i, shards.length);
    await writeSourceFile(dir, file, await saveSafetensors(new Map(shards[i]), metadata, { floatDType }), op);
    for (const [name] of shards[i]) weightMap[name] = file;
    files.push(file);
  }
  const sortedMap: Record<string, string> = {};
  for (const k of Object.keys(weightMap).sort()) sortedMap[k] = weightMap[k];
  const index = `${JSON.stringify({ metadata: { total_size: total }, weight_map: sortedMap }, null, 2)}\n`;
  await writeSourceFile(dir, WEIGHTS_INDEX_NAME, new TextEncoder().encode(index), op);
  await removeStaleWeights(dir, [...files, WEIGHTS_INDEX_NAME], op);
  return [...files, WEIGHTS_INDEX_NAME];
}

/**
 * Removes weight files of an earlier save in another layout (a model.safetensors beside new
 * shards would be read instead of them), like HF's save_pretrained cleanup.
 */
async function removeStaleWeights(dir: string, written: string[], op: string): Promise<void> {
  await removeSourceFiles(dir, (f) =>
    (f === WEIGHTS_NAME || f === WEIGHTS_INDEX_NAME || /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)) && !written.includes(f), op);
}
