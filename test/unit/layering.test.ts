import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

// DESIGN.md: src/core is pure (no I/O, no clock, no timers), so it can be tested without root
// and replayed deterministically. This test enforces the rule on the source text.
const FORBIDDEN: { pattern: RegExp; why: string }[] = [
  { pattern: /from\s+['"](node:)?(?!buffer['"])[a-z_]+(\/[a-z_]+)?['"]/, why: 'imports a node module other than node:buffer' },
  { pattern: /require\(/, why: 'uses require()' },
  { pattern: /import\(/, why: 'uses dynamic import()' },
  { pattern: /from\s+['"](nfqueue|raw-socket|cap|commander|prom-client)['"]/, why: 'imports a native addon or app library' },
  { pattern: /from\s+['"]\.\.\/(\.\.\/)*(io|app|cli)\//, why: 'imports from io/, app/ or cli/' },
  { pattern: /\bDate\.now\s*\(|\bnew\s+Date\s*\(|performance\.now\s*\(|process\.hrtime/, why: 'reads the clock' },
  { pattern: /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/, why: 'uses timers' },
  { pattern: /\bprocess\.(env|exit|stdout|stderr|argv|on)\b/, why: 'touches the process' },
  { pattern: /\bMath\.random\s*\(/, why: 'uses unseeded randomness' },
];

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

export function coreViolations(root: string): string[] {
  const found: string[] = [];
  for (const file of walk(join(root, 'src', 'core'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      if (/^\s*\*/.test(code)) return; // doc comment lines
      for (const rule of FORBIDDEN) {
        if (rule.pattern.test(code)) found.push(`${relative(root, file)}:${i + 1} ${rule.why}: ${line.trim()}`);
      }
    });
  }
  return found;
}

test('src/core imports no I/O, clock, timers or addons', () => {
  assert.deepEqual(coreViolations(repoRoot), []);
});

test('the layer check catches a violation (it can fail)', () => {
  const rule = FORBIDDEN.find((r) => r.why.startsWith('imports a node module'));
  assert.ok(rule?.pattern.test("import { Socket } from 'node:net';"));
  assert.ok(!rule?.pattern.test("import { Buffer } from 'node:buffer';"));
  assert.ok(!rule?.pattern.test("import { x } from './ipv4.js';"));
  const clock = FORBIDDEN.find((r) => r.why === 'reads the clock');
  assert.ok(clock?.pattern.test('const t = Date.now();'));
  const timers = FORBIDDEN.find((r) => r.why === 'uses timers');
  assert.ok(timers?.pattern.test('setTimeout(() => 1, 5)'));
});
