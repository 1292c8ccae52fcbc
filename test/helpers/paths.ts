import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

// Tests run from dist/test/...; the repository root is three levels above this compiled file.
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
export const fixturesDir = resolve(repoRoot, 'test', 'fixtures');
export const distDir = resolve(repoRoot, 'dist');
export const cliPath = (name: 'tcpcopy' | 'intercept'): string => resolve(distDir, 'src', 'cli', `${name}.js`);
