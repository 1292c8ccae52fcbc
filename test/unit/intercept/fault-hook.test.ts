import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { distDir, repoRoot } from '../../helpers/paths.js';
import { tsFilesUnder } from '../../helpers/source-files.js';

// The crash clean-up test injects its fault through test/helpers/intercept-fault.ts; the
// programs themselves must not read a test switch from the environment.

/** Environment variables src/ may read, and why. */
const ALLOWED: ReadonlyMap<string, string> = new Map([
  ['TCPCOPY_TS_DAEMON_CHILD', 'marks the re-spawned -d child'],
  ['TCPCOPY_TS_NFQ_BACKEND', 'operator switch, documented in README'],
  ['TCPCOPY_TS_NFQ_GSO', 'operator switch (GSO packets whole or segmented), documented in README'],
  ['JOURNAL_STREAM', 'set by systemd: log with journald priorities'],
]);

/** Environment variable names a source text mentions (project-prefixed or read as process.env.X). */
export function envNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\bTCPCOPY_TS_[A-Z0-9_]+\b/g)) names.add(m[0]);
  for (const m of text.matchAll(/\bprocess\.env\.([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1] as string);
  return [...names];
}

test('src/ reads no test-only environment variable', () => {
  const found: string[] = [];
  for (const file of tsFilesUnder(join(repoRoot, 'src'))) {
    for (const name of envNames(readFileSync(file, 'utf8'))) if (!ALLOWED.has(name)) found.push(`${relative(repoRoot, file)}: ${name}`);
  }
  assert.deepEqual(found, []);
  assert.deepEqual(envNames("const f = process.env.TCPCOPY_TS_FAULT_AFTER_MS;\nprocess.env.HOME"), ['TCPCOPY_TS_FAULT_AFTER_MS', 'HOME'], 'the scan finds a read');
});

test('the fault wrapper runs the real intercept command line', () => {
  const wrapper = join(distDir, 'test', 'helpers', 'intercept-fault.js');
  const run = (args: string[]): { code: number | null; out: string; err: string } => {
    const r = spawnSync(process.execPath, [wrapper, ...args], { encoding: 'utf8', timeout: 10_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const help = run(['1500', '-h']);
  assert.equal(help.code, 0, help.err);
  assert.match(help.out, /^Usage: intercept \[options\]/);
  assert.equal(run(['1500', '--bogus']).code, 2);
  assert.equal(run(['1500', '-p', '99999']).code, 2);
  const usage = run(['-h']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /usage: intercept-fault\.js MS/);
});
