// Live copy ("tcpcopy online"): tcpcopy captures real client traffic with libpcap on the online
// server and copies it to a test server through intercept. Judged by the servers' own access
// logs: the test server must have served the same multiset of request URIs as the online one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx, startTcpdump, tcpdumpRead } from '../helpers/servers.js';
import { curlJobs, keepAliveClientScript, liveNet, mixedJobs, startLiveCopier, waitCount } from './live-lab.js';
import { multisetMinus, startIntercept } from './replay-lab.js';

const skip = requireRoot();

const uris = (log: { path: string }[]): string[] => log.map((e) => e.path);

test('three hosts: live client traffic on the online server is copied request for request to the test server', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-3host' });
  const net = await liveNet(lab, 12);
  const online = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  // Leak check: nothing from the test server's port 80 may come back towards the copied clients.
  const leakFile = join(lab.tmpDir, 'leak.pcap');
  const dump = await startTcpdump(lab, net.online, net.onlineBackIf, `tcp src port 80 and dst net ${net.clientSubnet.cidr}`, leakFile);
  // Capturing on the interface towards the test server too: the copier's own packets to its port
  // 80 leave through it and must not be captured again (the filter keeps incoming packets only).
  const copier = await startLiveCopier(lab, net.online, ['-i', `${net.onlineIf},${net.onlineBackIf}`, '-x', `80-${net.targetIp}:80`, '-s', net.targetIp]);

  const clients = await curlJobs(lab, net.client, mixedJobs(net.clientIps, `http://${net.onlineIp}`, 'live', 300));
  assert.deepEqual(clients.errors, [], 'the real clients saw no error');
  assert.equal(clients.requests, 300);
  assert.ok(clients.reused > 100, `keep-alive connections were used (${clients.reused} reused)`);

  // nginx logs a request after its response has left: wait for the line, not just the client.
  const want = await waitCount(() => online.readAccessLog().length, 300);
  assert.equal(want, 300);
  await waitCount(() => target.readAccessLog().length, want);
  const run = await copier.stop();
  await dump.stop();
  const detail = `\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-3000)}`;
  assert.equal(run.code, 0, detail);

  const missing = multisetMinus(uris(online.readAccessLog()), uris(target.readAccessLog()));
  const extra = multisetMinus(uris(target.readAccessLog()), uris(online.readAccessLog()));
  assert.deepEqual(missing, [], `missing at the test server (${missing.length})${detail}`);
  assert.deepEqual(extra, [], `unexpected at the test server (${extra.length})${detail}`);
  assert.ok(target.readAccessLog().every((e) => e.status === 200));
  assert.equal(new Set(target.readAccessLog().map((e) => e.remoteAddr)).size, net.clientIps.length, 'the copies come from the real client addresses');

  assert.match(run.stdout, new RegExp(`replay stopped \\(SIGTERM\\) in .*: captured on ${net.onlineIf}, ${net.onlineBackIf} for [\\d.]+ s, \\d+ packets, 0 dropped \\(kernel 0, ring full 0, sink busy 0, interface 0\\), \\d+ used`), detail);
  assert.equal(run.summary.started, run.summary.outcomes.completed, detail);
  assert.match(run.stdout, /sessions: \d+ started \(0 picked up mid-stream\)/, detail);
  assert.match(run.stderr, /live capture: pcap backend/, `the batched addon is the default${detail}`);
  const leaks = (await tcpdumpRead(lab, leakFile, ['-nn'])).split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(leaks.slice(0, 5), [], `${leaks.length} responses of the test server leaked`);
});

test('single host: port 80 copied to port 8080 of the same namespace, capturing on all interfaces (no -i)', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-1host' });
  const client = await lab.addNamespace('client');
  const host = await lab.addNamespace('host');
  const veth = await lab.addVeth(client, host);
  const subnet = await lab.allocSubnet();
  const hostIp = subnet.host(1);
  const clientIps = Array.from({ length: 8 }, (_, i) => subnet.host(10 + i));
  await lab.addAliases(client, veth.a, clientIps);
  await lab.addAddress(host, veth.b, `${hostIp}/24`);
  const production = await startNginx(lab, host, { port: 80 });
  const test8080 = await startNginx(lab, host, { port: 8080 });
  await startIntercept(lab, host, [8080]);
  // The copies go to the host's own address (not 127.0.0.1: a martian off lo); the channel to
  // intercept on the same host may use loopback.
  const copier = await startLiveCopier(lab, host, ['-x', `80-${hostIp}:8080`, '-s', '127.0.0.1']);
  assert.match(copier.proc.stderr, /copying live capture on all interfaces \(any\)/);

  const clients = await curlJobs(lab, client, mixedJobs(clientIps, `http://${hostIp}`, 'one', 200));
  assert.deepEqual(clients.errors, []);
  await waitCount(() => test8080.readAccessLog().length, 200);
  const run = await copier.stop();
  const detail = `\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-3000)}`;
  assert.equal(run.code, 0, detail);
  const prod = uris(production.readAccessLog());
  const copy = uris(test8080.readAccessLog());
  assert.equal(prod.length, 200);
  assert.deepEqual(multisetMinus(prod, copy), [], `missing on 8080${detail}`);
  assert.deepEqual(multisetMinus(copy, prod), [], `unexpected on 8080${detail}`);
  assert.match(run.stdout, /captured on all interfaces \(any\) for .* 0 dropped \(kernel 0, ring full 0, sink busy 0\)/, detail);
});

test('keep-alive connections opened before tcpcopy started: their later requests are copied, counted as mid-stream', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-midstream' });
  const net = await liveNet(lab, 6);
  const online = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  const dir = lab.mkdir('ka');
  const conns = 10;
  const perConn = 4;
  const ka = lab.spawn(net.client, process.execPath, [keepAliveClientScript(dir), net.onlineIp, '80', String(conns), String(perConn), dir, ...net.clientIps]);
  await ka.waitFor(/opened/, 'stdout', 20_000);

  // --nice 10: how an operator keeps the copier from taking CPU from the online service.
  const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '--nice', '10']);
  const stat = readFileSync(`/proc/${copier.proc.pid}/stat`, 'utf8');
  assert.equal(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]), 10, 'the copier runs at nice 10');
  // Fresh connections too, so the run mixes both kinds.
  writeFileSync(join(dir, 'go'), '');
  writeFileSync(join(dir, 'end'), '');
  const fresh = await curlJobs(lab, net.client, mixedJobs(net.clientIps, `http://${net.onlineIp}`, 'fresh', 40));
  await ka.exited;
  const kaResult = JSON.parse(ka.stdout.trim().split('\n').pop() ?? '{}') as { ok: number; errors: string[] };
  assert.deepEqual(kaResult.errors, []);
  assert.equal(kaResult.ok, conns * perConn);
  assert.deepEqual(fresh.errors, []);

  // nginx writes its access-log line after the response has left, so a client can finish first.
  await waitCount(() => online.readAccessLog().length, conns * perConn + 40);
  const later = uris(online.readAccessLog()).filter((p) => !/^\/pre\/\d+\/1$/.test(p));
  assert.equal(later.length, conns * (perConn - 1) + 40);
  await waitCount(() => target.readAccessLog().length, later.length);
  const run = await copier.stop();
  const detail = `\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-3000)}`;
  assert.equal(run.code, 0, detail);
  const copied = uris(target.readAccessLog());
  assert.deepEqual(multisetMinus(later, copied), [], `missing at the test server${detail}`);
  assert.deepEqual(multisetMinus(copied, later), [], `unexpected at the test server (requests sent before the copier started?)${detail}`);
  assert.match(run.stdout, new RegExp(`sessions: \\d+ started \\(${conns} picked up mid-stream\\)`), detail);
});

test('SIGTERM with a session in flight: capture stops, the session gets --end-grace, then the summary', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-drain' });
  const net = await liveNet(lab, 2);
  await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  const dir = lab.mkdir('ka');
  const ka = lab.spawn(net.client, process.execPath, [keepAliveClientScript(dir), net.onlineIp, '80', '1', '2', dir, net.clientIps[0] as string]);
  await ka.waitFor(/opened/, 'stdout', 20_000);
  const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '--end-grace', '1500']);
  writeFileSync(join(dir, 'go'), '');
  await ka.waitFor(/sent/, 'stdout', 20_000);
  assert.equal(await waitCount(() => target.readAccessLog().length, 1), 1);
  // The client keeps its connection open: the copied session is still in flight.
  const t0 = Date.now();
  const run = await copier.stop();
  const ms = Date.now() - t0;
  writeFileSync(join(dir, 'end'), '');
  const detail = `\nstdout:\n${run.stdout}\nstderr:\n${run.stderr.slice(-3000)}`;
  assert.equal(run.code, 0, detail);
  assert.match(run.stderr, /SIGTERM: capture stopped; 1 session\(s\) in flight get up to 1\.5 s to finish/, detail);
  assert.match(run.stderr, /1 session\(s\) still open after --end-grace: ending them/, detail);
  assert.ok(ms >= 1300 && ms < 6000, `exited ${ms} ms after SIGTERM`);
  assert.match(run.stdout, /replay stopped \(SIGTERM\)/, detail);
  assert.match(run.stdout, /sessions: 1 started \(1 picked up mid-stream\)/, detail);
  assert.deepEqual(uris(target.readAccessLog()), ['/pre/0/2']);
});

test('-i nosuchdev0: exit 2 naming the device and listing those there are, before anything is sent', { skip, timeout: 60_000 }, async (t) => {
  const lab = await labFor(t, { name: 'live-baddev' });
  const ns = await lab.addNamespace('copier');
  const r = await lab.exec(ns, process.execPath, [cliPath('tcpcopy'), '-x', '80-10.1.2.3:80', '-s', '10.1.2.3', '-i', 'nosuchdev0'], { check: false });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^tcpcopy: -i "nosuchdev0": cannot capture: "nosuchdev0": no such capture device \(and no such file\); available: any, lo$/m);
  assert.doesNotMatch(r.stderr, /interceptor/);
  // The doctor checks the devices of a live copy (and says the file check does not apply).
  const check = async (dev: string): Promise<string> =>
    (await lab.exec(ns, process.execPath, [cliPath('tcpcopy'), '--check', '-x', '80-10.1.2.3:80', '-s', '10.1.2.3', '-i', dev], { check: false })).stdout;
  assert.match(await check('nosuchdev0'), /PROBLEM {2}capture device: nosuchdev0: no such interface/);
  const ok = await check('lo');
  assert.match(ok, /ok {7}capture device: lo: libpcap opened it/);
  assert.match(ok, /capture file: live capture on lo/);
});
