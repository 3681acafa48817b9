#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Generates docs/coverage.md: which ops the backend conformance suite covers (golden fixtures,
// dtypes, fixture gradients, finite differences, second order, non-contiguous inputs) and
// which backends pass. The case list comes from the built package
// (packages/backend-conformance/dist/cases.js, so run `npm run build` first); the backend
// columns come from running every packages/*/test/*conformance*.test.ts with vitest's JSON
// reporter (skip that with --no-run). Output is deterministic (no dates, sorted rows).
//
//   node scripts/coverage-table.mjs            # run the suites, write docs/coverage.md
//   node scripts/coverage-table.mjs --no-run   # coverage only, no backend columns
//   node scripts/coverage-table.mjs --out other.md
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const run = !args.includes('--no-run');
const outIndex = args.indexOf('--out');
const out = outIndex >= 0 ? args[outIndex + 1] : join(root, 'docs', 'coverage.md');

const casesModule = join(root, 'packages', 'backend-conformance', 'dist', 'cases.js');
if (!existsSync(casesModule)) {
  console.error(`coverage-table: ${relative(root, casesModule)} is missing; run \`npm run build\` first.`);
  process.exit(1);
}
const { conformanceCases } = await import(pathToFileURL(casesModule).href);

/** Conformance test files of every package. */
function suiteFiles() {
  const files = [];
  for (const pkg of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', pkg, 'test');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) if (/conformance\.test\.ts$/.test(f)) files.push(join('packages', pkg, 'test', f));
  }
  return files;
}

/** backend name -> { file, results: Map<case id, { status, reason }> } from a vitest JSON run. */
function runSuites(files) {
  const dir = mkdtempSync(join(tmpdir(), 'heed-coverage-'));
  const json = join(dir, 'results.json');
  const r = spawnSync('npx', ['vitest', 'run', ...files, '--reporter=json', `--outputFile=${json}`], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(json)) {
    console.error(`coverage-table: vitest produced no results (exit ${r.status}).`);
    process.exit(1);
  }
  const report = JSON.parse(readFileSync(json, 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  const backends = new Map();
  for (const file of report.testResults) {
    for (const a of file.assertionResults) {
      const m = /^backend conformance: (.+)$/.exec(a.ancestorTitles[0] ?? '');
      if (!m) continue;
      if (!backends.has(m[1])) backends.set(m[1], { file: relative(root, file.name), results: new Map() });
      const meta = a.meta?.conformance;
      const status = a.status === 'passed' ? (meta?.status === 'expected-failure' ? 'expected-failure' : 'pass')
        : a.status === 'failed' ? 'fail' : 'skipped';
      backends.get(m[1]).results.set(a.title, { status, reason: meta?.reason ?? (a.failureMessages?.[0] ?? '').split('\n')[0] });
    }
  }
  return backends;
}

const backends = run ? runSuites(suiteFiles()) : new Map();
const names = [...backends.keys()].sort();

const esc = (s) => String(s).replace(/\|/g, '\\|');
const table = (head, rows) => [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');

/** One cell summarising a backend's results over `cases`. */
function cell(name, cases) {
  const res = backends.get(name).results;
  const counts = { pass: 0, fail: 0, 'expected-failure': 0, skipped: 0, missing: 0 };
  for (const c of cases) counts[res.get(c.id)?.status ?? 'missing']++;
  const parts = [];
  if (counts.fail) parts.push(`✗ ${counts.fail} failing`);
  if (counts['expected-failure']) parts.push(`⚠ ${counts['expected-failure']} known`);
  if (counts.skipped) parts.push(`${counts.skipped} skipped`);
  if (counts.missing) parts.push(`${counts.missing} not run`);
  return parts.length === 0 ? '✓' : counts.pass ? `✓ ${counts.pass}, ${parts.join(', ')}` : parts.join(', ');
}

const byOp = new Map();
for (const c of conformanceCases) {
  if (!byOp.has(c.op)) byOp.set(c.op, []);
  byOp.get(c.op).push(c);
}
const isFixture = (c) => c.id.startsWith('fixtures/');
const opRows = [...byOp.entries()]
  .filter(([, cs]) => cs.some((c) => isFixture(c) || c.group === 'finite-diff'))
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([op, cs]) => {
    const fixtures = cs.filter(isFixture);
    const dtypes = [...new Set(fixtures.flatMap((c) => c.dtypes))].sort().join(', ');
    const count = (g) => cs.filter((c) => c.group === g).length;
    const others = [...new Set(cs.filter((c) => !isFixture(c) && !['finite-diff', 'second-order', 'non-contiguous'].includes(c.group)).map((c) => c.group))];
    return [`\`${op}\``, fixtures.length, dtypes || '—', fixtures.some((c) => c.hasGradient) ? '✓' : '—', count('finite-diff') || '—',
      count('second-order') || '—', count('non-contiguous') || '—', others.join(', ') || '—', ...names.map((n) => cell(n, cs))];
  });

const groupRows = [...new Set(conformanceCases.map((c) => c.group))].map((g) => {
  const cs = conformanceCases.filter((c) => c.group === g);
  return [g, cs.length, cs.filter((c) => c.hasGradient).length, ...names.map((n) => cell(n, cs))];
});

const lines = [
  '# Backend conformance coverage',
  '',
  '<!-- Generated by scripts/coverage-table.mjs; do not edit by hand. -->',
  '',
  `The suite of \`@heed/backend-conformance\` has **${conformanceCases.length} cases**, ` +
    `${conformanceCases.filter(isFixture).length} of them against PyTorch 1.13 golden fixtures ` +
    '(`packages/backend-conformance/fixtures/core.json`, from `scripts/fixtures/gen_core_fixtures.py`). ' +
    'Every backend runs all of them through `defineConformanceSuite`.',
  '',
  'Legend: ✓ all cases pass · ⚠ known failures (`it.fails`, listed below) · ✗ failing · numbers are case counts.',
  '',
];
if (names.length > 0) {
  lines.push('## Backends', '', table(['backend', 'suite', 'passed', 'known failures', 'skipped', 'failing'], names.map((n) => {
    const { file, results } = backends.get(n);
    const s = [...results.values()];
    const k = (st) => s.filter((r) => r.status === st).length;
    return [n, `\`${file}\``, k('pass'), k('expected-failure'), k('skipped'), k('fail')];
  })), '');
}
lines.push('## Groups', '', table(['group', 'cases', 'with gradients', ...names], groupRows), '');
lines.push('## Ops', '',
  'Fixtures: golden cases (forward values, and gradients of `sum(out * U)` where marked). Finite differences: central-difference ' +
  'checks in float32 on the backend itself; 2nd order: nested `grad`. Non-contiguous: the same fixtures with inputs stored ' +
  'transposed and strided/offset, plus stride-0 (expanded) inputs per family.', '',
  table(['op', 'fixtures', 'dtypes', 'fixture grads', 'finite diff', '2nd order', 'non-contiguous', 'other groups', ...names], opRows), '');
for (const n of names) {
  const open = [...backends.get(n).results.entries()].filter(([, r]) => r.status !== 'pass').sort(([a], [b]) => a.localeCompare(b));
  if (open.length === 0) continue;
  lines.push(`## Not passing on \`${n}\``, '', table(['case', 'status', 'reason'], open.map(([id, r]) => [`\`${id}\``, r.status, r.reason || '—'])), '');
}
writeFileSync(out, `${lines.join('\n').trimEnd()}\n`);
console.log(`coverage-table: wrote ${relative(root, out)} (${conformanceCases.length} cases${names.length ? `, backends: ${names.join(', ')}` : ''}).`);
