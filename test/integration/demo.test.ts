// scripts/demo.sh end to end (root): the numbers it prints match the target server's own log and
// the bundled capture's recorded requests; a second run (other server) works; Ctrl-C cleans up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireRoot } from '../helpers/lab.js';
import { fixturesDir, repoRoot } from '../helpers/paths.js';

const skip = requireRoot();

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
}

function runDemo(args: string[], opts: { interruptOn?: RegExp } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['scripts/demo.sh', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (opts.interruptOn !== undefined && !sent && opts.interruptOn.test(out)) {
        sent = true;
        p.kill('SIGINT');
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

function field(out: string, name: string): number {
  const m = new RegExp(`^ {2}${name} +(\\d+)`, 'm').exec(out);
  assert.ok(m, `no "${name}" line in:\n${out}`);
  return Number(m[1]);
}

const meta = JSON.parse(readFileSync(join(fixturesDir, 'demo', 'http-sample.json'), 'utf8')) as { connections: number; requests: number; requestList: string[] };

function namespacesOf(labId: string): Promise<string[]> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    p.stdout.on('data', (d: Buffer) => (s += d.toString()));
    p.on('exit', () => resolve(s.split('\n').filter((l) => l.startsWith(`${labId}-`))));
  });
}

for (const server of ['nginx', 'node'] as const) {
  test(`demo.sh (${server} target): printed numbers match the server log and the capture; lab removed`, { skip, timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tcpcopy-demo-test-'));
    try {
      const log = join(dir, 'access.log');
      const run = await runDemo(['--server', server, '--keep-log', log]);
      assert.equal(run.code, 0, run.out);
      const lines = readFileSync(log, 'utf8').split('\n').filter((l) => l !== '');
      // Every access-log line is one request the target answered.
      assert.equal(field(run.out, 'requests logged'), lines.length, run.out);
      assert.equal(field(run.out, 'requests recorded'), meta.requests);
      assert.equal(field(run.out, 'requests sent'), meta.requests, run.out);
      assert.equal(lines.length, meta.requests, 'the server logged every recorded request');
      // The paths the server logged are exactly the recorded ones.
      const paths = lines.map((l) => /\/r\/demo\/\d+/.exec(l)?.[0] ?? l).sort();
      assert.deepEqual(paths, meta.requestList.map((r) => r.split(' ')[1]).sort());
      const sessions = /^ {2}sessions +(\d+) started, (\d+) established/m.exec(run.out);
      assert.deepEqual([Number(sessions?.[1]), Number(sessions?.[2])], [meta.connections, meta.connections], run.out);
      assert.match(run.out, /^ {2}fidelity +100\.0% /m);
      assert.match(run.out, /^ {2}leaked responses +0 /m);
      assert.match(run.out, /^ {2}time +replay \d+\.\d+ s, whole demo \d+\.\d+ s$/m);
      const labId = /demo: lab (tl[0-9a-z]+):/.exec(run.out)?.[1];
      assert.ok(labId !== undefined);
      assert.deepEqual(await namespacesOf(labId), [], 'namespaces left behind');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('demo.sh: Ctrl-C during the replay stops it and removes the lab', { skip, timeout: 120_000 }, async () => {
  const run = await runDemo([], { interruptOn: /demo: tcpcopy -x/ });
  const labId = /demo: lab (tl[0-9a-z]+):/.exec(run.out)?.[1];
  assert.ok(labId !== undefined, run.out);
  assert.notEqual(run.code, 0, 'an interrupted demo does not report success');
  assert.doesNotMatch(run.out, /done: every recorded request/);
  assert.deepEqual(await namespacesOf(labId), [], 'namespaces left behind after Ctrl-C');
});
