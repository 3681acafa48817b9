// SPDX-License-Identifier: MIT
// The one atomic file writer of Heed (safetensors files, checkpoints, saved models, training
// run files all go through `writeFileAtomic`). Node modules are imported dynamically inside the
// functions, so browser bundles that import @heed/nn never need `node:fs`.
// Invariants:
// - a write either replaces the destination completely or leaves it untouched: the bytes go to
//   a temporary file in the destination's directory, are fsynced, and the file is renamed over
//   the destination (then the directory is fsynced, where the platform allows it);
// - the temporary name carries the writer's host and pid (`.<name>.<host>.<pid>-<random>.tmp`),
//   so a later save of the same destination removes the temporary files of writers that died
//   (killed mid-write) on this host, and never those of a live writer;
// - only a regular file (or nothing) is ever replaced: a directory, FIFO, device node or socket
//   at the destination is an error and stays as it was. A symbolic link is followed, so the
//   file it points to is replaced and the link stays.
import { HeedError } from '@heed/core';

/** @internal Node's fs/promises, path and os, imported on first use. */
export async function nodeModules(op: string) {
  try {
    const fs = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:fs/promises');
    const path = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:path');
    const os = await import(/* webpackIgnore: true */ /* @vite-ignore */ 'node:os');
    return { fs, path, os };
  } catch {
    throw new HeedError(op, 'file access needs Node.js (node:fs). In the browser, use saveSafetensors/loadSafetensors with bytes instead.');
  }
}

type NodeModules = Awaited<ReturnType<typeof nodeModules>>;
type Stats = Awaited<ReturnType<NodeModules['fs']['lstat']>>;

interface ProcessLike {
  readonly pid: number;
  kill(pid: number, signal: number): boolean;
}

function currentProcess(): ProcessLike {
  return (globalThis as unknown as { process: ProcessLike }).process;
}

function errorCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The file to replace: `path` itself, or the file a symbolic link points to. Throws a
 * HeedError when something other than a regular file is there.
 */
async function resolveTarget({ fs, path: p }: NodeModules, path: string, op: string): Promise<string> {
  let target = path;
  let st: Stats;
  try {
    st = await fs.lstat(path);
    if (st.isSymbolicLink()) {
      target = await fs.realpath(path);
      st = await fs.stat(target);
    }
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return path; // nothing there yet (or a dangling link, which is replaced)
    throw new HeedError(op, `could not write '${path}': ${(e as Error).message}`);
  }
  if (!st.isFile()) {
    const hint = st.isDirectory() ? ` Pass a file path, e.g. '${p.join(path, 'model.safetensors')}'.` : ' Pass the path of a regular file.';
    throw new HeedError(op, `could not write '${path}': it is ${kindOf(st)}, not a regular file, and is left untouched.${hint}`);
  }
  return target;
}

/**
 * The host part of temporary names: the hostname with anything but [A-Za-z0-9-] dropped, plus a
 * hash of the full name, so hosts that differ only in dropped characters (`node1.a`, `node1a`)
 * never clean up each other's temp files on a shared file system.
 *
 * @internal
 */
export function hostTag(os: { hostname(): string }): string {
  const name = os.hostname();
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return `${name.replace(/[^A-Za-z0-9-]/g, '') || 'host'}-${(h >>> 0).toString(36)}`;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isAlive(pid: number): boolean {
  const proc = currentProcess();
  if (pid === proc.pid) return true;
  try {
    proc.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Removes the temporary files of `base` in `dir` left by dead writers on this host. Best
 * effort: a directory that cannot be listed, or a file already gone, is skipped.
 */
async function removeStaleTemps({ fs, path: p }: NodeModules, dir: string, base: string, host: string): Promise<void> {
  const pattern = new RegExp(`^\\.${escapeRegExp(base)}\\.${escapeRegExp(host)}\\.(\\d+)-[a-z0-9]+\\.tmp$`);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    await fs.rm(p.join(dir, name), { force: true }).catch(() => undefined);
  }
}

/**
 * Writes `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
 * Readers see either the old file or the complete new one, never a partial write. Temporary
 * files left by writers that were killed are removed by the next save of the same path.
 * Refuses (with a HeedError, changing nothing) to replace anything but a regular file.
 * Node.js only.
 *
 * @example
 * ```ts
 * await writeFileAtomic('model.safetensors', bytes);
 * ```
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const op = 'writeFileAtomic';
  const mods = await nodeModules(op);
  const { fs, path: p } = mods;
  const target = await resolveTarget(mods, path, op);
  const dir = p.dirname(target);
  const base = p.basename(target);
  const host = hostTag(mods.os);
  await removeStaleTemps(mods, dir, base, host);
  const tmp = p.join(dir, `.${base}.${host}.${currentProcess().pid}-${Math.random().toString(36).slice(2, 10) || '0'}.tmp`);
  let handle: Awaited<ReturnType<typeof fs.open>> | null = null;
  try {
    handle = await fs.open(tmp, 'wx', 0o644);
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = null;
    await fs.rename(tmp, target);
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
