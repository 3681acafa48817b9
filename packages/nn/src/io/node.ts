// SPDX-License-Identifier: MIT
// Node.js file helpers for safetensors: `saveFile` / `loadFile` / `readFileBytes`. Writes go
// through the one atomic writer (atomic.ts); node modules are imported dynamically inside the
// functions, so browser bundles that import @heed/nn never need `node:fs`.
import { HeedError, type Tensor } from '@heed/core';
import { nodeModules, writeFileAtomic } from './atomic.js';
import { loadSafetensors, saveSafetensors, type SafetensorsContents, type SaveSafetensorsOptions } from './safetensors.js';

/**
 * Saves tensors (and string metadata) to a .safetensors file, atomically. Node.js only.
 *
 * @example
 * ```ts
 * await saveFile('model.safetensors', { 'layer.weight': w }, { format: 'pt' });
 * ```
 */
export async function saveFile(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>, options?: SaveSafetensorsOptions): Promise<void> {
  await writeFileAtomic(path, await saveSafetensors(tensors, metadata, options));
}

/**
 * Reads a file as bytes. Node.js only.
 *
 * @example
 * ```ts
 * const bytes = await readFileBytes('model.safetensors');
 * ```
 */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  const op = 'readFileBytes';
  const { fs } = await nodeModules(op);
  try {
    const buf = await fs.readFile(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new HeedError(op, `could not read '${path}': ${(e as Error).message}`);
  }
}

/**
 * Loads a .safetensors file (see {@link loadSafetensors} for dtype handling). Node.js only.
 *
 * @example
 * ```ts
 * const { tensors, metadata } = await loadFile('model.safetensors');
 * ```
 */
export async function loadFile(path: string, options: { backend?: string } = {}): Promise<SafetensorsContents> {
  return loadSafetensors(await readFileBytes(path), options);
}
