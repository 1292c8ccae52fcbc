// The namespace lab itself: topologies carry real traffic, and teardown leaves nothing behind —
// after destroy(), after a failing test body, an uncaught exception, SIGTERM, and (via
// sweepStale) after SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createLab,
  twoHost,
  singleHost,
  recordingPair,
  requireRoot,
  sweepStale,
  processRunning,
  type Lab,
} from '../helpers/lab.js';
import { startNginx, startGreetingServer } from '../helpers/servers.js';
import type { LabChildReport } from '../helpers/lab-child.js';

const skip = requireRoot();

function netnsNames(): string[] {
  return execFileSync('ip', ['netns', 'list']).toString().split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n !== '');
}

function rootLinks(): string[] {
  return [...execFileSync('ip', ['-o', 'link']).toString().matchAll(/^\d+: ([^:@\s]+)/gm)].map((m) => m[1] ?? '');
}

/** Nothing of the lab `id` exists any more. */
function assertGone(r: LabChildReport): void {
  const ns = netnsNames();
  assert.deepEqual(ns.filter((n) => n.startsWith(r.id)), [], `namespaces left: ${ns.join(' ')}`);
  assert.deepEqual(rootLinks().filter((l) => l.startsWith(r.id)), [], 'root-namespace links left');
  assert.deepEqual(r.pids.filter((p) => processRunning(p)), [], 'processes still running');
  assert.equal(existsSync(r.tmpDir), false, `temp dir left: ${r.tmpDir}`);
}

function reportOf(lab: Lab, extraPids: number[] = []): LabChildReport {
  return {
    id: lab.id,
    namespaces: [...lab.namespaces],
    pids: [...new Set([...lab.processes.map((p) => p.pid), ...lab.pidsInNamespaces(), ...extraPids])],
    tmpDir: lab.tmpDir,
  };
}

test('two-host topology: TCP both ways across the veth, target routes via the copier', { skip }, async (t) => {
  const lab = await createLab({ name: 'twohost' });
  t.after(() => lab.destroy());
  const th = await twoHost(lab);
  assert.ok(th.copierIf.length <= 15 && th.targetIf.length <= 15, 'interface names fit IFNAMSIZ');
  assert.match((await lab.ip(th.target, ['route', 'show', 'default'])).stdout, new RegExp(`default via ${th.copierIp.replace(/\./g, '\\.')} `));

  await startNginx(lab, th.target, { port: 80 });
  const res = await lab.exec(th.copier, 'curl', ['-sS', '--max-time', '5', `http://${th.targetIp}/two/host`]);
  assert.equal(res.stdout, 'ok /two/host\n');

  // And the other way: a Node client in the target connects to a server in the copier.
  await startGreetingServer(lab, th.copier, 2525);
  const client = `const s=require('net').connect(2525,'${th.copierIp}');s.setTimeout(5000,()=>process.exit(3));s.on('data',d=>{process.stdout.write(d);s.end()})`;
  const greet = await lab.exec(th.target, process.execPath, ['-e', client]);
  assert.equal(greet.stdout, '220 hello\r\n');

  const before = reportOf(lab);
  assert.ok(before.pids.length >= 3, 'nginx master+worker and the greeting server are running');
  await lab.destroy();
  await lab.destroy(); // idempotent
  assertGone(before);
});

test('single-host topology: own non-loopback address and a route for fake clients', { skip }, async (t) => {
  const lab = await createLab({ name: 'single' });
  t.after(() => lab.destroy());
  const sh = await singleHost(lab);
  assert.ok(!sh.ip.startsWith('127.'));
  await startNginx(lab, sh.ns, { port: 8080, bind: sh.ip });
  const res = await lab.exec(sh.ns, 'curl', ['-sS', '--max-time', '5', `http://${sh.ip}:8080/single`]);
  assert.equal(res.stdout, 'ok /single\n');
  // Answers to any fake client address leave through the dead-end interface (a route lookup only).
  const route = await lab.ip(sh.ns, ['route', 'get', '10.77.1.2']);
  assert.match(route.stdout, new RegExp(`dev ${sh.dev}\\b`));

  const before = reportOf(lab);
  await lab.destroy();
  assertGone(before);
});

test('recording pair: every alias address works as a client source', { skip }, async (t) => {
  const lab = await createLab({ name: 'pair' });
  t.after(() => lab.destroy());
  const pair = await recordingPair(lab, { aliases: 12 });
  assert.equal(pair.clientIps.length, 12);
  const addrs = (await lab.ip(pair.client, ['-o', '-4', 'addr', 'show', 'dev', pair.clientIf])).stdout;
  for (const ip of pair.clientIps) assert.ok(addrs.includes(`inet ${ip}/`), `${ip} on ${pair.clientIf}`);

  const nginx = await startNginx(lab, pair.server, { port: 80, bind: pair.serverIp });
  const used = [pair.clientIps[0] as string, pair.clientIps[11] as string];
  for (const ip of used) {
    const r = await lab.exec(pair.client, 'curl', ['-sS', '--max-time', '5', '--interface', ip, `http://${pair.serverIp}/from/${ip}`]);
    assert.equal(r.stdout, `ok /from/${ip}\n`);
  }
  assert.deepEqual(nginx.readAccessLog().map((e) => [e.remoteAddr, e.path]), used.map((ip) => [ip, `/from/${ip}`]));

  const before = reportOf(lab);
  await lab.destroy();
  assertGone(before);
});

// ---------------------------------------------------------------------------------------------
// Teardown when the test process itself fails or dies

const childScript = fileURLToPath(new URL('../helpers/lab-child.js', import.meta.url));

interface ChildRun {
  report: LabChildReport;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs lab-child.js in `mode`; for 'wait', sends `signal` once the child says ready. */
function runChild(mode: string, signal?: NodeJS.Signals): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    // Without NODE_TEST_CONTEXT the child's own test runner reports in plain text, not in the
    // serialized form meant for a parent `node --test`.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, [childScript, mode], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    let signalled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lab-child ${mode} did not finish in 60 s\n${err}`));
    }, 60_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (signal && !signalled && /^ready$/m.test(out)) {
        signalled = true;
        child.kill(signal);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined) {
        reject(new Error(`lab-child ${mode} printed no report (exit ${code}/${sig})\n${out}\n${err}`));
        return;
      }
      resolve({ report: JSON.parse(line) as LabChildReport, code, signal: sig, stdout: out, stderr: err });
    });
  });
}

test('a failing test body still cleans up (t.after)', { skip }, async () => {
  const run = await runChild('assert');
  assert.notEqual(run.code, 0, 'the child test failed');
  assert.match(run.stdout, /deliberate failure/);
  assert.ok(run.report.pids.length >= 3 && run.report.namespaces.length === 2);
  assertGone(run.report);
});

test('an uncaught exception still cleans up (exit hook)', { skip }, async () => {
  const run = await runChild('uncaught');
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /deliberate uncaught exception/);
  assertGone(run.report);
});

test('SIGTERM of the test process cleans up and re-raises', { skip }, async () => {
  const run = await runChild('wait', 'SIGTERM');
  assert.equal(run.signal, 'SIGTERM', 'the child died of the signal it got');
  assertGone(run.report);
});

test('sweepStale removes what a SIGKILLed run left and spares live labs', { skip }, async (t) => {
  const mine = await createLab({ name: 'live' });
  t.after(() => mine.destroy());
  await twoHost(mine);
  const run = await runChild('wait', 'SIGKILL');
  assert.equal(run.signal, 'SIGKILL');
  // SIGKILL skips every hook: the leftovers are really there.
  assert.ok(netnsNames().some((n) => n.startsWith(run.report.id)), 'SIGKILL left namespaces behind');
  assert.ok(run.report.pids.some((p) => processRunning(p)), 'SIGKILL left servers running');

  const swept = sweepStale();
  assert.ok(swept.includes(run.report.id), `swept ${swept.join(',')}`);
  assert.ok(!swept.includes(mine.id));
  assertGone(run.report);
  for (const ns of mine.namespaces) assert.ok(netnsNames().includes(ns), `live lab namespace ${ns} kept`);
});
