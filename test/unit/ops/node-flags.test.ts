import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI_NODE_FLAGS, repoRoot } from '../../helpers/paths.js';

// The Node flags of the installed commands live in several places (each CLI's shebang, each systemd
// unit's ExecStart, the wrappers install-systemd.sh writes) and in CLI_NODE_FLAGS, which the
// benches use: they must not drift apart.

test('both CLIs start with a shebang that passes CLI_NODE_FLAGS to node', () => {
  for (const name of ['tcpcopy', 'intercept']) {
    const first = readFileSync(join(repoRoot, 'src', 'cli', `${name}.ts`), 'utf8').split('\n')[0];
    assert.equal(first, `#!/usr/bin/env -S node ${CLI_NODE_FLAGS.join(' ')}`, name);
  }
});

test('both systemd units run node with CLI_NODE_FLAGS', () => {
  for (const unit of ['tcpcopy@.service', 'intercept.service']) {
    const start = readFileSync(join(repoRoot, 'systemd', unit), 'utf8').split('\n').find((l) => l.startsWith('ExecStart='));
    assert.ok(start !== undefined, unit);
    assert.match(start, new RegExp(`^ExecStart=@NODE@ ${CLI_NODE_FLAGS.join(' ')} @PREFIX@/dist/src/cli/`), unit);
  }
});

test('the /usr/local/bin wrappers of install-systemd.sh run node with CLI_NODE_FLAGS', () => {
  const script = readFileSync(join(repoRoot, 'scripts', 'install-systemd.sh'), 'utf8');
  assert.ok(script.includes(`exec %s ${CLI_NODE_FLAGS.join(' ')} %s/dist/src/cli/%s.js`), 'wrapper line');
});

test('node accepts the flags (an unknown one makes it exit 9)', () => {
  const r = spawnSync(process.execPath, [...CLI_NODE_FLAGS, '-e', '0'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.notEqual(spawnSync(process.execPath, ['--no-such-flag-here=4', '-e', '0'], { timeout: 10_000 }).status, 0, 'the check can fail');
});
