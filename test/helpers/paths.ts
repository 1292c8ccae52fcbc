import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

// Tests run from dist/test/...; the repository root is three levels above this compiled file.
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
export const fixturesDir = resolve(repoRoot, 'test', 'fixtures');
export const distDir = resolve(repoRoot, 'dist');
export const cliPath = (name: 'tcpcopy' | 'intercept'): string => resolve(distDir, 'src', 'cli', `${name}.js`);

/**
 * Node flags the installed commands run with (their shebang and the systemd units; a unit test
 * keeps the three in step): a 4 MB young generation instead of 16 MB keeps ~20 MB of RSS off
 * every process at no measurable CPU cost (A/B on the replay bench). Benches pass them too so
 * their tables measure what operators run.
 */
export const CLI_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
