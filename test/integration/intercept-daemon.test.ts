import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { labFor, processRunning, requireRoot } from '../helpers/lab.js';

// -d / -P / -l as an init script uses them: the command returns at once, the detached daemon
// writes its PID file and log, SIGHUP reopens the log after a rotation, SIGTERM stops it and
// removes the PID file. Runs in its own namespace (NFQUEUE and the channel port are per netns).

const skip = requireRoot();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) if (cond()) return;
  assert.fail(`timed out waiting for ${what}`);
}

const read = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '');

test('-d -P -l: detached daemon with PID file and log; SIGHUP reopens the log; SIGTERM stops it and removes the PID file', { skip }, async (t) => {
  const lab = await labFor(t, { name: 'icptd' });
  const ns = await lab.addNamespace('d');
  const dir = lab.mkdir('daemon');
  const pidFile = join(dir, 'intercept.pid');
  const logFile = join(dir, 'intercept.log');
  let pid = -1;
  t.after(() => {
    if (pid > 0 && processRunning(pid)) process.kill(pid, 'SIGKILL'); // only the daemon we started
  });
  const r = await lab.exec(ns, process.execPath, [cliPath('intercept'), '-d', '-P', pidFile, '-l', logFile, '--queue-num', '7', '--stats-interval', '0'], { timeoutMs: 10_000 });
  assert.equal(r.code, 0);
  const m = /running in the background, PID (\d+), logging to (.+)$/m.exec(r.stdout);
  assert.ok(m !== null, `parent output: ${r.stdout} ${r.stderr}`);
  pid = Number(m[1]);
  assert.equal(m[2], logFile);
  await until('the PID file', () => read(pidFile).trim() !== '');
  assert.equal(Number(read(pidFile).trim()), pid, 'the PID file names the daemon, not the parent');
  await until('"intercept ready" in the log', () => /intercept ready/.test(read(logFile)));
  assert.ok(processRunning(pid));

  // logrotate: move the file, SIGHUP, the daemon writes to a new file at the old path.
  const rotated = `${logFile}.1`;
  renameSync(logFile, rotated);
  process.kill(pid, 'SIGHUP');
  await until('a new log file after SIGHUP', () => /log file reopened/.test(read(logFile)));
  assert.ok(processRunning(pid), 'SIGHUP does not stop the daemon');

  process.kill(pid, 'SIGTERM');
  await until('the daemon to exit', () => !processRunning(pid));
  assert.ok(!existsSync(pidFile), 'PID file removed at exit');
  assert.match(read(logFile), /shutting down: SIGTERM[\s\S]*final stats: queued=/);
  assert.doesNotMatch(read(rotated), /final stats/, 'nothing written to the rotated file after SIGHUP');
});

test('-d reports a start-up failure: non-zero exit naming the cause, no PID file left', { skip }, async (t) => {
  const lab = await labFor(t, { name: 'icptdf' });
  const ns = await lab.addNamespace('d');
  const dir = lab.mkdir('daemon');
  // Another intercept holds queue 7: the daemon cannot bind it.
  const first = lab.spawn(ns, process.execPath, [cliPath('intercept'), '--queue-num', '7', '--stats-interval', '0']);
  await first.waitFor(/intercept ready/, 'stderr', 10_000);
  const pidFile = join(dir, 'second.pid');
  const logFile = join(dir, 'second.log');
  const r = await lab.exec(ns, process.execPath, [cliPath('intercept'), '-d', '-P', pidFile, '-l', logFile, '--queue-num', '7', '-p', '36525'], { timeoutMs: 20_000, check: false });
  const pid = /PID (\d+)/.exec(r.stdout + r.stderr)?.[1];
  t.after(() => {
    if (pid !== undefined && processRunning(Number(pid))) process.kill(Number(pid), 'SIGKILL');
  });
  assert.notEqual(r.code, 0, `exit code; output: ${r.stdout} ${r.stderr}`);
  assert.match(r.stderr, /intercept: the background daemon failed to start.*cannot bind NFQUEUE 7/);
  assert.match(r.stderr, new RegExp(`see ${logFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  await sleep(200);
  assert.ok(!existsSync(pidFile), 'no PID file left behind');
  await first.stop('SIGTERM', 5000);
});
