// SPDX-License-Identifier: MIT
// Builds the consumer test's outside project: `npm pack`s every published package of the
// monorepo, writes a fresh project in the OS temp dir (outside the repository, so nothing
// resolves to the workspace) whose package-lock.json pins the tarballs and, for their
// third-party dependencies, the monorepo's own lock entries, and installs it with
// `npm ci --offline` (no registry requests: npm's cache already holds those tarballs). Tools
// (tsc, Vite, esbuild, Chromium) run from the monorepo; the project only holds what a user's
// `npm install` of the tarballs would give.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root (with a trailing slash). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The consumer project template (sources, index.html). */
const APP = fileURLToPath(new URL('./app', import.meta.url));

/** One published package of the monorepo. */
export interface PublishedPackage {
  readonly name: string;
  readonly version: string;
  /** Folder, relative to the root: `packages/core`. */
  readonly dir: string;
  readonly manifest: Manifest;
}

/** The fields of a package.json the consumer test reads. */
export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly license?: string;
  readonly files?: string[];
  readonly sideEffects?: boolean | string[];
  readonly exports?: Record<string, Record<string, string>>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  readonly optionalDependencies?: Record<string, string>;
}

/** What `npm pack --json` reports for one tarball. */
export interface PackResult {
  readonly name: string;
  readonly version: string;
  readonly filename: string;
  readonly integrity: string;
  readonly files: readonly { path: string; size: number }[];
}

/** Outcome of a child process (never throws on a non-zero exit). */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `file args` in `cwd`; resolves with the exit code and the output. */
export function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (error && !stdout ? String(error) : '') });
    });
  });
}

/** Like {@link run}, but rejects with the command and its output unless it exits with 0. */
export async function runOk(file: string, args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(file, args, cwd, env);
  if (r.code !== 0) throw new Error(`\`${[file, ...args].join(' ')}\` exited with ${r.code} in ${cwd}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Every package under packages/ that is not private. */
export function publishedPackages(): PublishedPackage[] {
  return readdirSync(join(ROOT, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => {
      const dir = `packages/${d.name}`;
      let manifest: Manifest;
      try {
        manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest;
      } catch {
        return [];
      }
      return manifest.private ? [] : [{ name: manifest.name, version: manifest.version, dir, manifest }];
    });
}

/**
 * Whether a user can install the package alone: every required peer dependency is one of ours
 * (@heed/backend-conformance needs vitest, which a user brings; it is checked as a tarball only).
 */
export function installable(pkg: PublishedPackage): boolean {
  const meta = pkg.manifest.peerDependencies ?? {};
  return Object.keys(meta).every((n) => n.startsWith('@heed/') || pkg.manifest.peerDependenciesMeta?.[n]?.optional);
}

/** `npm pack`s the packages into `dest` and returns what npm reports for each tarball. */
export async function packAll(packages: readonly PublishedPackage[], dest: string): Promise<PackResult[]> {
  mkdirSync(dest, { recursive: true });
  const args = ['pack', '--json', '--pack-destination', dest, ...packages.flatMap((p) => ['-w', p.name])];
  return JSON.parse(await runOk('npm', args, ROOT)) as PackResult[];
}

/** One entry of a package-lock.json `packages` map. */
type LockEntry = Record<string, unknown> & {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/**
 * The monorepo lock entries that the third-party dependencies of `packages` resolve to,
 * re-keyed for a project where each package sits in node_modules/@heed/<name> (Node's
 * resolution from there walks the same folders it walks in the monorepo).
 */
function thirdPartyEntries(packages: readonly PublishedPackage[]): Record<string, LockEntry> {
  const lock = (JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const workspaceDir = new Map(packages.map((p) => [p.dir, `node_modules/${p.name}`]));
  const out: Record<string, LockEntry> = {};
  const rekey = (key: string) => {
    for (const [dir, target] of workspaceDir) if (key.startsWith(`${dir}/`)) return target + key.slice(dir.length);
    return key;
  };
  const visit = (name: string, from: string, optional: boolean) => {
    if (name.startsWith('@heed/')) return;
    for (let dir = from; ; ) {
      const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      const entry = lock[key];
      if (entry) {
        const target = rekey(key);
        if (out[target]) return;
        const { dev: _dev, devOptional: _devOptional, peer: _peer, optional: _optional, ...rest } = entry;
        out[target] = optional ? { ...rest, optional: true } : rest;
        for (const n of Object.keys(entry.dependencies ?? {})) visit(n, key, optional);
        for (const n of Object.keys(entry.optionalDependencies ?? {})) visit(n, key, true);
        for (const n of Object.keys(entry.peerDependencies ?? {})) if (!entry.peerDependenciesMeta?.[n]?.optional) visit(n, key, optional);
        return;
      }
      if (!dir) throw new Error(`consumer: ${name} (needed from ${from || 'the root'}) is not in package-lock.json`);
      const i = dir.lastIndexOf('/node_modules/');
      dir = i < 0 ? '' : dir.slice(0, i);
    }
  };
  for (const p of packages) {
    for (const n of Object.keys(p.manifest.dependencies ?? {})) visit(n, p.dir, false);
    for (const n of Object.keys(p.manifest.optionalDependencies ?? {})) visit(n, p.dir, true);
  }
  return out;
}

/** The consumer project: its folder, and the tarballs installed into it. */
export interface ConsumerProject {
  readonly dir: string;
  readonly tarballs: string;
  readonly packs: readonly PackResult[];
  readonly installed: readonly PublishedPackage[];
}

/**
 * Packs every published package, writes the consumer project (template sources, package.json,
 * package-lock.json) into a fresh temp folder and installs it offline with `npm ci`.
 */
export async function createConsumerProject(): Promise<ConsumerProject> {
  const base = mkdtempSync(join(tmpdir(), 'heed-consumer-'));
  const tarballs = join(base, 'tarballs');
  const dir = join(base, 'app');
  const published = publishedPackages();
  const packs = await packAll(published, tarballs);
  const installed = published.filter(installable);
  cpSync(APP, dir, { recursive: true });

  const tarball = (name: string) => {
    const pack = packs.find((p) => p.name === name);
    if (!pack) throw new Error(`consumer: npm pack did not report ${name}`);
    return { spec: `file:../tarballs/${pack.filename}`, integrity: pack.integrity };
  };
  const dependencies = Object.fromEntries(installed.map((p) => [p.name, tarball(p.name).spec]));
  const manifest = { name: 'heed-consumer', version: '0.0.0', private: true, type: 'module', dependencies };
  const heedEntries = Object.fromEntries(installed.map((p) => {
    const { spec, integrity } = tarball(p.name);
    const m = p.manifest;
    const entry: LockEntry = {
      version: m.version, resolved: spec, integrity, license: m.license, dependencies: m.dependencies,
      optionalDependencies: m.optionalDependencies, peerDependencies: m.peerDependencies, peerDependenciesMeta: m.peerDependenciesMeta,
    };
    return [`node_modules/${p.name}`, JSON.parse(JSON.stringify(entry)) as LockEntry]; // without the undefined fields
  }));
  const lock = {
    name: manifest.name, version: manifest.version, lockfileVersion: 3, requires: true,
    packages: { '': { name: manifest.name, version: manifest.version, dependencies }, ...heedEntries, ...thirdPartyEntries(installed) },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  // Offline: the monorepo's `npm ci` left every tarball in npm's cache. Where it did not (a
  // node_modules made some other way), fetch what is missing from the registry.
  const ci = ['ci', '--no-audit', '--no-fund', '--loglevel=error'];
  const offline = await run('npm', [...ci, '--offline'], dir);
  if (offline.code !== 0) {
    if (!offline.stderr.includes('ENOTCACHED')) throw new Error(`consumer: npm ci failed in ${dir}\n${offline.stderr}`);
    await runOk('npm', [...ci, '--prefer-offline'], dir);
  }
  return { dir, tarballs, packs, installed };
}
