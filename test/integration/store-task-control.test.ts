// Recordings in NATS JetStream: tasks started and stopped remotely while one copier records —
// by HTTP on its metrics port (POST /tasks/NAME/start|stop), by signal (SIGUSR1/SIGUSR2) and by
// the CLI (--task-start/--task-stop) — each task holds exactly the traffic of its own window:
// replaying it delivers those requests to the test server and no others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliPath } from '../helpers/paths.js';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx } from '../helpers/servers.js';
import { curlJobs, liveNet, mixedJobs, startLiveCopier, waitCount } from './live-lab.js';
import { describeRun, multisetMinus, runTcpcopy, startIntercept } from './replay-lab.js';
import { requireNats, startNats, startStoreRecorder, stopRecorder } from './store-lab.js';

const skip = requireRoot() || requireNats();

test('tasks started and stopped by HTTP, signal and CLI each replay exactly their own window', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'store-tasks' });
  const net = await liveNet(lab, 4);
  const nats = await startNats(lab, net.online);
  const web = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const store = `nats://127.0.0.1:${nats.port}/web`;
  const x = `80-${net.targetIp}:80`;
  const rec = await startStoreRecorder(lab, net.online, net.onlineIf, `${store}?host=web1`, ['-x', x, '--metrics-port', '9109']);
  await rec.waitFor(/task control on http:\/\/127\.0\.0\.1:9109\//, 'stderr', 5000);
  const traffic = async (tag: string): Promise<void> => {
    const r = await curlJobs(lab, net.client, mixedJobs(net.clientIps, `http://${net.onlineIp}`, tag, 20));
    assert.deepEqual(r.errors, []);
    // Let the last batches go out (every 20 ms) before the window closes.
    await new Promise((r2) => setTimeout(r2, 300));
  };
  const http = async (path: string): Promise<string> => (await lab.exec(net.online, 'curl', ['-sf', '-X', 'POST', `http://127.0.0.1:9109${path}`])).stdout;
  const tcpcopy = async (args: string[]): Promise<string> => (await lab.exec(net.online, process.execPath, [cliPath('tcpcopy'), ...args])).stdout;

  await traffic('none0');
  assert.match(await http('/tasks/byhttp/start'), /"state":"recording"/);
  await traffic('http');
  assert.match(await http('/tasks/byhttp/stop'), /"state":"stopped"/);
  await traffic('none1');
  rec.signal('SIGUSR1');
  await rec.waitFor(/task (t\d{8}T\d{6}): recording \(started by signal/, 'stderr', 5000);
  const sigTask = /task (t\d{8}T\d{6}): recording/.exec(rec.stderr)?.[1] as string;
  await traffic('signal');
  rec.signal('SIGUSR2');
  await rec.waitFor(/task t\d{8}T\d{6}: stopped by signal/, 'stderr', 5000);
  await traffic('none2');
  assert.match(await tcpcopy(['--task-start', store, '--task', 'bycli']), /task bycli: recording from sequence \d+ \(every host\)/);
  const sinceS = Date.now() / 1000;
  await traffic('cli');
  const untilS = Date.now() / 1000 - 0.3;
  assert.match(await tcpcopy(['--task-stop', store, '--task', 'bycli']), /task bycli: stopped, sequences \d+\.\.\d+/);
  await traffic('none3');
  const metrics = (await lab.exec(net.online, 'curl', ['-sf', 'http://127.0.0.1:9109/metrics'])).stdout;
  assert.match(metrics, /^tcpcopy_recorder_stored_packets_total [1-9]\d*$/m);
  assert.match(metrics, /^tcpcopy_recorder_store_drops_away_total 0$/m);
  const stopped = await stopRecorder(rec);
  assert.equal(stopped.code, 0, stopped.stderr);

  const list = await tcpcopy(['--tasks', store]);
  t.diagnostic(list);
  for (const name of ['byhttp', sigTask, 'bycli']) assert.match(list, new RegExp(`\\n${name}\\s+stopped\\s`), list);
  assert.match(list, /\nbyhttp\s+stopped\s+\S+\s+web1\s+(\d+)/);

  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  const online = web.readAccessLog().map((e) => e.path);
  for (const [task, tag] of [
    ['byhttp', 'http'],
    [sigTask, 'signal'],
    ['bycli', 'cli'],
  ] as const) {
    const before = target.readAccessLog().length;
    const run = await runTcpcopy(lab, net.online, ['-x', x, '-s', net.targetIp, '-i', `${store}?task=${task}`, '--quiet', '--end-grace', '1000', '-a', '5']);
    assert.equal(run.code, 0, `${task}: ${describeRun(run)}`);
    const want = online.filter((p) => p.startsWith(`/${tag}/`));
    await waitCount(() => target.readAccessLog().length - before, want.length, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const got = target.readAccessLog().slice(before).map((e) => e.path);
    assert.deepEqual(multisetMinus(want, got), [], `${task}: its window's requests`);
    assert.deepEqual(multisetMinus(got, want), [], `${task}: nothing from outside its window`);
  }
  // The same window as a capture-time range (since/until, epoch seconds).
  const before = target.readAccessLog().length;
  const run = await runTcpcopy(lab, net.online, ['-x', x, '-s', net.targetIp, '-i', `${store}?since=${sinceS.toFixed(3)}&until=${untilS.toFixed(3)}`, '--quiet', '--end-grace', '1000', '-a', '5']);
  assert.equal(run.code, 0, `since/until: ${describeRun(run)}`);
  const want = online.filter((p) => p.startsWith('/cli/'));
  await waitCount(() => target.readAccessLog().length - before, want.length, 10_000);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(multisetMinus(target.readAccessLog().slice(before).map((e) => e.path), want), [], 'since/until: nothing from outside the window');
  assert.deepEqual(multisetMinus(want, target.readAccessLog().slice(before).map((e) => e.path)), [], 'since/until: the window');
});

test('copying live while recording into the store: the copy reaches the test server, the task (started over the copier metrics port) replays the same requests', { skip, timeout: 120_000 }, async (t) => {
  const lab = await labFor(t, { name: 'store-copy' });
  const net = await liveNet(lab, 4);
  const nats = await startNats(lab, net.online);
  const web = await startNginx(lab, net.online, { port: 80, bind: net.onlineIp });
  const target = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  await startIntercept(lab, net.target, [80]);
  const store = `nats://127.0.0.1:${nats.port}/web`;
  const x = `80-${net.targetIp}:80`;
  const copier = await startLiveCopier(lab, net.online, ['-i', net.onlineIf, '-x', x, '-s', net.targetIp, '--record', `${store}?host=web1`, '--metrics-port', '9111']);
  await copier.proc.waitFor(/metrics on http:\/\/127\.0\.0\.1:9111\/metrics/, 'stderr', 5000);
  const start = await lab.exec(net.online, 'curl', ['-sf', '-X', 'POST', 'http://127.0.0.1:9111/tasks/live1/start']);
  assert.match(start.stdout, /"name":"live1","stream":"web","state":"recording"/);
  const clients = await curlJobs(lab, net.client, mixedJobs(net.clientIps, `http://${net.onlineIp}`, 'copy', 40));
  assert.deepEqual(clients.errors, []);
  await waitCount(() => target.readAccessLog().length, 40);
  await new Promise((r) => setTimeout(r, 300));
  const metrics = (await lab.exec(net.online, 'curl', ['-sf', 'http://127.0.0.1:9111/metrics'])).stdout;
  assert.match(metrics, /^tcpcopy_copier_stored_packets_total [1-9]\d*$/m, 'the store counters are on the copier endpoint');
  const run = await copier.stop();
  assert.equal(run.code, 0, run.stderr.slice(-3000));
  const online = web.readAccessLog().map((e) => e.path);
  assert.deepEqual(multisetMinus(online, target.readAccessLog().map((e) => e.path)), [], 'the live copy');
  assert.match(run.stderr, /task live1: recording \(started by http/);
  assert.match(run.stderr, /store recording: \d+ frames captured, \d+ stored .* not stored: store-away 0, store-busy 0, store-error 0/);

  // live1 was started over HTTP (not by --task): it stays recording until stopped.
  const stop = await lab.exec(net.online, process.execPath, [cliPath('tcpcopy'), '--task-stop', store, '--task', 'live1']);
  assert.match(stop.stdout, /task live1: stopped/);
  const before = target.readAccessLog().length;
  const replay = await runTcpcopy(lab, net.online, ['-x', x, '-s', net.targetIp, '-i', `${store}?task=live1`, '--quiet', '--end-grace', '1000', '-a', '5']);
  assert.equal(replay.code, 0, describeRun(replay));
  await waitCount(() => target.readAccessLog().length - before, 40, 10_000);
  assert.deepEqual(multisetMinus(online, target.readAccessLog().slice(before).map((e) => e.path)), [], 'the task replays what was copied');
});
