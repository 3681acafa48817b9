// SPDX-License-Identifier: MIT
// The files of a Hugging Face tokenizer folder: reading tokenizer.json (required),
// tokenizer_config.json and special_tokens_map.json (optional; the map's tokens override the
// config's, as transformers loads them) from a directory (Node) or URL prefix (browser) through
// hf/source.ts, and writing tokenizer.json + tokenizer_config.json back atomically.
import { HeedError } from '@heed/core';
import { openSource, writeSourceFile, type PretrainedSource } from '../source.js';
import type { TokenizerConfigJSON, TokenizerJSON } from './json.js';

/** The parsed files of a tokenizer folder. */
export interface TokenizerFiles {
  json: TokenizerJSON;
  config: TokenizerConfigJSON;
}

const OTHER_FORMATS: readonly [file: string, what: string][] = [
  ['tokenizer.model', 'a SentencePiece model'],
  ['vocab.json', 'a slow GPT-2-style vocabulary (vocab.json + merges.txt)'],
  ['vocab.txt', 'a slow BERT-style vocabulary'],
];

function parse(text: string, where: string, op: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HeedError(op, `'${where}' is not valid JSON: ${(e as Error).message}`);
  }
}

/** @internal Reads tokenizer.json (+ config files) from a source. */
export async function readTokenizerFiles(source: PretrainedSource, op: string): Promise<TokenizerFiles> {
  const src = openSource(source, op);
  const text = await src.readText('tokenizer.json');
  if (text === null) {
    let hint = '';
    for (const [file, what] of OTHER_FORMATS) {
      if ((await src.read(file)) !== null) { hint = ` The folder has ${file} (${what}) only;`; break; }
    }
    throw new HeedError(op, `no tokenizer.json in '${src.location}'.${hint} Heed reads fast tokenizers: in Python, `
      + "AutoTokenizer.from_pretrained(folder).save_pretrained(folder) writes tokenizer.json.");
  }
  const json = parse(text, `${src.location}/tokenizer.json`, op) as TokenizerJSON;
  const config: TokenizerConfigJSON = {};
  for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const t = await src.readText(name);
    if (t === null) continue;
    const obj = parse(t, `${src.location}/${name}`, op);
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new HeedError(op, `'${src.location}/${name}' must hold a JSON object.`);
    Object.assign(config, obj);
  }
  return { json, config };
}

/** @internal Writes tokenizer.json and tokenizer_config.json into a directory (Node.js). */
export async function writeTokenizerFiles(dir: string, files: TokenizerFiles, op: string): Promise<void> {
  const enc = new TextEncoder();
  const config = { tokenizer_class: 'PreTrainedTokenizerFast', ...files.config };
  await writeSourceFile(dir, 'tokenizer.json', enc.encode(JSON.stringify(files.json)), op);
  await writeSourceFile(dir, 'tokenizer_config.json', enc.encode(JSON.stringify(config, null, 2) + '\n'), op);
}
