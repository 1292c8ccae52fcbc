import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posix } from 'node:path';
import { srcFiles } from '../helpers/source-files.js';

// Every module under src/ must be used by the programs: code only tests or benchmarks use
// belongs in test/helpers, where it cannot drift from the product unnoticed. Imports through
// index.ts barrels count only for the names actually imported, so a barrel re-export does not
// keep a module alive by itself.

/** Modules kept although nothing uses them yet, with the reason. */
const KEEP: ReadonlyMap<string, string> = new Map<string, string>([]);

const ENTRIES = ['src/cli/tcpcopy.ts', 'src/cli/intercept.ts'];

type Names = readonly string[] | '*';
interface ModuleInfo {
  imports: { target: string; names: Names }[];
  reexports: { target: string; names: { orig: string; as: string }[] | '*' }[];
  exports: Set<string>;
}

function nameList(list: string): { orig: string; as: string }[] {
  return list
    .split(',')
    .map((s) => s.trim().replace(/^type\s+/, ''))
    .filter((s) => s !== '')
    .map((s) => {
      const [orig, as] = s.split(/\s+as\s+/) as [string, string | undefined];
      return { orig: orig.trim(), as: (as ?? orig).trim() };
    });
}

/** Imports, re-exports and exported names of one module; paths are repo-relative (posix). */
export function parseModule(path: string, text: string, exists: (p: string) => boolean): ModuleInfo {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const resolveSpec = (spec: string): string | null => {
    if (!spec.startsWith('.')) return null;
    const p = posix.join(posix.dirname(path), spec).replace(/\.js$/, '.ts');
    return exists(p) ? p : null;
  };
  const info: ModuleInfo = { imports: [], reexports: [], exports: new Set() };
  for (const m of code.matchAll(/\bimport\s+(?:type\s+)?([\s\S]*?)\s+from\s*['"]([^'"]+)['"]/g)) {
    const target = resolveSpec(m[2] as string);
    if (target === null) continue;
    const clause = (m[1] as string).trim();
    const brace = clause.indexOf('{');
    let names: Names;
    if (clause.startsWith('*')) names = '*';
    else if (brace < 0) names = ['default'];
    else {
      names = nameList(clause.slice(brace + 1, clause.lastIndexOf('}'))).map((n) => n.orig);
      if (brace > 0) names = ['default', ...names];
    }
    info.imports.push({ target, names });
  }
  for (const m of code.matchAll(/\bimport\s*(?:\(\s*)?['"]([^'"]+)['"]/g)) {
    const target = resolveSpec(m[1] as string);
    if (target !== null) info.imports.push({ target, names: '*' });
  }
  for (const m of code.matchAll(/\bexport\s+\*\s+from\s*['"]([^'"]+)['"]/g)) {
    const target = resolveSpec(m[1] as string);
    if (target !== null) info.reexports.push({ target, names: '*' });
  }
  for (const m of code.matchAll(/\bexport\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"]([^'"]+)['"]/g)) {
    const target = resolveSpec(m[2] as string);
    if (target !== null) info.reexports.push({ target, names: nameList(m[1] as string) });
  }
  const decl = /\bexport\s+(?:declare\s+)?(?:default\s+)?(?:abstract\s+)?(?:async\s+)?(?:function\*?|const|let|var|class|interface|type|enum)\s+([A-Za-z_$][\w$]*)/g;
  for (const m of code.matchAll(decl)) info.exports.add(m[1] as string);
  for (const m of code.matchAll(/\bexport\s+(?:type\s+)?\{([^}]*)\}\s*;/g)) for (const n of nameList(m[1] as string)) info.exports.add(n.as);
  return info;
}

/** Modules reachable from the entries, following only the names each import asks for. */
export function reachable(files: ReadonlyMap<string, string>, entries: readonly string[]): Set<string> {
  const exists = (p: string): boolean => files.has(p);
  const infos = new Map([...files].map(([p, text]) => [p, parseModule(p, text, exists)]));
  const reached = new Set<string>();
  const seen = new Set<string>();
  const visit = (path: string, names: Names): void => {
    const key = `${path}|${names === '*' ? '*' : names.join(',')}`;
    const info = infos.get(path);
    if (seen.has(key) || info === undefined) return;
    seen.add(key);
    // Used once a name it declares itself is asked for; re-exports only route names onward.
    const own = names === '*' || names.some((n) => n === 'default' || info.exports.has(n));
    if (own && !reached.has(path)) {
      reached.add(path);
      for (const i of info.imports) visit(i.target, i.names);
    }
    for (const r of info.reexports) {
      if (r.names === '*') visit(r.target, names);
      else {
        const wanted = r.names.filter((n) => names === '*' || names.includes(n.as)).map((n) => n.orig);
        if (wanted.length > 0) visit(r.target, wanted);
      }
    }
  };
  for (const e of entries) visit(e, '*');
  return reached;
}

test('every module under src/ is used by tcpcopy or intercept (test-only code lives in test/helpers)', () => {
  const files = srcFiles();
  const used = reachable(files, ENTRIES);
  const unused = [...files.keys()].filter((p) => !used.has(p) && !p.endsWith('/index.ts') && !KEEP.has(p));
  assert.deepEqual(unused, []);
  for (const [p, why] of KEEP) assert.ok(files.has(p) && !used.has(p), `${p} (kept: ${why}) is used or gone now: remove it from KEEP`);
});

test('the reachability check finds a module only a barrel re-exports (it can fail)', () => {
  const files = new Map([
    ['src/cli/main.ts', "import { a } from '../core/lib/index.js';\nimport type { T } from '../core/types.js';\nvoid (await import('../io/lazy.js'));"],
    ['src/core/lib/index.ts', "export * from './a.js';\nexport * from './unused.js';\nexport { c as renamed } from './c.js';"],
    ['src/core/lib/a.ts', "import { b } from './b.js';\nexport const a = b;"],
    ['src/core/lib/b.ts', 'export const b = 1;'],
    ['src/core/lib/c.ts', 'export const c = 1;'],
    ['src/core/lib/unused.ts', 'export function unused(): number {\n  return 1;\n}'],
    ['src/core/types.ts', 'export interface T {\n  x: number;\n}'],
    ['src/io/lazy.ts', 'export const lazy = 1;'],
  ]);
  const used = reachable(files, ['src/cli/main.ts']);
  assert.deepEqual([...files.keys()].filter((p) => !used.has(p) && !p.endsWith('/index.ts')), ['src/core/lib/c.ts', 'src/core/lib/unused.ts']);
  files.set('src/cli/main.ts', `${files.get('src/cli/main.ts')}\nimport { renamed } from '../core/lib/index.js';`);
  assert.ok(reachable(files, ['src/cli/main.ts']).has('src/core/lib/c.ts'), 'a renamed re-export counts under its new name');
});
