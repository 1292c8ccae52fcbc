// Issue 5, scenarios 1 and 4: a recorded HTTP workload (short and keep-alive connections, many
// client addresses) replayed by tcpcopy + intercept into nginx in a target namespace. The target's
// own access log must hold exactly the recorded paths, all 200; every session must complete; and
// tcpdump on the copier side must see no response leak towards a fake client address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { labFor, requireRoot } from '../helpers/lab.js';
import { startNginx, startTcpdump, tcpdumpRead } from '../helpers/servers.js';
import { CaptureFileReader } from '../../src/io/pcap-file.js';
import { describeRun, multisetMinus, recordLossless, replayTarget, runTcpcopy } from './replay-lab.js';

const skip = requireRoot();

test('HTTP replay into nginx: same request multiset, all 200, every session completed, no leak', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-http' });
  const rec = await recordLossless(lab, {
    aliases: 40,
    http: { connections: 420, requestsPerConn: [1, 3, 5, 1, 4], postEvery: 7, postBytes: 3000 },
    rate: 400,
    concurrency: 48,
  });
  assert.equal(rec.truth.errors, 0);
  const recorded = rec.truth.httpRequests.map((r) => `${r.method} ${r.path}`);
  assert.ok(recorded.length >= 1000, `recorded ${recorded.length} requests`);
  const shortConns = rec.truth.connections.filter((c) => c.items.length === 1).length;
  const keepAlive = rec.truth.connections.filter((c) => c.items.length > 1).length;
  assert.ok(shortConns > 50 && keepAlive > 50, `${shortConns} short, ${keepAlive} keep-alive connections`);

  const { net } = await replayTarget(lab, [80]);
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  // Leak check: anything from the service port towards the copier side is a response that
  // escaped the interceptor (the fake clients live "behind" the copier).
  const leakFile = join(lab.tmpDir, 'leak.pcap');
  const dump = await startTcpdump(lab, net.copier, net.copierIf, 'tcp src port 80', leakFile);

  const run = await runTcpcopy(lab, net.copier, ['-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap, '--quiet']);
  await dump.stop();
  assert.equal(run.code, 0, describeRun(run));

  const conns = rec.truth.connections.length;
  assert.equal(run.summary.started, conns, describeRun(run));
  assert.equal(run.summary.outcomes.completed, conns, describeRun(run));
  assert.deepEqual(Object.keys(run.summary.outcomes), ['completed'], describeRun(run));

  // Give nginx a moment to write the last lines, then compare with the recording.
  await new Promise((r) => setTimeout(r, 300));
  const log = nginx.readAccessLog();
  const replayed = log.map((e) => `${e.method} ${e.path}`);
  const missing = multisetMinus(recorded, replayed);
  const extra = multisetMinus(replayed, recorded);
  assert.deepEqual(missing, [], `missing at the target (${missing.length}): ${missing.slice(0, 5).join(', ')}\n${describeRun(run)}`);
  assert.deepEqual(extra, [], `unexpected at the target (${extra.length}): ${extra.slice(0, 5).join(', ')}`);
  const bad = log.filter((e) => e.status !== 200);
  assert.equal(bad.length, 0, `non-200: ${JSON.stringify(bad.slice(0, 3))}`);
  // Requests came from the captured client addresses (no -c), so the target saw many clients.
  const sources = new Set(log.map((e) => e.remoteAddr));
  assert.equal(sources.size, rec.pair.clientIps.length);

  const leaks = (await tcpdumpRead(lab, leakFile, ['-nn'])).split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(leaks.slice(0, 5), [], `${leaks.length} response packets leaked to the copier side`);
});

test('HTTP replay of a capture made with offload on (TSO super-packets, partial checksums) and 20 kB POST bodies', { skip, timeout: 180_000 }, async (t) => {
  const lab = await labFor(t, { name: 'replay-tso' });
  const rec = await recordLossless(lab, {
    aliases: 10,
    offload: true,
    http: { connections: 120, requestsPerConn: [1, 3, 2], postEvery: 2, postBytes: 20_000 },
    rate: 200,
    concurrency: 16,
  });
  assert.equal(rec.truth.errors, 0);
  const recorded = rec.truth.httpRequests.map((r) => `${r.method} ${r.path}`);
  assert.ok(recorded.some((r) => r.startsWith('POST ')));
  let biggest = 0;
  for (const r of CaptureFileReader.open(rec.pcap)) biggest = Math.max(biggest, r.capLen);
  assert.ok(biggest > 1514, `the capture holds super-packets (largest frame ${biggest} bytes)`);
  const { net } = await replayTarget(lab, [80]);
  const nginx = await startNginx(lab, net.target, { port: 80, bind: net.targetIp });
  const run = await runTcpcopy(lab, net.copier, ['-x', `80-${net.targetIp}:80`, '-s', net.targetIp, '-i', rec.pcap, '--quiet']);
  assert.equal(run.code, 0, describeRun(run));
  assert.equal(run.summary.outcomes.completed, rec.truth.connections.length, describeRun(run));
  await new Promise((r) => setTimeout(r, 300));
  const log = nginx.readAccessLog();
  const replayed = log.map((e) => `${e.method} ${e.path}`);
  assert.deepEqual(multisetMinus(recorded, replayed).slice(0, 5), [], 'requests missing at the target');
  assert.deepEqual(multisetMinus(replayed, recorded).slice(0, 5), [], 'unexpected requests at the target');
  assert.ok(log.every((e) => e.status === 200), JSON.stringify(log.filter((e) => e.status !== 200).slice(0, 3)));
});
