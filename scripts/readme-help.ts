// Keeps README's flag reference equal to what the programs print for -h, so it cannot drift:
// `node dist/scripts/readme-help.js` rewrites the blocks, and a unit test fails when they differ.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROGRAMS = ['tcpcopy', 'intercept'] as const;
export type Program = (typeof PROGRAMS)[number];

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What `<program> -h` prints when not on a terminal (commander then wraps at 80 columns). */
export function helpText(program: Program): string {
  const cli = resolve(root, 'dist', 'src', 'cli', `${program}.js`);
  const r = spawnSync(process.execPath, [cli, '-h'], { encoding: 'utf8', env: { ...process.env, COLUMNS: '80' } });
  if (r.status !== 0) throw new Error(`${program} -h exited ${r.status}: ${r.stderr}`);
  return r.stdout.trimEnd();
}

const markers = (p: Program): [string, string] => [`<!-- ${p} -h: start -->`, `<!-- ${p} -h: end -->`];

/** The README with each program's block replaced by its current help (throws if a marker is missing). */
export function withHelp(readme: string, help: (p: Program) => string): string {
  let out = readme;
  for (const p of PROGRAMS) {
    const [start, end] = markers(p);
    const a = out.indexOf(start);
    const b = out.indexOf(end);
    if (a < 0 || b < a) throw new Error(`README.md has no "${start}" … "${end}" block`);
    out = `${out.slice(0, a + start.length)}\n\`\`\`\n${help(p)}\n\`\`\`\n${out.slice(b)}`;
  }
  return out;
}

export const readmePath = resolve(root, 'README.md');

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const before = readFileSync(readmePath, 'utf8');
  const after = withHelp(before, helpText);
  if (after !== before) writeFileSync(readmePath, after);
  process.stdout.write(after === before ? 'README.md flag reference is up to date\n' : 'README.md flag reference updated\n');
}
