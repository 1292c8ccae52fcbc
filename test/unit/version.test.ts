import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { VERSION } from '../../src/core/version.js';
import { repoRoot, cliPath } from '../helpers/paths.js';

test('VERSION matches package.json', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  assert.equal(VERSION, pkg.version);
});

for (const name of ['tcpcopy', 'intercept'] as const) {
  test(`${name} -v prints the version and -h the usage`, () => {
    const v = spawnSync(process.execPath, [cliPath(name), '-v'], { encoding: 'utf8' });
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), VERSION);
    const h = spawnSync(process.execPath, [cliPath(name), '-h'], { encoding: 'utf8' });
    assert.equal(h.status, 0);
    assert.match(h.stdout, new RegExp(`Usage: ${name}`));
  });
}
