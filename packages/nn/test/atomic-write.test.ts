// SPDX-License-Identifier: MIT
// The atomic writer behind every save (safetensors files, checkpoints, models): temporary files
// of a writer SIGKILLed mid-write are removed by the next save of the same path (a real child
// process, paused half-way through its write, then killed), a live writer's temporary file is
// left alone, and directories, FIFOs and symlinks are handled without ever replacing anything
// but a regular file.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeedError, registerBackend, setBackend, tensor } from '@heed/core';
import { cpuBackend } from '@heed/backend-cpu';
import { loadFile, saveFile, writeFileAtomic } from '@heed/nn';
import { hostTag } from '../src/io/atomic.js';

registerBackend(cpuBackend);
await setBackend('cpu');

const work = mkdtempSync(join(tmpdir(), 'heed-atomic-'));
const host = hostTag({ hostname });
const children: ChildProcess[] = [];

// The child runs the real writer (bundled from source with esbuild, as the tests import sources)
// with FileHandle.writeFile patched to write half the bytes, report, and hang: a deterministic
// "killed mid-write".
const CHILD = `
import { open, rm } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.mjs';
const [target, size, probe] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const h = await open(probe, 'w');
const proto = Object.getPrototypeOf(h);
await h.close();
await rm(probe);
proto.writeFile = async function (bytes) {
  await this.write(bytes, 0, bytes.length >> 1);
  await this.sync();
  process.stdout.write('half-written\\n');
  setInterval(() => {}, 1000);
  await new Promise(() => {});
};
await writeFileAtomic(target, new Uint8Array(size).fill(7));
`;

beforeAll(async () => {
  const esbuild = await import('esbuild');
  const src = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
  await esbuild.build({
    entryPoints: [src('nn/src/io/atomic.ts')], bundle: true, platform: 'node', format: 'esm', logLevel: 'silent',
    outfile: join(work, 'atomic.mjs'), alias: { '@heed/core': src('core/src/index.ts') },
  });
  writeFileSync(join(work, 'child.mjs'), CHILD);
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** Starts a writer of `size` bytes to `target` and resolves once half of them are on disk. */
function startWriter(target: string, size: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(work, 'child.mjs'), target, String(size), join(work, `probe-${children.length}`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('half-written')) resolve(child); });
    child.on('exit', (code) => reject(new Error(`writer exited early (${code}): ${err}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

const tempsIn = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp')).sort();

describe('writeFileAtomic: temporary files of killed writers', () => {
  it('a save removes the temp file of a writer SIGKILLed mid-write, and keeps a live writer\'s', async () => {
    const dir = join(work, 'killed');
    mkdirSync(dir);
    const target = join(dir, 'ckpt.safetensors');
    const size = 8 << 20;
    const dead = await startWriter(target, size);
    const tmpName = `.ckpt.safetensors.${host}.${dead.pid}-`;
    const [stale] = tempsIn(dir);
    expect(stale.startsWith(tmpName)).toBe(true);
    expect(statSync(join(dir, stale)).size).toBe(size / 2);
    await kill(dead);
    expect(tempsIn(dir)).toEqual([stale]); // a kill leaves it behind...

    const live = await startWriter(target, size); // ...and another writer is busy right now
    const liveTemp = tempsIn(dir).find((n) => n !== stale)!;
    // Temp files of other hosts (a shared disk) and of other targets are not this save's business.
    const foreign = [`.ckpt.safetensors.otherhost.${dead.pid}-abc.tmp`, `.other.safetensors.${host}.${dead.pid}-abc.tmp`];
    for (const n of foreign) writeFileSync(join(dir, n), 'x');

    await writeFileAtomic(target, new Uint8Array([1, 2, 3]));
    expect(Array.from(readFileSync(target))).toEqual([1, 2, 3]);
    expect(tempsIn(dir)).toEqual([liveTemp, ...foreign].sort()); // the dead writer's file is gone

    await kill(live);
    await writeFileAtomic(target, new Uint8Array([4]));
    expect(tempsIn(dir)).toEqual([...foreign].sort());
    expect(Array.from(readFileSync(target))).toEqual([4]);
  }, 30_000);
});

describe('writeFileAtomic: temp names', () => {
  it('hosts whose names differ only in characters a file name drops get different tags', () => {
    const tags = ['node1.a', 'node1a', 'a_b', 'ab'].map((name) => hostTag({ hostname: () => name }));
    expect(new Set(tags).size).toBe(4);
    expect(tags[0]).toMatch(/^node1a-[0-9a-z]+$/);
  });
});

describe('writeFileAtomic: only regular files are replaced', () => {
  it('a directory is refused with a HeedError and left as it was', async () => {
    const dir = join(work, 'dir-target');
    mkdirSync(join(dir, 'model.safetensors'), { recursive: true });
    writeFileSync(join(dir, 'model.safetensors', 'inside.txt'), 'keep me');
    const w = tensor([1, 2]);
    const err = await saveFile(join(dir, 'model.safetensors'), { w }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeedError);
    expect((err as Error).message).toMatch(/writeFileAtomic: could not write .*model\.safetensors': it is a directory, not a regular file/);
    expect((err as Error).message).toContain(join(dir, 'model.safetensors', 'model.safetensors'));
    expect(lstatSync(join(dir, 'model.safetensors')).isDirectory()).toBe(true);
    expect(readFileSync(join(dir, 'model.safetensors', 'inside.txt'), 'utf8')).toBe('keep me');
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    w.dispose();
  });

  it.skipIf(process.platform === 'win32')('a FIFO is refused and stays a FIFO (as root, /dev/full was replaced before)', async () => {
    const dir = join(work, 'fifo-target');
    mkdirSync(dir);
    const fifo = join(dir, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    await expect(writeFileAtomic(fifo, new Uint8Array(4))).rejects.toThrow(/it is a FIFO \(named pipe\), not a regular file, and is left untouched/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir)).toEqual(['pipe.safetensors']);
  });

  // Never aim this at a real device: a regression would replace it (as root, /dev/full was). As
  // root, make a device node of our own in the temporary directory instead.
  it.skipIf(process.getuid?.() !== 0)('a device node is refused before anything is created beside it', async () => {
    const dir = join(work, 'device-target');
    mkdirSync(dir);
    const node = join(dir, 'full');
    execFileSync('mknod', [node, 'c', '1', '7']); // the numbers of /dev/full
    await expect(writeFileAtomic(node, new Uint8Array(4))).rejects.toThrow(/it is a character device, not a regular file/);
    expect(lstatSync(node).isCharacterDevice()).toBe(true);
    expect(readdirSync(dir)).toEqual(['full']);
  });

  it.skipIf(process.platform === 'win32')('a symlink to a regular file: the file is replaced, the link stays', async () => {
    const dir = join(work, 'link-target');
    mkdirSync(dir);
    const real = join(dir, 'real.safetensors');
    const link = join(dir, 'latest.safetensors');
    const w = tensor([1, 2]);
    await saveFile(real, { w });
    symlinkSync('real.safetensors', link);
    const v = tensor([3, 4, 5]);
    await saveFile(link, { w: v });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const { tensors } = await loadFile(real);
    expect(Array.from(tensors.get('w')!.dataSync())).toEqual([3, 4, 5]);
    expect(readdirSync(dir).sort()).toEqual(['latest.safetensors', 'real.safetensors']);
    for (const t of [w, v, ...tensors.values()]) t.dispose();
  });
});
