// SPDX-License-Identifier: MIT
// Node.js file helpers for safetensors: `saveFile` / `loadFile` and the atomic writer they
// share with checkpoints. Node modules are imported dynamically inside the functions, so
// browser bundles that import @heed/nn never need `node:fs`.
// Invariant: a write either replaces the destination completely or leaves it untouched: the
// bytes go to a temporary file in the same directory, are fsynced, and the file is renamed
// over the destination (then the directory is fsynced, where the platform allows it).
import { HeedError, type Tensor } from '@heed/core';
import { loadSafetensors, saveSafetensors, type SafetensorsContents, type SaveSafetensorsOptions } from './safetensors.js';

async function nodeModules(op: string) {
  try {
    const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
    const path = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:path');
    return { fs, path };
  } catch {
    throw new HeedError(op, 'file access needs Node.js (node:fs). In the browser, use saveSafetensors/loadSafetensors with bytes instead.');
  }
}

/**
 * Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
 * Readers see either the old file or the complete new one, never a partial write.
 *
 * @example
 * ```ts
 * await writeFileAtomic('model.safetensors', bytes);
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const op = 'writeFileAtomic';
  const { fs, path: p } = await nodeModules(op);
  const dir = p.dirname(path);
  const tmp = p.join(dir, `.${p.basename(path)}.${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.tmp`);
  let handle: Awaited<ReturnType<typeof fs.open>> | null = null;
  try {
    handle = await fs.open(tmp, 'wx', 0o644);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = null;
    await fs.rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new HeedError(op, `could not write '${path}': ${(e as Error).message}`);
  }
  // Make the rename itself durable. Opening a directory fails on some platforms (Windows): skip there.
  try {
    const d = await fs.open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort
  }
}

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
