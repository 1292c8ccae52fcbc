import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

// Tests run from dist/test/...; the repository root is three levels above this compiled file.
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
export const fixturesDir = resolve(repoRoot, 'test', 'fixtures');
export const distDir = resolve(repoRoot, 'dist');
export const cliPath = (name: 'tcpcopy' | 'intercept'): string => resolve(distDir, 'src', 'cli', `${name}.js`);

/**
 * Node flags each installed command runs with (its shebang, its systemd unit, its install wrapper;
 * a unit test keeps them in step). A 4 MB young generation instead of 16 MB keeps ~20 MB of RSS off
 * the copier at no measurable CPU cost (A/B on the replay bench); the interceptor allocates little
 * per packet, and 1 MB keeps another ~6 MB off it, its CPU unchanged (5x replays). Benches pass
 * them too so their tables measure what operators run.
 */
export const NODE_FLAGS: Readonly<Record<'tcpcopy' | 'intercept', readonly string[]>> = {
  tcpcopy: ['--max-semi-space-size=4'],
  intercept: ['--max-semi-space-size=1'],
};
