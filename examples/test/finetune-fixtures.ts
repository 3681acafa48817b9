// SPDX-License-Identifier: MIT
// Helpers of the fine-tuning example tests: running an example script as a child process, and
// the offline checkpoint of a test — a tiny Hugging Face model fixture (engineer B's
// packages/models/test/fixtures/hf-models/<name>/) with a tokenizer.json derived from a
// tokenizer fixture (hf-tokenizers/<name>/): its vocabulary restricted to the ids the model's
// embedding has (the tiny models have 96-120 rows, the tokenizer fixtures ~900 tokens; a
// WordPiece vocabulary stays usable, words it cannot spell become [UNK]).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const fixtures = join(root, 'packages', 'models', 'test', 'fixtures');

export interface Result { status: number | null; stdout: string; stderr: string; seconds: number }

/** Runs `examples/<example>/train.mjs` with `args` (the built packages, as a user runs it). */
export function runExample(example: string, args: string[], timeoutMs = 90_000): Result {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'examples', example, 'train.mjs'), ...args], {
    cwd: root, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, seconds: (performance.now() - t0) / 1000 };
}

export function expectOk(r: Result): void {
  if (r.status !== 0) throw new Error(`exit ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
}

export const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `heed-${prefix}-`));

/** Which packages' dist entry points are missing (the script tests skip then). */
export function missingBuilds(packages: string[]): string[] {
  return packages.map((p) => join(root, 'packages', p, 'dist', 'index.js')).filter((p) => !existsSync(p));
}

interface TokenizerFile { model: { vocab: Record<string, number> }; added_tokens?: { id: number }[] }

/**
 * A folder with the tokenizer fixture `tokenizer` restricted to ids < `rows` (tokenizer.json
 * and tokenizer_config.json).
 */
export function restrictedTokenizer(tokenizer: string, rows: number): string {
  const dir = tmp('tokenizer');
  const src = join(fixtures, 'hf-tokenizers', tokenizer);
  const json = JSON.parse(readFileSync(join(src, 'tokenizer.json'), 'utf8')) as TokenizerFile;
  json.model.vocab = Object.fromEntries(Object.entries(json.model.vocab).filter(([, id]) => id < rows));
  json.added_tokens = (json.added_tokens ?? []).filter((t) => t.id < rows);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  if (existsSync(join(src, 'tokenizer_config.json'))) copyFileSync(join(src, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
  return dir;
}

/** The model fixture folder `name` and its embedding rows (config.vocab_size). */
export function modelFixture(name: string): { dir: string; vocabSize: number } {
  const dir = join(fixtures, 'hf-models', name);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { vocab_size: number };
  return { dir, vocabSize: config.vocab_size };
}
