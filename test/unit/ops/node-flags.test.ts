import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS, repoRoot } from '../../helpers/paths.js';

// The Node flags of each installed command live in several places (its CLI's shebang, its systemd
// unit's ExecStart, the wrapper install-systemd.sh writes) and in NODE_FLAGS, which the benches
// and tests use: they must not drift apart.
const NAMES = ['tcpcopy', 'intercept'] as const;

test('each CLI starts with a shebang that passes its NODE_FLAGS to node', () => {
  for (const name of NAMES) {
    const first = readFileSync(join(repoRoot, 'src', 'cli', `${name}.ts`), 'utf8').split('\n')[0];
    assert.equal(first, `#!/usr/bin/env -S node ${NODE_FLAGS[name].join(' ')}`, name);
  }
});

test('each systemd unit runs node with its command\'s NODE_FLAGS', () => {
  for (const [unit, name] of [['tcpcopy@.service', 'tcpcopy'], ['intercept.service', 'intercept']] as const) {
    const start = readFileSync(join(repoRoot, 'systemd', unit), 'utf8').split('\n').find((l) => l.startsWith('ExecStart='));
    assert.ok(start !== undefined, unit);
    assert.match(start, new RegExp(`^ExecStart=@NODE@ ${NODE_FLAGS[name].join(' ')} @PREFIX@/dist/src/cli/${name}\\.js`), unit);
  }
});

test('the /usr/local/bin wrappers of install-systemd.sh run node with each command\'s NODE_FLAGS', () => {
  const script = readFileSync(join(repoRoot, 'scripts', 'install-systemd.sh'), 'utf8');
  assert.ok(script.includes('exec %s %s %s/dist/src/cli/%s.js'), 'wrapper line');
  assert.ok(script.includes(`flags=${NODE_FLAGS.tcpcopy.join(' ')}\n`), 'tcpcopy flags');
  assert.ok(script.includes(`[[ $c == intercept ]] && flags=${NODE_FLAGS.intercept.join(' ')}\n`), 'intercept flags');
});

test('node accepts the flags (an unknown one makes it exit 9)', () => {
  for (const name of NAMES) {
    const r = spawnSync(process.execPath, [...NODE_FLAGS[name], '-e', '0'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
  }
  assert.notEqual(spawnSync(process.execPath, ['--no-such-flag-here=4', '-e', '0'], { timeout: 10_000 }).status, 0, 'the check can fail');
});
