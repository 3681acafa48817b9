// SPDX-License-Identifier: MIT
// Static checks of the packed tarballs (unpacked into a folder per package): LICENSE and
// README, `exports` (types first, a `default` condition for require, targets shipped),
// `sideEffects` entries that exist, source maps whose sources are shipped, and the import
// graph of every browser entry: no static import of a Node built-in or of `webgpu` (Dawn),
// and no import of a package the manifest does not declare. Each check returns a list of
// problems (empty when the tarball is fine), so one test run reports all of them.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import type { Manifest, PackResult } from './project.js';

/**
 * Entries meant for Node only, with the reason: their import graphs may use Node built-ins
 * statically. Every other entry of every package must bundle for the browser unchanged.
 */
export const NODE_ONLY_ENTRIES: Readonly<Record<string, string>> = {
  '@heed/backend-conformance': 'reads its PyTorch fixtures with node:fs at import time and runs under vitest in Node',
  '@heed/backend-conformance/cases': 'part of the Node-only conformance suite',
  '@heed/train/node': 'the Node entry of @heed/train (files, progress bars, command line)',
  '@heed/distributed/node': 'the Node entry of @heed/distributed (the worker_threads launcher, the MPI binding)',
  '@heed/backend-native': 'the native CPU path for Node: loads a Node-API addon (heed_native.node) and OpenBLAS',
};

/** Whether `pkg` is a Node built-in module (`node:fs`, `fs`). */
function isBuiltin(pkg: string): boolean {
  return pkg.startsWith('node:') || builtinModules.includes(pkg);
}

/** One unpacked tarball: its folder (the `package/` of the tarball) and what npm listed. */
export interface Unpacked {
  readonly dir: string;
  readonly pack: PackResult;
  readonly manifest: Manifest;
}

/** LICENSE (same text as the root LICENSE), README.md and package.json are in the tarball. */
export function checkMetadata(t: Unpacked, rootLicense: string): string[] {
  const files = new Set(t.pack.files.map((f) => f.path));
  const problems = ['LICENSE', 'README.md', 'package.json'].filter((f) => !files.has(f)).map((f) => `${f} is not in the tarball`);
  if (files.has('LICENSE') && readFileSync(join(t.dir, 'LICENSE'), 'utf8') !== rootLicense) problems.push('LICENSE differs from the root LICENSE');
  if (t.manifest.license !== 'MIT') problems.push(`package.json license is ${t.manifest.license}, not MIT`);
  return problems;
}

/** Every `exports` entry lists `types` first and has a `default`; every target is shipped. */
export function checkExports(t: Unpacked): string[] {
  const problems: string[] = [];
  const files = new Set(t.pack.files.map((f) => f.path));
  const exportsMap = t.manifest.exports ?? {};
  if (!exportsMap['.']) problems.push('exports has no "." entry');
  for (const [subpath, conditions] of Object.entries(exportsMap)) {
    const keys = Object.keys(conditions);
    if (keys[0] !== 'types') problems.push(`exports["${subpath}"]: "types" must be the first condition (got ${keys.join(', ')})`);
    if (!keys.includes('default') && !keys.includes('require')) {
      problems.push(`exports["${subpath}"] has neither "default" nor "require": require() fails with ERR_PACKAGE_PATH_NOT_EXPORTED`);
    }
    for (const [condition, target] of Object.entries(conditions)) {
      if (!files.has(normalize(target))) problems.push(`exports["${subpath}"].${condition} -> ${target} is not in the tarball`);
    }
  }
  const listed = Array.isArray(t.manifest.sideEffects) ? t.manifest.sideEffects : [];
  for (const entry of listed) {
    if (!entry.includes('*') && !files.has(normalize(entry))) problems.push(`sideEffects lists ${entry}, which is not in the tarball`);
  }
  return problems;
}

/** Every source of every shipped source map is shipped too (or inlined as sourcesContent). */
export function checkSourceMaps(t: Unpacked): string[] {
  const broken: string[] = [];
  const files = new Set(t.pack.files.map((f) => f.path));
  for (const file of files) {
    if (!file.endsWith('.map')) continue;
    const map = JSON.parse(readFileSync(join(t.dir, file), 'utf8')) as { sources: string[]; sourceRoot?: string; sourcesContent?: (string | null)[] };
    map.sources.forEach((source, i) => {
      const path = normalize(join(dirname(file), map.sourceRoot ?? '', source));
      if (!files.has(path) && typeof map.sourcesContent?.[i] !== 'string') broken.push(`${file} -> ${path}`);
    });
  }
  return broken.length === 0 ? [] : [`${broken.length} source map sources are not shipped, e.g. ${broken.slice(0, 2).join(', ')}`];
}

/** Static (`import`/`export ... from`) and dynamic-literal specifiers of an emitted ES module. */
function specifiers(code: string): { static: string[]; dynamic: string[] } {
  const stat = [...code.matchAll(/^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s)?\s*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
  const dynamic = [...code.matchAll(/\bimport\(\s*(?:\/\*[^]*?\*\/\s*)*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]);
  return { static: stat, dynamic };
}

/** `node:fs/promises` -> `node:fs`, `@scope/pkg/sub` -> `@scope/pkg`, `pkg/sub` -> `pkg`. */
function packageOf(specifier: string): string {
  if (specifier.startsWith('node:')) return specifier.split('/')[0];
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Walks the import graph of every entry in `exports` (relative imports, static and dynamic)
 * and reports imports of undeclared packages, static imports of Node built-ins and any
 * import of `webgpu` by name from the entries not in {@link NODE_ONLY_ENTRIES}.
 */
export function checkImports(t: Unpacked): string[] {
  const problems = new Set<string>();
  const m = t.manifest;
  const declared = new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {})]);
  for (const [subpath, conditions] of Object.entries(m.exports ?? {})) {
    const entryName = subpath === '.' ? m.name : `${m.name}/${subpath.slice(2)}`;
    const browser = !(entryName in NODE_ONLY_ENTRIES);
    const target = conditions.default ?? conditions.import;
    if (!target) continue;
    const seen = new Set<string>();
    const queue = [normalize(target)];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const path = join(t.dir, file);
      if (!existsSync(path)) {
        problems.add(`${file} (imported from the ${entryName} graph) is not in the tarball`);
        continue;
      }
      const found = specifiers(readFileSync(path, 'utf8'));
      for (const [kind, list] of [['static', found.static], ['dynamic', found.dynamic]] as const) {
        for (const spec of list) {
          if (spec.startsWith('.')) {
            queue.push(normalize(relative(t.dir, join(dirname(path), spec))));
            continue;
          }
          const pkg = packageOf(spec);
          if (browser && kind === 'static' && isBuiltin(pkg)) {
            problems.add(`${file} statically imports ${spec}, so browser bundles of ${entryName} fail (load it dynamically, behind a check)`);
          }
          if (browser && pkg === 'webgpu') {
            problems.add(`${file} imports ${spec} by name, so bundlers pull Dawn (or fail without it) into browser bundles of ${entryName}`);
          }
          if (!isBuiltin(pkg) && !declared.has(pkg)) problems.add(`${file} imports ${spec}, which package.json does not declare`);
        }
      }
    }
  }
  return [...problems];
}
