// SPDX-License-Identifier: MIT
// Fails when an exported symbol of any package lacks a JSDoc comment with an @example.
// Reads typedoc's JSON model (docs/api.json, written by `npm run docs`).
import { readFileSync } from 'node:fs';

const KINDS = new Map([[64, 'function'], [128, 'class'], [256, 'interface'], [2097152, 'type'], [32, 'variable'], [8, 'enum']]);
const model = JSON.parse(readFileSync(new URL('../docs/api.json', import.meta.url), 'utf8'));

function hasExample(reflection) {
  const comments = [reflection.comment, ...(reflection.signatures ?? []).map((s) => s.comment)].filter(Boolean);
  return comments.some((c) => (c.blockTags ?? []).some((t) => t.tag === '@example'));
}

const missing = [];
for (const pkg of model.children ?? []) {
  for (const child of pkg.children ?? []) {
    if (!KINDS.has(child.kind)) continue;
    if (!hasExample(child)) missing.push(`${pkg.name}: ${KINDS.get(child.kind)} ${child.name}`);
  }
}
if (missing.length > 0) {
  console.error(`${missing.length} exported symbol(s) lack a JSDoc @example:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log('check-docs: every exported symbol has a JSDoc @example.');
