// SPDX-License-Identifier: MIT
// Where a pretrained checkpoint lives: a local directory (Node.js, read with node:fs imported on
// first use, so browser bundles never need it) or a URL prefix (read with `fetch`, browser or
// Node). Writing (savePretrained) is Node-only and goes through nn's one atomic file writer.
// (The dynamic import is local, like @heed/train's: re-exporting nn's internal `nodeModules`
// from @heed/nn makes typedoc crash on its node: namespace types.)
// Invariants: a file that is not there reads as `null` (never an empty buffer); any other read
// failure is a HeedError naming the file; nothing is downloaded implicitly (a URL source is
// exactly what the caller passed).
import { HeedError } from '@heed/core';
import { writeFileAtomic } from '@heed/nn';

/**
 * A checkpoint location: a directory path (Node.js), or an `http(s)://` / `file://` / `blob:`
 * URL prefix (read with `fetch`; in the browser, any string that is not a local path).
 *
 * @example
 * ```ts
 * const local: PretrainedSource = './checkpoints/gpt2';
 * const remote: PretrainedSource = new URL('/models/gpt2/', location.href);
 * ```
 */
export type PretrainedSource = string | URL;

/**
 * Reads the files of one checkpoint (opened with {@link openSource}).
 *
 * @example
 * ```ts
 * const src = openSource('./checkpoints/gpt2');
 * const config = await src.readText('config.json'); // null when absent
 * ```
 */
export interface SourceReader {
  /** The source as given (for error messages). */
  readonly location: string;
  /** The bytes of `name` (relative to the source), or null when there is no such file. */
  read(name: string): Promise<Uint8Array | null>;
  /** The UTF-8 text of `name`, or null when there is no such file. */
  readText(name: string): Promise<string | null>;
}

const URL_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Node's fs/promises and path, imported on first use. */
async function nodeModules(op: string) {
  try {
    const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
    const path = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:path');
    return { fs, path };
  } catch {
    throw new HeedError(op, 'reading a checkpoint folder needs Node.js (node:fs); in the browser, pass a URL prefix.');
  }
}

/** Whether the code runs in Node.js (where plain strings are directory paths). */
function inNode(): boolean {
  const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof proc?.versions?.node === 'string';
}

function joinUrl(prefix: string, name: string): string {
  return prefix.endsWith('/') ? prefix + name : `${prefix}/${name}`;
}

function urlReader(prefix: string, op: string): SourceReader {
  const read = async (name: string): Promise<Uint8Array | null> => {
    if (typeof fetch !== 'function') throw new HeedError(op, `cannot read '${joinUrl(prefix, name)}': this runtime has no fetch().`);
    let res: Response;
    try {
      res = await fetch(joinUrl(prefix, name));
    } catch (e) {
      throw new HeedError(op, `could not fetch '${joinUrl(prefix, name)}': ${(e as Error).message}`);
    }
    if (res.status === 404) return null;
    if (!res.ok) throw new HeedError(op, `could not fetch '${joinUrl(prefix, name)}': HTTP ${res.status} ${res.statusText}.`);
    return new Uint8Array(await res.arrayBuffer());
  };
  return { location: prefix, read, readText: async (name) => decodeText(await read(name), joinUrl(prefix, name), op) };
}

function dirReader(dir: string, op: string): SourceReader {
  const read = async (name: string): Promise<Uint8Array | null> => {
    const { fs, path } = await nodeModules(op);
    const file = path.join(dir, name);
    try {
      const buf = await fs.readFile(file);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') {
        // Distinguish a missing file from a missing directory, which is the likelier mistake.
        const dirExists = await fs.stat(dir).then((s) => s.isDirectory(), () => false);
        if (!dirExists) throw new HeedError(op, `'${dir}' is not a directory; pass the folder holding config.json and model.safetensors.`);
        return null;
      }
      throw new HeedError(op, `could not read '${file}': ${(e as Error).message}`);
    }
  };
  return { location: dir, read, readText: async (name) => decodeText(await read(name), `${dir}/${name}`, op) };
}

function decodeText(bytes: Uint8Array | null, where: string, op: string): string | null {
  if (bytes === null) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HeedError(op, `'${where}' is not valid UTF-8 text.`);
  }
}

/**
 * Opens a checkpoint location for reading. In Node.js a plain string is a directory; a URL (or
 * a string with a scheme, like `https://...`) is read with `fetch`. In the browser every source
 * is a URL prefix.
 *
 * @example
 * ```ts
 * const src = openSource('./checkpoints/gpt2');
 * const bytes = await src.read('model.safetensors');
 * ```
 */
export function openSource(source: PretrainedSource, op = 'fromPretrained'): SourceReader {
  if (source instanceof URL) return source.protocol === 'file:' && inNode() ? fileUrlReader(source, op) : urlReader(source.href, op);
  if (typeof source !== 'string' || source.length === 0) {
    throw new HeedError(op, `source must be a directory path or a URL prefix, got ${source === '' ? "''" : typeof source}.`);
  }
  if (URL_SCHEME.test(source) || !inNode()) {
    if (inNode() && source.startsWith('file://')) return fileUrlReader(new URL(source), op);
    return urlReader(source, op);
  }
  return dirReader(source, op);
}

function fileUrlReader(url: URL, op: string): SourceReader {
  // fetch() in Node does not read file: URLs; map them onto the directory reader.
  return dirReader(decodeURIComponent(url.pathname), op);
}

/**
 * Writes `bytes` as `dir/name` atomically, creating `dir` when needed. Node.js only.
 *
 * @example
 * ```ts
 * await writeSourceFile('./out', 'config.json', new TextEncoder().encode('{}'));
 * ```
 */
export async function writeSourceFile(dir: string, name: string, bytes: Uint8Array, op = 'savePretrained'): Promise<void> {
  if (typeof dir !== 'string' || dir.length === 0 || URL_SCHEME.test(dir)) {
    throw new HeedError(op, `the destination must be a local directory path (Node.js), got ${JSON.stringify(String(dir))}.`);
  }
  const { fs, path } = await nodeModules(op);
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new HeedError(op, `could not create the directory '${dir}': ${(e as Error).message}`);
  }
  await writeFileAtomic(path.join(dir, name), bytes);
}

/**
 * Removes the files of `dir` whose names `stale` accepts (best effort: a file already gone is
 * skipped). Node.js only.
 *
 * @example
 * ```ts
 * await removeSourceFiles('./out', (f) => f === 'model.safetensors');
 * ```
 */
export async function removeSourceFiles(dir: string, stale: (name: string) => boolean, op = 'savePretrained'): Promise<void> {
  const { fs, path } = await nodeModules(op);
  for (const f of (await fs.readdir(dir)).filter(stale)) await fs.rm(path.join(dir, f), { force: true });
}
