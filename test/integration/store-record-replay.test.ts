// Recordings in NATS JetStream (issue 14, tests 1, 2 and 4): two online hosts record live traffic
// into one task of a real nats-server; the task replays twice in a row, then shared by two copiers
// (--share 1/2 and 2/2), then exported to pcapng and replayed from the file — each time the test
// server's own access log must receive exactly the requests the two online servers answered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cliPath } from '../helpers/paths.js';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx, tcpdumpRead } from '../helpers/servers.js';
import { curlJobs, mixedJobs, waitCount } from './live-lab.js';
import { describeRun, multisetMinus, runTcpcopy, startIntercept, type TcpcopyRun } from './replay-lab.js';
import { requireNats, startStoreRecorder, stopRecorder, storeNet } from './store-lab.js';

const skip = requireRoot() || requireNats();

test('two online hosts record into one task; it replays twice, shared by two copiers, and via an exported pcapng', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'store-replay' });
  const net = await storeNet(lab, 4);
  const web1 = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const web2 = await startNginx(lab, net.online2, { port: 80, bind: net.online2Ip });
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  const x = `80-${net.targetIp}:80`;
  const store = `nats://${net.storeFromOnline}/web`;

  // Record: both hosts into task "peak" (record only, both directions).
  const rec1 = await startStoreRecorder(lab, net.online, net.onlineIf, `nats://${net.storeFromOnline}/web?host=web1`, ['-x', x, '--task', 'peak', '--record-responses']);
  const rec2 = await startStoreRecorder(lab, net.online2, net.online2If, `nats://${net.storeFromOnline2}/web?host=web2`, ['-x', x, '--task', 'peak', '--record-responses']);
  const [c1, c2] = await Promise.all([
    curlJobs(lab, net.client, mixedJobs(net.clientIps, `http://${net.onlineIp}`, 'one', 60)),
    curlJobs(lab, net.client, mixedJobs(net.client2Ips, `http://${net.online2Ip}`, 'two', 60)),
  ]);
  assert.deepEqual([...c1.errors, ...c2.errors], []);
  await new Promise((r) => setTimeout(r, 300));
  const s1 = await stopRecorder(rec1);
  const s2 = await stopRecorder(rec2);
  assert.equal(s1.code, 0, s1.stderr);
  assert.equal(s2.code, 0, s2.stderr);
  assert.match(s1.stderr, /task peak: recording \(started by copier/);
  assert.match(s2.stderr, /task peak: stopped at sequence \d+ \(the last recording host left\)/, s2.stderr);
  assert.match(s1.stderr, /not stored: store-away 0, store-busy 0, store-error 0/);
  const recorded = [...web1.readAccessLog(), ...web2.readAccessLog()].map((e) => e.path);
  assert.equal(recorded.length, 120);

  const list = await lab.exec(net.online, process.execPath, [cliPath('tcpcopy'), '--tasks', store]);
  t.diagnostic(list.stdout);
  const row = list.stdout.split('\n').find((l) => l.startsWith('peak '));
  assert.ok(row !== undefined, list.stdout);
  assert.match(row, /^peak\s+stopped\s+\d+\.\.\d+\s+web1,web2\s+(\d+)\s+[\d.]+\s+(\d+)\s+0\s/);
  assert.equal(Number(/\s(\d+)\s+[\d.]+\s+\d+\s+0\s/.exec(row)?.[1]) > 240, true, 'packets of both directions counted');
  assert.ok(!list.stdout.includes('missing'), 'nothing missing');

  let seen = 0;
  const delivered = async (run: TcpcopyRun, what: string): Promise<void> => {
    assert.equal(run.code, 0, `${what}: ${describeRun(run)}`);
    await waitCount(() => target.readAccessLog().length, seen + recorded.length, 10_000);
    const got = target.readAccessLog().slice(seen).map((e) => e.path);
    seen += got.length;
    assert.deepEqual(multisetMinus(recorded, got), [], `${what}: every recorded request reached the test server`);
    assert.deepEqual(multisetMinus(got, recorded), [], `${what}: nothing else and nothing twice`);
  };
  const replay = (extra: string[]): Promise<TcpcopyRun> =>
    runTcpcopy(lab, net.online, ['-x', x, '-s', net.targetIp, '-i', `${store}?task=peak`, '--quiet', '--end-grace', '1000', '-a', '2', ...extra]);

  await t.test('test 1: the task replays twice in a row, exactly the recorded requests each time', async () => {
    await delivered(await replay([]), 'first replay');
    await delivered(await replay([]), 'second replay');
  });

  await t.test('test 2: two copiers with --share 1/2 and 2/2 replay every request once', async () => {
    const [a, b] = await Promise.all([replay(['--share', '1/2']), replay(['--share', '2/2'])]);
    assert.ok(a.summary.started > 0 && b.summary.started > 0, `both shares replayed sessions: ${a.summary.started}, ${b.summary.started}`);
    assert.equal(a.code, 0, describeRun(a));
    await delivered(b, 'shared replay');
  });

  await t.test('test 4: the task exported to pcapng replays like the task', async () => {
    const file = join(lab.tmpDir, 'peak.pcapng');
    const exp = await lab.exec(net.online, process.execPath, [cliPath('tcpcopy'), '-i', `${store}?task=peak`, '--export', file]);
    const n = Number(/: (\d+) packets to /.exec(exp.stdout)?.[1]);
    assert.ok(n > 240, exp.stdout);
    const lines = (await tcpdumpRead(lab, file, ['-nn'])).split('\n').filter((l) => l.trim() !== '');
    assert.equal(lines.length, n, 'tcpdump reads every exported packet');
    await delivered(await runTcpcopy(lab, net.online, ['-x', x, '-s', net.targetIp, '-i', file, '--quiet', '--end-grace', '1000', '-a', '2']), 'replay of the export');
  });
});
