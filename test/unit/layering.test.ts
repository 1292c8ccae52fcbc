import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { tsFilesUnder } from '../helpers/source-files.js';

// README (Layout): src/core is pure (no I/O, no clock, no timers), so it can be tested without root
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

export function coreViolations(root: string): string[] {
  const found: string[] = [];
  for (const file of tsFilesUnder(join(root, 'src', 'core'))) {
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

// Folders of src/core form layers: an import cycle between two folders (type-only imports
// included) means neither can be understood, tested or moved without the other.

/** Relative module specifiers a source text imports or re-exports (`import type` included). */
export function relativeImports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of code.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) out.push(m[1] as string);
  return out;
}

/** The folder of a file under src/core ('.' for files directly in it). */
function coreFolder(coreDir: string, file: string): string {
  const parts = relative(coreDir, file).split(sep);
  return parts.length === 1 ? '.' : (parts[0] as string);
}

/** Folder → folder edges of src/core, each with the first import that makes it. */
export function coreFolderEdges(root: string): Map<string, string> {
  const coreDir = join(root, 'src', 'core');
  const edges = new Map<string, string>();
  for (const file of tsFilesUnder(coreDir)) {
    const from = coreFolder(coreDir, file);
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      if (relative(coreDir, target).startsWith('..')) continue;
      const to = coreFolder(coreDir, target);
      const key = `${from} -> ${to}`;
      if (from !== to && !edges.has(key)) edges.set(key, `${relative(root, file)} imports ${spec}`);
    }
  }
  return edges;
}

/** One cycle of the graph as [a, b, …, a], or null. */
export function findCycle(edges: Iterable<string>): string[] | null {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    const [from, to] = e.split(' -> ') as [string, string];
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const m of next.get(n) ?? []) {
      const c = visit(m);
      if (c !== null) return c;
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of next.keys()) {
    const c = visit(n);
    if (c !== null) return c;
  }
  return null;
}

/**
 * Edges known to close a cycle whose fix waits on code being rewritten elsewhere. Each must
 * still exist (so a fixed one is removed from here), and no other cycle is tolerated.
 */
const PENDING_EDGES: ReadonlyMap<string, string> = new Map([]);

test('src/core folders import each other without a cycle (type-only imports included)', () => {
  const edges = coreFolderEdges(repoRoot);
  const cycle = findCycle([...edges.keys()].filter((e) => !PENDING_EDGES.has(e)));
  const why = cycle === null ? '' : cycle.slice(1).map((to, i) => `${cycle[i]} -> ${to}: ${edges.get(`${cycle[i]} -> ${to}`)}`).join('\n');
  assert.equal(cycle, null, `folder import cycle:\n${why}`);
  for (const [edge, fix] of PENDING_EDGES) assert.ok(edges.has(edge), `${edge} is gone (${fix}): remove it from PENDING_EDGES`);
});

test('the cycle check catches a cycle (it can fail)', () => {
  assert.deepEqual(findCycle(['a -> b', 'b -> c', 'c -> a']), ['a', 'b', 'c', 'a']);
  assert.deepEqual(findCycle(['x -> a', 'a -> b', 'b -> a']), ['a', 'b', 'a']);
  assert.equal(findCycle(['a -> b', 'b -> c', 'a -> c']), null);
  const text = [
    "import type { Transfer } from '../config/copier.js';",
    'import {',
    '  a,',
    "} from './b.js';",
    "export * from '../packet/ipv4.js';",
    "// import { old } from '../gone.js';",
    "import { Buffer } from 'node:buffer';",
  ].join('\n');
  assert.deepEqual(relativeImports(text), ['../config/copier.js', './b.js', '../packet/ipv4.js']);
  // Before core/transfer.ts and without copier-engine.ts, these two edges were the cycle.
  assert.deepEqual(findCycle(['config -> session', 'session -> config', 'session -> packet']), ['config', 'session', 'config']);
});
