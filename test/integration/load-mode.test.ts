// Issue 12: load mode (-u, tcpburn-style). A few recorded keep-alive sessions played as 2,000
// concurrent users into nginx through intercept (the target's own `ss` and access log say what
// happened); comet users held by a long-poll server until it closes them; and a user range too
// small for -u refused with an error naming the flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labFor, requireRoot, type Lab } from '../helpers/lab.js';
import { cliPath, fixturesDir } from '../helpers/paths.js';
import { startNginx, startNodeServer, startTcpdump, tcpdumpRead } from '../helpers/servers.js';
import { describeRun, replayTarget, runTcpcopy } from './replay-lab.js';
import { establishedCount, LONG_POLL_SERVER, raiseTargetLimits, recordThinkSessions } from './load-lab.js';

const skip = requireRoot();

/** Samples `ss` in the target every 250 ms; stop() returns the largest count seen. */
function sampleEstablished(lab: Lab, ns: string, port: number): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await establishedCount(lab, ns, port));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

async function waitFor<T>(what: string, fn: () => T | null, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('load: 4 recorded keep-alive sessions as 2,000 concurrent users into nginx: ≥ 2,000 established at the target, every request logged once, no leak', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'load-keepalive' });
  const rec = await recordThinkSessions(lab, { sessions: 4, requests: 3, thinkMs: 1500, port: 80 });
  const { net } = await replayTarget(lab, [80]);
  await raiseTargetLimits(lab, net.target);
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp, keepalive: 600 });
  const leakFile = join(lab.tmpDir, 'leak.pcap');
  const dump = await startTcpdump(lab, net.copier, net.copierIf, 'tcp src port 80', leakFile, { snaplen: 96 });
  const sampler = sampleEstablished(lab, net.target, 80);
  const users = 2000;
  // -T 500 × 4 captured sessions = 2,000 user sessions: each user plays exactly one, all at once.
  const run = await runTcpcopy(lab, net.copier, [
    '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap,
    '-u', String(users), '-c', '10.99.1.0/24', '--ramp', '2', '-T', '500', '--quiet', '--stats-interval', '1',
  ]);
  const peak = await sampler.stop();
  await dump.stop();
  t.diagnostic(`target peak established (ss): ${peak}; ${run.stdout.split('\n').filter((l) => l.includes('load:')).join(' | ')}`);
  assert.equal(run.code, 0, describeRun(run));
  assert.ok(peak >= users, `the target held at most ${peak} established connections at once (wanted ≥ ${users})\n${describeRun(run)}`);
  assert.match(run.stdout, /load: 2000 users requested; peak 2000 users running at once/, describeRun(run));
  assert.match(run.stdout, /load: 2000 user sessions started, 2000 ended/, describeRun(run));
  assert.match(run.stdout, /failures by cause: none/, describeRun(run));

  await new Promise((r) => setTimeout(r, 300));
  const log = nginx.readAccessLog();
  assert.equal(log.length, users * rec.requests, `the target logged ${log.length} requests, expected ${users * rec.requests}\n${describeRun(run)}`);
  assert.equal(log.filter((e) => e.status !== 200).length, 0);
  // Every captured request path, each played by 500 users; every user from the -c range.
  const perPath = new Map<string, number>();
  for (const e of log) perPath.set(e.path, (perPath.get(e.path) ?? 0) + 1);
  assert.equal(perPath.size, rec.sessions * rec.requests);
  for (const [path, n] of perPath) assert.equal(n, users / rec.sessions, `${path} logged ${n} times`);
  assert.ok(log.every((e) => e.remoteAddr.startsWith('10.99.1.')), 'a request came from outside -c');
  const tuples = new Set(log.map((e) => `${e.remoteAddr}:${e.remotePort}`));
  assert.equal(tuples.size, users, 'each user has its own client address and port');

  const leaks = (await tcpdumpRead(lab, leakFile, ['-nn'])).split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(leaks.slice(0, 5), [], `${leaks.length} response packets leaked to the copier side`);
});

test('load --comet: 1,000 users held by a long-poll server; none closed by the copier before the server closes them', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'load-comet' });
  const port = 8080;
  const rec = await recordThinkSessions(lab, { sessions: 2, requests: 1, thinkMs: 300, port, poll: true });
  const { net } = await replayTarget(lab, [port]);
  await raiseTargetLimits(lab, net.target);
  const server = await startNodeServer(lab, net.target, LONG_POLL_SERVER, port, net.targetIp);
  const stats = (): { live: number; peak: number; requests: number; clientClosed: number; serverClosed: number } | null => {
    const f = join(server.dir, 'stats.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { live: number; peak: number; requests: number; clientClosed: number; serverClosed: number }) : null;
  };
  const users = 1000;
  const copier = lab.spawn(net.copier, process.execPath, [
    cliPath('tcpcopy'), '-x', `${port}-${net.targetIp}:${port}`, '-s', net.targetIp, '-i', rec.pcap,
    '-u', String(users), '--clients', '10.99.2.0/24', '--comet', '--ramp', '1', '--duration', '40', '--quiet', '--stats-interval', '1',
    '--metrics-port', '9464',
  ]);
  const held = await waitFor('all users held', () => {
    const s = stats();
    return s !== null && s.live >= users && s.requests >= users ? s : null;
  }, 30_000).catch((err: Error) => assert.fail(`${err.message}: ${JSON.stringify(stats())}\n${copier.stderr.slice(-3000)}`));
  assert.equal(held.clientClosed, 0);
  assert.ok((await establishedCount(lab, net.target, port)) >= users);
  // Held: a long poll gets no answer; the copier must not give up on it.
  await new Promise((r) => setTimeout(r, 4000));
  const still = stats();
  assert.ok(still !== null && still.live >= users && still.clientClosed === 0, `after 4 s: ${JSON.stringify(still)}`);
  assert.ok((await establishedCount(lab, net.target, port)) >= users);
  // The load gauges on the metrics endpoint (loopback of the copier's namespace) while held.
  const scrape = (await lab.exec(net.copier, 'curl', ['-s', '--max-time', '5', 'http://127.0.0.1:9464/metrics'])).stdout;
  const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(scrape)?.[1]);
  assert.equal(gauge('tcpcopy_copier_load_users_requested'), users, scrape.slice(0, 2000));
  assert.equal(gauge('tcpcopy_copier_load_users_active'), users);
  assert.equal(gauge('tcpcopy_copier_load_users_peak'), users);
  assert.ok(gauge('tcpcopy_copier_established_sessions') >= users, 'established gauge');

  writeFileSync(join(server.dir, 'release'), '');
  await waitFor('the server closing every held connection', () => ((stats()?.serverClosed ?? 0) >= users ? true : null), 20_000);
  const after = stats();
  assert.equal(after?.clientClosed, 0, `connections closed by the copier before the server: ${JSON.stringify(after)}`);
  // Each user whose session the server ended starts its next one (new port; the old tuple is in
  // the target's TIME_WAIT): the server sees a second round of requests.
  await waitFor('the users\' next sessions', () => ((stats()?.requests ?? 0) >= 2 * users ? true : null), 20_000).catch((err: Error) =>
    assert.fail(`${err.message}: ${JSON.stringify(stats())}\n${copier.stderr.slice(-4000)}`),
  );
  copier.signal('SIGINT');
  const res = await copier.exited;
  t.diagnostic(`server: ${JSON.stringify(after)}; ${copier.stdout.split('\n').filter((l) => l.includes('load:')).join(' | ')}`);
  assert.equal(res.code, 0, copier.stderr.slice(-3000));
  assert.match(copier.stdout, /load: 1000 users requested; peak 1000 users running at once/, copier.stdout);
  const peakEst = Number(/peak (\d+) established connections at once/.exec(copier.stdout)?.[1]);
  assert.ok(peakEst >= users, copier.stdout);
  const started = Number(/load: (\d+) user sessions started/.exec(copier.stdout)?.[1]);
  assert.ok(started >= 2 * users, copier.stdout);
  assert.match(copier.stdout, /failures by cause: none/, copier.stdout);
});

test('load: a client range too small for -u (with -n) is refused, naming the flags', () => {
  const pcap = join(fixturesDir, 'demo', 'http-sample.pcap');
  const run = (args: string[]): { code: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [cliPath('tcpcopy'), '-x', '80-10.0.0.2:80', '-s', '127.0.0.1', '-i', pcap, ...args], { encoding: 'utf8', timeout: 20_000 });
    return { code: r.status, stderr: r.stderr };
  };
  let r = run(['-u', '70000', '-c', '10.99.3.5']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /-u "70000": at most 64512 users for the 1 address\(es\) of -c/);
  r = run(['-u', '40000', '-n', '2', '-c', '10.99.3.5']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /at most 32256 users .* ÷ -n 2.*fewer -u \/ -n/);
  // Without -c the capture's 20 client addresses are the range.
  r = run(['-u', '2000000']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /-u 2000000: too many users for the client range: no -c: the capture's 20 client address\(es\)/);
  r = run(['--comet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--comet .*only with -u/);
});
