// SPDX-License-Identifier: MIT
// Fails when an exported symbol of any package lacks a JSDoc comment with an @example.
// Reads typedoc's JSON model (docs/api.json, written by the same `typedoc` run of `npm run docs`;
// typedoc itself already fails on undocumented or unexported-but-referenced symbols).
// Usage: node scripts/check-docs.mjs [path/to/api.json]
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// typedoc ReflectionKind values of the top-level symbols that must carry an example.
const KINDS = new Map([
  [8, 'enum'],
  [32, 'variable'],
  [64, 'function'],
  [128, 'class'],
  [256, 'interface'],
  [2097152, 'type'],
]);
// Containers whose children are exported symbols too: Project (1), Module (2), Namespace (4).
const CONTAINERS = new Set([1, 2, 4]);

const file = process.argv[2] ?? fileURLToPath(new URL('../docs/api.json', import.meta.url));
if (!existsSync(file)) {
  console.error(`check-docs: ${file} not found; run \`npm run docs\` (typedoc writes it).`);
  process.exit(2);
}
const model = JSON.parse(readFileSync(file, 'utf8'));

/** True when the symbol's comment, or the comment of one of its signatures, has an @example. */
function hasExample(reflection) {
  const comments = [reflection.comment, ...(reflection.signatures ?? []).map((s) => s.comment)].filter(Boolean);
  return comments.some((c) => (c.blockTags ?? []).some((t) => t.tag === '@example'));
}

const missing = [];
const perPackage = new Map();
function visit(node, pkg, prefix) {
  for (const child of node.children ?? []) {
    const name = prefix ? `${prefix}.${child.name}` : child.name;
    if (CONTAINERS.has(child.kind)) {
      // A package (module) starts a new group; a namespace nests within the current one.
      if (child.kind === 2 && pkg === null) visit(child, child.name, '');
      else visit(child, pkg, name);
      continue;
    }
    if (!KINDS.has(child.kind)) continue;
    const group = pkg ?? model.name;
    perPackage.set(group, (perPackage.get(group) ?? 0) + 1);
    if (!hasExample(child)) missing.push(`${group}: ${KINDS.get(child.kind)} ${name}`);
  }
}
visit(model, null, '');

const total = [...perPackage.values()].reduce((a, b) => a + b, 0);
if (total === 0) {
  console.error(`check-docs: no exported symbols found in ${file}; is the typedoc run empty?`);
  process.exit(1);
}
if (missing.length > 0) {
  console.error(`check-docs: ${missing.length} of ${total} exported symbol(s) lack a JSDoc @example:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
const counts = [...perPackage].map(([name, n]) => `${name} ${n}`).join(', ');
console.log(`check-docs: all ${total} exported symbols have a JSDoc @example (${counts}).`);
