import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, repoRoot } from '../../helpers/paths.js';

const run = (args: string[]): { code: number | null; out: string; err: string } => {
  const r = spawnSync(process.execPath, [cliPath('intercept'), ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('intercept -h lists every stock flag and the long options', () => {
  const { code, out } = run(['-h']);
  assert.equal(code, 0);
  for (const f of ['-p,', '-b,', '-x,', '-n,', '-q,', '-s,', '-c,', '-D,', '-l,', '-P,', '-d,', '-v,', '-h,']) assert.ok(out.includes(f), f);
  for (const f of ['--queue-num', '--with-payload', '--allow', '--stats-interval', '--log-level', '--install-rule']) assert.ok(out.includes(f), f);
});

test('intercept -v prints the version; a bad value exits 2 naming the flag', () => {
  const v = run(['-v']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^\d+\.\d+\.\d+/);
  const bad = run(['-p', '99999']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^intercept: -p "99999": expected a TCP port/);
});

test('-s is documented as accepted for compatibility and ignored (it is parsed and never used)', () => {
  const { out } = run(['-h']);
  assert.match(out, /-s, --hash-size <n>\s+stock hash-table size: accepted for\s+compatibility and ignored/);
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  assert.match(readme, /`-s` \(stock's hash-table size\) is accepted for compatibility and ignored/);
});
