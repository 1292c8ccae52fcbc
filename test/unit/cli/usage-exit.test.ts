import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cliPath } from '../../helpers/paths.js';

// Both programs exit 2 on any command-line error (the systemd units stop restarting on 2), also
// for the errors commander itself finds (its own default exit status is 1).

const run = (name: 'tcpcopy' | 'intercept', args: string[]): { code: number | null; err: string } => {
  const r = spawnSync(process.execPath, [cliPath(name), ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, err: r.stderr };
};

const CASES: { name: 'tcpcopy' | 'intercept'; args: string[]; flag: RegExp }[] = [
  { name: 'intercept', args: ['--bogus'], flag: /unknown option '--bogus'/ },
  { name: 'intercept', args: ['-p'], flag: /option '-p, --port <port>' argument missing/ },
  { name: 'intercept', args: ['--stats-interval', '0', '--queue-num'], flag: /option '--queue-num <n>' argument missing/ },
  { name: 'tcpcopy', args: ['--bogus'], flag: /unknown option '--bogus'/ },
  { name: 'tcpcopy', args: ['-x'], flag: /option '-x, --transfer <map>' argument missing/ },
  { name: 'tcpcopy', args: ['--record', 'r', '--record-rotate', '10'], flag: /--record-rotate "10": expected a size such as 500MiB/ },
  // Fails on the directory before any capture device is opened.
  { name: 'tcpcopy', args: ['--record', '/nonexistent-dir-tcpcopy/r', '-F', 'tcp', '-i', 'lo'], flag: /--record "\/nonexistent-dir-tcpcopy\/r": cannot list the directory \/nonexistent-dir-tcpcopy: ENOENT/ },
];

for (const c of CASES) {
  test(`${c.name} ${c.args.join(' ')}: usage error exits 2 and names the flag`, () => {
    const r = run(c.name, c.args);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, c.flag);
  });
}

test('help and version still exit 0', () => {
  for (const name of ['tcpcopy', 'intercept'] as const) {
    assert.equal(run(name, ['-h']).code, 0, `${name} -h`);
    assert.equal(run(name, ['-v']).code, 0, `${name} -v`);
  }
});
