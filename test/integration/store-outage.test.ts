// Recordings in NATS JetStream (issue 14, test 3): the store goes away for a few seconds while a
// copier records. The copier keeps capturing, counts what it could not store, resumes storing when
// the server is back; the task's manifest lists the missing range, and replaying the task delivers
// exactly the requests made while the store was up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliPath } from '../helpers/paths.js';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx } from '../helpers/servers.js';
import { curlJobs, liveNet, mixedJobs, waitCount } from './live-lab.js';
import { describeRun, multisetMinus, runTcpcopy, startIntercept } from './replay-lab.js';
import { requireNats, startNats, startStoreRecorder, stopRecorder } from './store-lab.js';

const skip = requireRoot() || requireNats();

test('test 3: the store stops for a few seconds during recording: drops counted, storing resumes, the manifest says what is missing', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'store-outage' });
  const net = await liveNet(lab, 4);
  const nats = await startNats(lab, net.online);
  const web = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const store = `nats://127.0.0.1:${nats.port}/web`;
  const x = `80-${net.targetIp}:80`;
  const rec = await startStoreRecorder(lab, net.online, net.onlineIf, `${store}?host=web1`, ['-x', x, '--task', 'outage']);
  const base = `http://${net.onlineIp}`;
  const before = await curlJobs(lab, net.client, mixedJobs(net.clientIps, base, 'before', 40));
  await new Promise((r) => setTimeout(r, 500));

  await nats.stop();
  await rec.waitFor(/store: connection to .* lost/, 'stderr', 10_000);
  const during = await curlJobs(lab, net.client, mixedJobs(net.clientIps, base, 'during', 40));
  await new Promise((r) => setTimeout(r, 1500));
  await nats.start();
  await rec.waitFor(/store: reconnected to /, 'stderr', 15_000);
  // JetStream recovers its streams just after the client is back.
  await new Promise((r) => setTimeout(r, 1500));
  const after = await curlJobs(lab, net.client, mixedJobs(net.clientIps, base, 'after', 40));
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual([...before.errors, ...during.errors, ...after.errors], [], 'the online service was never disturbed');
  assert.equal(web.readAccessLog().length, 120);

  const stopped = await stopRecorder(rec);
  assert.equal(stopped.code, 0, stopped.stderr);
  const away = Number(/not stored: store-away (\d+)/.exec(stopped.stderr)?.[1] ?? NaN);
  const captured = Number(/(\d+) frames captured, (\d+) stored/.exec(stopped.stderr)?.[1] ?? NaN);
  const stored = Number(/(\d+) frames captured, (\d+) stored/.exec(stopped.stderr)?.[2] ?? NaN);
  t.diagnostic(stopped.stderr.split('\n').filter((l) => /store|task/.test(l)).join('\n'));
  assert.ok(away > 0, `packets captured during the outage are counted as not stored: ${away}`);
  assert.ok(captured >= stored + away && stored > 0, `captured ${captured} = stored ${stored} + not stored (${away} store-away + others)`);

  const list = await lab.exec(net.online, process.execPath, [cliPath('tcpcopy'), '--tasks', store]);
  t.diagnostic(list.stdout);
  const missing = /outage: missing (\d+) packets \(store-away\) from (\S+) to (\S+)/.exec(list.stdout);
  assert.ok(missing !== null, `the task lists its missing range:\n${list.stdout}`);
  const listedAway = [...list.stdout.matchAll(/outage: missing (\d+) packets \(store-away\)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(listedAway, away, 'the manifest counts every packet the recorder could not store');

  // What was stored replays: the requests before and after the outage, none of those during it.
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  const run = await runTcpcopy(lab, net.online, ['-x', x, '-s', net.targetIp, '-i', `${store}?task=outage`, '--quiet', '--end-grace', '1000', '-a', '5']);
  assert.equal(run.code, 0, describeRun(run));
  const all = web.readAccessLog().map((e) => e.path);
  const expected = all.filter((p) => !p.startsWith('/during/'));
  await waitCount(() => target.readAccessLog().length, expected.length, 10_000);
  const got = target.readAccessLog().map((e) => e.path);
  assert.deepEqual(multisetMinus(expected, got), [], 'every request made while the store was up is in the task');
  assert.deepEqual(got.filter((p) => p.startsWith('/during/')), [], 'nothing from the outage');
});
