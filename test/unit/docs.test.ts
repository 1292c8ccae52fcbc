import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

// Comments and READMEs cite the design notes in docs/ by name and section ("docs/LAB.md",
// "wire-protocol.md §2.1"); each cited file must be in the repository, and each cited section
// must be one of its headings.

/** Problems with the doc references in `files` (path → text), given the docs (name → text). */
export function docProblems(files: ReadonlyMap<string, string>, docs: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const [path, text] of files) {
    for (const m of text.matchAll(/((?:[\w.-]+\/)*)([A-Za-z][\w-]*\.md)\b`?((?:,?\s*§\s?\d+(?:\.\d+)?)*)/g)) {
      const dir = m[1] ?? '';
      const name = m[2] as string;
      // Other folders' READMEs (test/helpers/README.md, …) are not design notes.
      if ((dir !== '' && dir !== 'docs/') || name === 'README.md') continue;
      const doc = docs.get(name);
      if (doc === undefined) {
        problems.push(`${path}: cites ${name}, which is not in docs/`);
        continue;
      }
      for (const s of (m[3] ?? '').matchAll(/§\s?(\d+(?:\.\d+)?)/g)) {
        const sec = s[1] as string;
        const heading = sec.includes('.') ? new RegExp(`^### ${sec.replace('.', '\\.')} `, 'm') : new RegExp(`^## ${sec}\\. `, 'm');
        if (!heading.test(doc)) problems.push(`${path}: cites ${name} §${sec}, which has no such section`);
      }
    }
  }
  return problems;
}

function walk(dir: string, exts: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'fixtures') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, exts));
    else if (exts.test(p)) out.push(p);
  }
  return out;
}

test('every design note cited in src, test, scripts, systemd and READMEs is in docs/, with the cited sections', () => {
  const exts = /\.(ts|mjs|md|sh|c|service)$/;
  const paths = [...['src', 'test', 'scripts', 'systemd', 'docs'].flatMap((d) => walk(join(repoRoot, d), exts)), join(repoRoot, 'README.md')];
  const files = new Map(paths.map((p) => [relative(repoRoot, p).split(sep).join('/'), readFileSync(p, 'utf8')]));
  const docsDir = join(repoRoot, 'docs');
  const docs = new Map(existsSync(docsDir) ? readdirSync(docsDir).filter((n) => n.endsWith('.md')).map((n) => [n, readFileSync(join(docsDir, n), 'utf8')]) : []);
  assert.deepEqual(docProblems(files, docs), []);
  for (const name of ['LAB.md', 'session-engine.md', 'wire-protocol.md']) assert.ok(docs.has(name), `docs/${name}`);
});

test('the doc check finds a missing note and a missing section (it can fail)', () => {
  const docs = new Map([['wire-protocol.md', '# x\n\n## 2. Messages\n\n### 2.1 Hello\n']]);
  const files = new Map([
    ['src/a.ts', '// hello (wire-protocol.md §2.1); frames (docs/wire-protocol.md §4)'],
    ['src/b.ts', '// see docs/LAB.md and src/core/session/README.md'],
    ['README.md', 'See `docs/wire-protocol.md` §2, §9.'],
  ]);
  assert.deepEqual(docProblems(files, docs), [
    'src/a.ts: cites wire-protocol.md §4, which has no such section',
    'src/b.ts: cites LAB.md, which is not in docs/',
    'README.md: cites wire-protocol.md §9, which has no such section',
  ]);
});
