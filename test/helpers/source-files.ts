import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { repoRoot } from './paths.js';

/** Every .ts file below `dir` (absolute paths), for the tests that read the source as text. */
export function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFilesUnder(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The .ts files of src/ by repository-relative path ('src/core/…'), with their text. */
export function srcFiles(): Map<string, string> {
  return new Map(tsFilesUnder(join(repoRoot, 'src')).map((p) => [relative(repoRoot, p).split(sep).join('/'), readFileSync(p, 'utf8')]));
}
